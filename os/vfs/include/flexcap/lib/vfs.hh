// vfs — the file API applications use: paths, descriptors, and the locks SQLite needs,
// over a file system micro-library (ramfs). Capability-native like ramfs: paths and data
// cross as Cap<T>, read-only where only read.
#pragma once

#include <cstddef>
#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::vfs {
FLEXCAP_LIBRARY(vfs);

inline constexpr std::int64_t kBadPath = -22;  // paths are absolute: they start with '/'

class Exports {
  static std::int32_t open_impl(cap::Cap<const char> path, std::int32_t create);
  static std::int32_t close_impl(std::int32_t fd);
  static std::int64_t read_impl(std::int32_t fd, cap::Cap<std::byte> out, std::uint64_t offset);
  static std::int64_t write_impl(std::int32_t fd, cap::Cap<const std::byte> in, std::uint64_t offset);
  static std::int32_t truncate_impl(std::int32_t fd, std::uint64_t length);
  static std::int64_t size_impl(std::int32_t fd);
  static std::int32_t sync_impl(std::int32_t fd);
  static std::int32_t unlink_impl(cap::Cap<const char> path);
  static std::int32_t access_impl(cap::Cap<const char> path);
  static std::int32_t lock_impl(std::int32_t fd, std::int32_t level);
  static std::int32_t reserved_impl(std::int32_t fd);

 public:
  FLEXCAP_EXPORT(open, open_impl);
  FLEXCAP_EXPORT(close, close_impl);
  FLEXCAP_EXPORT(read, read_impl);
  FLEXCAP_EXPORT(write, write_impl);
  FLEXCAP_EXPORT(truncate, truncate_impl);
  FLEXCAP_EXPORT(size, size_impl);
  FLEXCAP_EXPORT(sync, sync_impl);  // ramfs keeps nothing to flush: 0
  FLEXCAP_EXPORT(unlink, unlink_impl);
  FLEXCAP_EXPORT(access, access_impl);      // 1 if the path exists
  FLEXCAP_EXPORT(lock, lock_impl);          // sets the descriptor's lock level (SQLite's 0..4)
  FLEXCAP_EXPORT(reserved, reserved_impl);  // 1 if any descriptor of the file holds RESERVED or more
};

}  // namespace flexcap::lib::vfs
