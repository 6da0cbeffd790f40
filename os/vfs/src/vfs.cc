#include "flexcap/lib/vfs.hh"

#include <array>

#include "flexcap/lib/ramfs.hh"
#include "flexcap/rt/call.hh"

namespace flexcap::lib::vfs {
namespace {

constexpr std::size_t kMaxOpen = 64;
constexpr std::int32_t kReserved = 2;  // SQLite's RESERVED lock level

// Lock levels per descriptor. One process runs SQLite, so a descriptor's own level is
// all `reserved` needs to know.
struct State {
  std::array<std::int32_t, kMaxOpen> level{};
};
State& state() { return rt::library_state<Library, State>(); }

// Values from ramfs are verified against what they can be before they are used.
template <class R>
std::int64_t result_of(const R& r, std::int64_t fallback) {
  return r ? static_cast<std::int64_t>(r->unsafe_unverified()) : fallback;
}

bool absolute(const cap::Cap<const char>& path) {
  auto first = path.load(0);
  return first && *first == '/';
}

bool valid_fd(std::int32_t fd) { return fd >= 0 && static_cast<std::size_t>(fd) < kMaxOpen; }

}  // namespace

std::int32_t Exports::open_impl(cap::Cap<const char> path, std::int32_t create) {
  if (!absolute(path)) return static_cast<std::int32_t>(kBadPath);
  const std::int64_t fd = result_of(rt::call<ramfs::Exports::open>(path, create), ramfs::kInvalid);
  if (valid_fd(static_cast<std::int32_t>(fd))) state().level[static_cast<std::size_t>(fd)] = 0;
  return static_cast<std::int32_t>(fd);
}

std::int32_t Exports::close_impl(std::int32_t fd) {
  if (valid_fd(fd)) state().level[static_cast<std::size_t>(fd)] = 0;
  return static_cast<std::int32_t>(result_of(rt::call<ramfs::Exports::close>(fd), ramfs::kBadDescriptor));
}

std::int64_t Exports::read_impl(std::int32_t fd, cap::Cap<std::byte> out, std::uint64_t offset) {
  const auto r = rt::call<ramfs::Exports::read>(fd, out, offset);
  return r ? r->verify([&](std::int64_t n) {
                return n < 0 || static_cast<std::uint64_t>(n) <= out.size();
              }).value_or(ramfs::kInvalid)
           : ramfs::kInvalid;
}

std::int64_t Exports::write_impl(std::int32_t fd, cap::Cap<const std::byte> in, std::uint64_t offset) {
  return result_of(rt::call<ramfs::Exports::write>(fd, in, offset), ramfs::kInvalid);
}

std::int32_t Exports::truncate_impl(std::int32_t fd, std::uint64_t length) {
  return static_cast<std::int32_t>(result_of(rt::call<ramfs::Exports::truncate>(fd, length), ramfs::kInvalid));
}

std::int64_t Exports::size_impl(std::int32_t fd) {
  return result_of(rt::call<ramfs::Exports::size>(fd), ramfs::kBadDescriptor);
}

std::int32_t Exports::sync_impl(std::int32_t fd) {
  return valid_fd(fd) ? 0 : static_cast<std::int32_t>(ramfs::kBadDescriptor);
}

std::int32_t Exports::unlink_impl(cap::Cap<const char> path) {
  if (!absolute(path)) return static_cast<std::int32_t>(kBadPath);
  return static_cast<std::int32_t>(result_of(rt::call<ramfs::Exports::remove>(path), ramfs::kInvalid));
}

std::int32_t Exports::rename_impl(cap::Cap<const char> from, cap::Cap<const char> to) {
  if (!absolute(from) || !absolute(to)) return static_cast<std::int32_t>(kBadPath);
  return static_cast<std::int32_t>(result_of(rt::call<ramfs::Exports::rename>(from, to), ramfs::kInvalid));
}

std::int32_t Exports::access_impl(cap::Cap<const char> path) {
  if (!absolute(path)) return 0;
  return static_cast<std::int32_t>(result_of(rt::call<ramfs::Exports::exists>(path), 0));
}

std::int32_t Exports::lock_impl(std::int32_t fd, std::int32_t level) {
  if (!valid_fd(fd) || level < 0 || level > 4) return static_cast<std::int32_t>(ramfs::kInvalid);
  state().level[static_cast<std::size_t>(fd)] = level;
  return 0;
}

std::int32_t Exports::reserved_impl(std::int32_t fd) {
  if (!valid_fd(fd)) return 0;
  return state().level[static_cast<std::size_t>(fd)] >= kReserved ? 1 : 0;
}

// ramfs applies each write in full, in memory, before it returns, and sets a file's
// size only after the bytes are copied.
std::int32_t Exports::guarantees_impl() { return kWritesInOrder | kAppendSafe | kOverwriteIsolated; }

}  // namespace flexcap::lib::vfs
