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

// What the file system guarantees about writes (the answer of `guarantees`), so that
// callers such as SQLite can skip work that only protects against weaker storage.
// Files live in memory in the file system's compartment: a write is complete and
// visible when its call returns, and survives a crash of the caller's compartment.
enum Guarantee : std::int32_t {
  kWritesInOrder = 1,       // writes take effect in the order they were made (no reordering)
  kAppendSafe = 2,          // a file grows only after the appended bytes are in place
  kOverwriteIsolated = 4,   // a write changes no byte outside its range
};

class Exports {
  static std::int32_t open_impl(cap::Cap<const char> path, std::int32_t create);
  static std::int32_t close_impl(std::int32_t fd);
  static std::int64_t read_impl(std::int32_t fd, cap::Cap<std::byte> out, std::uint64_t offset);
  static std::int64_t write_impl(std::int32_t fd, cap::Cap<const std::byte> in, std::uint64_t offset);
  static std::int32_t truncate_impl(std::int32_t fd, std::uint64_t length);
  static std::int64_t size_impl(std::int32_t fd);
  static std::int32_t sync_impl(std::int32_t fd);
  static std::int32_t unlink_impl(cap::Cap<const char> path);
  static std::int32_t rename_impl(cap::Cap<const char> from, cap::Cap<const char> to);
  static std::int32_t access_impl(cap::Cap<const char> path);
  static std::int32_t lock_impl(std::int32_t fd, std::int32_t level);
  static std::int32_t reserved_impl(std::int32_t fd);
  static std::int32_t guarantees_impl();

 public:
  FLEXCAP_EXPORT(open, open_impl);
  FLEXCAP_EXPORT(close, close_impl);
  FLEXCAP_EXPORT(read, read_impl);
  FLEXCAP_EXPORT(write, write_impl);
  FLEXCAP_EXPORT(truncate, truncate_impl);
  FLEXCAP_EXPORT(size, size_impl);
  FLEXCAP_EXPORT(sync, sync_impl);  // ramfs keeps nothing to flush: 0
  FLEXCAP_EXPORT(unlink, unlink_impl);
  FLEXCAP_EXPORT(rename, rename_impl);  // replaces `to` if it exists, as rename(2)
  FLEXCAP_EXPORT(access, access_impl);      // 1 if the path exists
  FLEXCAP_EXPORT(lock, lock_impl);          // sets the descriptor's lock level (SQLite's 0..4)
  FLEXCAP_EXPORT(reserved, reserved_impl);  // 1 if any descriptor of the file holds RESERVED or more
  FLEXCAP_EXPORT(guarantees, guarantees_impl);  // the Guarantee flags that hold for every file
};

}  // namespace flexcap::lib::vfs
