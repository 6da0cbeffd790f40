// ramfs — an in-memory file system whose files live in its compartment's heap, in
// chunks (a file may fill nearly the whole heap; a full heap is kNoSpace, not a fault).
//
// Capability-native: a path is a Cap<const char> bounded to exactly its characters;
// data moves as Cap<std::byte> (read: the callee writes it) or Cap<const std::byte>
// (write: the callee only reads it). Results are byte counts, file descriptors, or a
// negative error code (kNotFound, kNoSpace, kBadDescriptor, kInvalid).
#pragma once

#include <cstddef>
#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::ramfs {
FLEXCAP_LIBRARY(ramfs);

inline constexpr std::int64_t kNotFound = -2;
inline constexpr std::int64_t kNoSpace = -28;
inline constexpr std::int64_t kBadDescriptor = -9;
inline constexpr std::int64_t kInvalid = -22;
inline constexpr std::size_t kMaxPath = 255;

class Exports {
  static std::int32_t open_impl(cap::Cap<const char> path, std::int32_t create);
  static std::int32_t close_impl(std::int32_t fd);
  static std::int64_t read_impl(std::int32_t fd, cap::Cap<std::byte> out, std::uint64_t offset);
  static std::int64_t write_impl(std::int32_t fd, cap::Cap<const std::byte> in, std::uint64_t offset);
  static std::int32_t truncate_impl(std::int32_t fd, std::uint64_t size);
  static std::int64_t size_impl(std::int32_t fd);
  static std::int32_t remove_impl(cap::Cap<const char> path);
  static std::int32_t rename_impl(cap::Cap<const char> from, cap::Cap<const char> to);
  static std::int32_t exists_impl(cap::Cap<const char> path);
  static std::int32_t fault_after_impl(std::int32_t writes);

 public:
  FLEXCAP_EXPORT(open, open_impl);  // create != 0 creates a missing file
  FLEXCAP_EXPORT(close, close_impl);
  FLEXCAP_EXPORT(read, read_impl);  // bytes read (short at the end of the file)
  FLEXCAP_EXPORT(write, write_impl);
  FLEXCAP_EXPORT(truncate, truncate_impl);
  FLEXCAP_EXPORT(size, size_impl);
  FLEXCAP_EXPORT(remove, remove_impl);
  // `from` takes the name `to`, replacing the file of that name (whose open descriptors
  // close, as remove's do); descriptors open on `from` stay open on it.
  FLEXCAP_EXPORT(rename, rename_impl);
  FLEXCAP_EXPORT(exists, exists_impl);  // 1 or 0
  // Test switch (the fault-containment tests): after `writes` more writes, the next one
  // faults as a wild read in the file system would; -1 disarms it. Only images whose
  // code calls it can reach it (the cheri switcher grants no entry to anyone else).
  FLEXCAP_EXPORT(fault_after, fault_after_impl);
};

}  // namespace flexcap::lib::ramfs
