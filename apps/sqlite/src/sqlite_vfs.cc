#include "flexcap/lib/sqlite_vfs.hh"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>

#include "flexcap/lib/ramfs.hh"
#include "flexcap/lib/time.hh"
#include "flexcap/lib/vfs.hh"
#include "flexcap/rt/call.hh"

namespace flexcap::lib::sqlite {
namespace {

// The micro-library this adaptor is built into (`sqlite`, or `sqlite_service` in the
// crash test's image): its state lives in that library's compartment.
struct HostLibrary {
  static constexpr std::string_view name = FLEXCAP_CURRENT_LIBRARY;
};

namespace fs = lib::vfs;
namespace clock = lib::time;

constexpr std::size_t kTransfer = 64 * 1024;  // the shared buffer; larger transfers go in pieces

// Shared memory for one transfer, reused by every call: paths and file data.
cap::Cap<std::byte>& transfer_buffer() {
  static cap::Cap<std::byte> buffer = rt::shared_alloc(kTransfer);
  return buffer;
}

// A capability to exactly the path's characters, in the shared region.
cap::Cap<const char> path_capability(const char* path) {
  const std::size_t n = std::min(std::strlen(path), ramfs::kMaxPath);
  cap::Cap<std::byte>& buffer = transfer_buffer();
  rt::check(buffer.copy_in(0, std::span<const std::byte>(reinterpret_cast<const std::byte*>(path), n)));
  return cap::Cap<const char>(buffer.capability().set_bounds_exact(n), buffer.memory());
}

// The result of a call into the file system, or `fallback` if the gate failed.
template <class T, class R>
T value_or(const R& r, T fallback) {
  return r ? static_cast<T>(r->unsafe_unverified()) : fallback;
}

struct FlexcapFile {
  sqlite3_file base;  // must be first: SQLite casts between the two
  int fd;
  int lock;
};

// Write coalescing. SQLite writes a journal record as three adjacent writes (page
// number, page, checksum) and dirty pages in order, so consecutive writes that continue
// one another are gathered in the shared transfer buffer and cross the gate as one.
// Any other file operation first sends what is gathered, so the file system sees every
// write before anything that could observe it, in the order SQLite made them. A crash
// of SQLite's compartment loses only writes that no sync, lock or read has followed,
// which SQLite's recovery already treats as possibly lost.
struct PendingWrite {
  int fd = -1;
  std::uint64_t offset = 0;  // where the gathered bytes go in the file
  std::size_t bytes = 0;     // gathered so far, at the start of the transfer buffer
};
// Kept in the library's state, so a restarted SQLite compartment starts with nothing
// gathered rather than sending its crashed predecessor's writes.
struct AdaptorState {
  PendingWrite pending;
};
PendingWrite& gathered() { return rt::library_state<HostLibrary, AdaptorState>().pending; }

// Sends the gathered writes: true if the file system took them all (or there were none).
bool send_pending() {
  PendingWrite& pending = gathered();
  if (pending.bytes == 0) return true;
  cap::Cap<std::byte>& buffer = transfer_buffer();
  // The file system only reads this buffer: a read-only capability to exactly the bytes.
  const cap::Cap<const std::byte> window(buffer.capability().set_bounds_exact(pending.bytes), buffer.memory());
  const auto r = rt::call<fs::Exports::write>(pending.fd, window, pending.offset);
  const bool ok = value_or<std::int64_t>(r, -1) == static_cast<std::int64_t>(pending.bytes);
  pending = {};
  return ok;
}

int x_close(sqlite3_file* file) {
  auto* f = reinterpret_cast<FlexcapFile*>(file);
  const bool sent = send_pending();
  (void)rt::call<fs::Exports::close>(f->fd);
  return sent ? SQLITE_OK : SQLITE_IOERR_WRITE;
}

int x_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  auto* f = reinterpret_cast<FlexcapFile*>(file);
  if (!send_pending()) return SQLITE_IOERR_WRITE;
  auto* into = static_cast<std::byte*>(out);
  std::size_t done = 0;
  const auto total = static_cast<std::size_t>(amount);
  while (done < total) {
    const std::size_t n = std::min(kTransfer, total - done);
    cap::Cap<std::byte>& buffer = transfer_buffer();
    const cap::Cap<std::byte> window(buffer.capability().set_bounds_exact(n), buffer.memory());
    const auto r = rt::call<fs::Exports::read>(f->fd, window, static_cast<std::uint64_t>(offset) + done);
    // Verify what the file system claims: a count within what was asked.
    const std::int64_t got =
        r ? r->verify([&](std::int64_t v) { return v >= 0 && static_cast<std::size_t>(v) <= n; }).value_or(-1) : -1;
    if (got < 0) return SQLITE_IOERR_READ;
    rt::check(window.copy_out(0, std::span<std::byte>(into + done, static_cast<std::size_t>(got))));
    done += static_cast<std::size_t>(got);
    if (static_cast<std::size_t>(got) < n) {
      std::memset(into + done, 0, total - done);  // SQLite requires the rest zeroed
      return SQLITE_IOERR_SHORT_READ;
    }
  }
  return SQLITE_OK;
}

int x_write(sqlite3_file* file, const void* in, int amount, sqlite3_int64 offset) {
  auto* f = reinterpret_cast<FlexcapFile*>(file);
  const auto* from = static_cast<const std::byte*>(in);
  const auto at = static_cast<std::uint64_t>(offset);
  const auto total = static_cast<std::size_t>(amount);
  PendingWrite& pending = gathered();
  const bool continues = pending.bytes > 0 && pending.fd == f->fd && pending.offset + pending.bytes == at;
  if (!continues || pending.bytes + total > kTransfer) {
    if (!send_pending()) return SQLITE_IOERR_WRITE;
  }
  std::size_t done = 0;
  while (done < total) {
    if (pending.bytes == kTransfer && !send_pending()) return SQLITE_IOERR_WRITE;
    if (pending.bytes == 0) pending = {f->fd, at + done, 0};
    const std::size_t n = std::min(kTransfer - pending.bytes, total - done);
    rt::check(transfer_buffer().copy_in(pending.bytes, std::span<const std::byte>(from + done, n)));
    pending.bytes += n;
    done += n;
  }
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  auto* f = reinterpret_cast<FlexcapFile*>(file);
  if (!send_pending()) return SQLITE_IOERR_WRITE;
  const auto r = rt::call<fs::Exports::truncate>(f->fd, static_cast<std::uint64_t>(size));
  return value_or<int>(r, -1) == 0 ? SQLITE_OK : SQLITE_IOERR_TRUNCATE;
}

int x_sync(sqlite3_file* file, int) {
  auto* f = reinterpret_cast<FlexcapFile*>(file);
  if (!send_pending()) return SQLITE_IOERR_WRITE;
  return value_or<int>(rt::call<fs::Exports::sync>(f->fd), -1) == 0 ? SQLITE_OK : SQLITE_IOERR_FSYNC;
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  auto* f = reinterpret_cast<FlexcapFile*>(file);
  if (!send_pending()) return SQLITE_IOERR_WRITE;
  const std::int64_t n = value_or<std::int64_t>(rt::call<fs::Exports::size>(f->fd), -1);
  if (n < 0) return SQLITE_IOERR_FSTAT;
  *size = n;
  return SQLITE_OK;
}

// The lock levels live in vfs (one process runs SQLite: remembering them is enough).
int x_lock(sqlite3_file* file, int level) {
  auto* f = reinterpret_cast<FlexcapFile*>(file);
  if (!send_pending()) return SQLITE_IOERR_WRITE;
  return value_or<int>(rt::call<fs::Exports::lock>(f->fd, level), -1) == 0 ? SQLITE_OK : SQLITE_IOERR_LOCK;
}
int x_unlock(sqlite3_file* file, int level) {
  auto* f = reinterpret_cast<FlexcapFile*>(file);
  if (!send_pending()) return SQLITE_IOERR_WRITE;
  return value_or<int>(rt::call<fs::Exports::lock>(f->fd, level), -1) == 0 ? SQLITE_OK : SQLITE_IOERR_UNLOCK;
}
int x_check_reserved(sqlite3_file* file, int* reserved) {
  auto* f = reinterpret_cast<FlexcapFile*>(file);
  if (!send_pending()) return SQLITE_IOERR_WRITE;
  *reserved = value_or<int>(rt::call<fs::Exports::reserved>(f->fd), 0);
  return SQLITE_OK;
}
int x_file_control(sqlite3_file*, int, void*) { return SQLITE_NOTFOUND; }
int x_sector_size(sqlite3_file*) { return 512; }

// What vfs guarantees, in SQLite's terms: asked once, since it holds for every file.
// In-order writes (SEQUENTIAL) spare SQLite the journal syncs; safe appends spare it
// rewriting the journal header; isolated overwrites spare it padding sectors.
int x_device_characteristics(sqlite3_file*) {
  static const int characteristics = [] {
    const std::int32_t g = value_or<std::int32_t>(rt::call<fs::Exports::guarantees>(), 0);
    return ((g & fs::kWritesInOrder) != 0 ? SQLITE_IOCAP_SEQUENTIAL : 0) |
           ((g & fs::kAppendSafe) != 0 ? SQLITE_IOCAP_SAFE_APPEND : 0) |
           ((g & fs::kOverwriteIsolated) != 0 ? SQLITE_IOCAP_POWERSAFE_OVERWRITE : 0);
  }();
  return characteristics;
}

const sqlite3_io_methods kIoMethods = {1,
                                       x_close,
                                       x_read,
                                       x_write,
                                       x_truncate,
                                       x_sync,
                                       x_file_size,
                                       x_lock,
                                       x_unlock,
                                       x_check_reserved,
                                       x_file_control,
                                       x_sector_size,
                                       x_device_characteristics,
                                       nullptr,
                                       nullptr,
                                       nullptr,
                                       nullptr,
                                       nullptr,
                                       nullptr};

int temp_counter = 0;

int x_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = reinterpret_cast<FlexcapFile*>(file);
  f->base.pMethods = nullptr;
  char temp[64];
  if (name == nullptr) {  // a temporary file SQLite names itself
    sqlite3_snprintf(sizeof(temp), temp, "/tmp/flexcap-temp-%d", ++temp_counter);
    name = temp;
  }
  if (!send_pending()) return SQLITE_IOERR_WRITE;
  const int create = (flags & SQLITE_OPEN_CREATE) != 0 ? 1 : 0;
  const int fd = value_or<int>(rt::call<fs::Exports::open>(path_capability(name), create), -1);
  if (fd < 0) return SQLITE_CANTOPEN;
  f->fd = fd;
  f->lock = SQLITE_LOCK_NONE;
  f->base.pMethods = &kIoMethods;
  if (out_flags != nullptr) *out_flags = flags;
  return SQLITE_OK;
}

int x_delete(sqlite3_vfs*, const char* name, int) {
  if (!send_pending()) return SQLITE_IOERR_WRITE;
  (void)rt::call<fs::Exports::unlink>(path_capability(name));
  return SQLITE_OK;
}

int x_access(sqlite3_vfs*, const char* name, int, int* result) {
  if (!send_pending()) return SQLITE_IOERR_WRITE;
  *result = value_or<int>(rt::call<fs::Exports::access>(path_capability(name)), 0);
  return SQLITE_OK;
}

int x_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  sqlite3_snprintf(size, out, "%s", name);
  return SQLITE_OK;
}

int x_randomness(sqlite3_vfs*, int bytes, char* out) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>(i * 131 + 7);  // reproducible images
  return bytes;
}

int x_sleep(sqlite3_vfs*, int microseconds) {
  (void)rt::call<clock::Exports::sleep_us>(std::int64_t{microseconds});
  return microseconds;
}

int x_current_time(sqlite3_vfs*, double* now) {
  const std::int64_t ms = value_or<std::int64_t>(rt::call<clock::Exports::now_ms>(), 0);
  *now = 2440587.5 + static_cast<double>(ms) / 86400000.0;  // Julian day
  return SQLITE_OK;
}

int x_get_last_error(sqlite3_vfs*, int, char*) { return 0; }

sqlite3_vfs kVfs = {1,
                    sizeof(FlexcapFile),
                    static_cast<int>(ramfs::kMaxPath),
                    nullptr,
                    "flexcap",
                    nullptr,
                    x_open,
                    x_delete,
                    x_access,
                    x_full_pathname,
                    nullptr,
                    nullptr,
                    nullptr,
                    nullptr,
                    x_randomness,
                    x_sleep,
                    x_current_time,
                    x_get_last_error,
                    nullptr,
                    nullptr,
                    nullptr,
                    nullptr};

}  // namespace

int register_flexcap_vfs() { return sqlite3_vfs_register(&kVfs, 1); }

}  // namespace flexcap::lib::sqlite
