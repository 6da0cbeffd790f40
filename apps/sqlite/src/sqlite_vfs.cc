#include "flexcap/lib/sqlite_vfs.hh"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <utility>

#include "flexcap/cc/hybrid_runtime.hh"
#include "flexcap/lib/ramfs.hh"
#include "flexcap/lib/time.hh"
#include "flexcap/lib/vfs.hh"
#include "flexcap/rt/call.hh"
#include "flexcap/rt/overlap.h"

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

// Under `sharing: overlap` (PLOS'23's second way of sharing, as FlexOS on Morello
// isolated SQLite's file system) the transfer buffer is this global, in the region that
// SQLite's DDC shares with the next compartment's (the file system's): both reach it,
// no other compartment does, and the image's shared region is not used. Under any other
// sharing it stays among this library's private globals, unused.
alignas(64) FLEXCAP_OVERLAP_SHARED std::byte g_overlap_transfer[kTransfer];

// Shared memory for one transfer, reused by every call: paths and file data, handed to
// the file system as a capability. 64 KiB is a representable length: its capability is
// exact (the allocator and the global above align it as that needs).
cap::Cap<std::byte> make_transfer_buffer() {
  const rt::Compartment& home = rt::Runtime::get().compartment(rt::Runtime::current());
  if (home.spec().sharing != rt::Sharing::Overlap) return rt::shared_alloc(kTransfer);
  // Derived from SQLite's DDC, which reaches the overlap region; ordinary memory (no
  // tags: only bytes go through it).
  return cap::Cap<std::byte>(home.data_capability()
                                 .set_value(reinterpret_cast<std::uint64_t>(g_overlap_transfer))
                                 .set_bounds_exact(kTransfer));
}

cap::Cap<std::byte>& transfer_buffer() {
  static cap::Cap<std::byte> buffer = make_transfer_buffer();
  return buffer;
}

// A capability to exactly the path's characters, in the shared region.
cap::Cap<const char> path_capability(const char* path) {
  const std::size_t n = std::min(std::strlen(path), ramfs::kMaxPath);
  cc::check_range(path, n + 1, FLEXCAP_HYBRID_LOAD);
  cap::Cap<std::byte>& buffer = transfer_buffer();
  rt::check(buffer.copy_in(0, std::span<const std::byte>(reinterpret_cast<const std::byte*>(path), n)));
  return cap::Cap<const char>(buffer.capability().set_bounds_exact(n), buffer.memory());
}

struct FlexcapFile {
  sqlite3_file base;  // must be first: SQLite casts between the two
  int fd;
  bool delete_on_close;
  char path[ramfs::kMaxPath + 1];  // for delete_on_close
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
// SQLite's view of the adaptor (its sqlite3_vfs and sqlite3_io_methods) is here too:
// SQLite reads them, so in cheri images, where SQLite is hybrid, they must lie inside
// its DDC, in its compartment's heap, and not in the executable's data.
struct AdaptorState {
  PendingWrite pending;
  int temp_files = 0;      // names SQLite's anonymous temporary files
  std::string last_fault;  // why the file system last failed, for io_failure()
  bool registered = false;
  sqlite3_vfs vfs{};
  sqlite3_io_methods io_methods{};
  char vfs_name[8] = "flexcap";
};
AdaptorState& adaptor() { return rt::library_state<HostLibrary, AdaptorState>(); }

// The SQLite code for a failed call into the file system: the gate's error is kept, so
// that the image can say why the statement failed, beside SQLite's own message.
int gate_failure(const rt::GateError& error, int code) {
  adaptor().last_fault = error.describe();
  return code;
}

// What a file-system call's result means for SQLite: its own code for a full file
// system, `io_error` for any other failure (a refused or faulted gate included).
template <class R>
int status_of(const R& r, std::int64_t expected, int io_error) {
  if (!r) return gate_failure(r.error(), io_error);
  const auto value = static_cast<std::int64_t>(r->unsafe_unverified());
  if (value == expected) return SQLITE_OK;
  return value == ramfs::kNoSpace ? SQLITE_FULL : io_error;
}

// Sends the gathered writes, each piece a read-only capability to exactly its bytes (a
// transfer over 16 KiB whose length is not suitably aligned takes two pieces: one
// capability cannot bound it exactly). SQLITE_OK if the file system took them all.
int send_pending() {
  PendingWrite& pending = adaptor().pending;
  const PendingWrite sending = pending;
  pending = {};
  const cap::Cap<const std::byte> buffer = transfer_buffer().read_only();
  for (std::size_t sent = 0; sent < sending.bytes;) {
    const std::size_t n = buffer.exact_count(sent, sending.bytes - sent);
    const auto window = rt::check(buffer.slice(sent, n));
    const auto r = rt::call<fs::Exports::write>(sending.fd, window, sending.offset + sent);
    if (const int status = status_of(r, static_cast<std::int64_t>(n), SQLITE_IOERR_WRITE); status != SQLITE_OK) {
      return status;
    }
    sent += n;
  }
  return SQLITE_OK;
}

// Every method SQLite calls runs inside this: SQLite is C, and nothing may unwind
// through its frames. A capability fault in the adaptor's own compartment (a
// CompartmentFault) becomes the method's I/O error code, and the statement fails.
template <class F>
int contained(int io_error, F&& method) {
  try {
    return method();
  } catch (const rt::CompartmentFault& fault) {
    adaptor().last_fault = "fault in the SQLite VFS adaptor: " + fault.cause;
  } catch (const std::exception& e) {
    adaptor().last_fault = std::string("error in the SQLite VFS adaptor: ") + e.what();
  }
  adaptor().pending = {};
  return io_error;
}

// SQLite's file object, which it allocated in its memory: the adaptor touches it on
// SQLite's behalf, so it checks it against SQLite's DDC first, as hybrid code would.
FlexcapFile* file_of(sqlite3_file* file) {
  cc::check_range(file, sizeof(FlexcapFile), FLEXCAP_HYBRID_LOAD_STORE);
  return reinterpret_cast<FlexcapFile*>(file);
}

// The same for a buffer or a result SQLite hands the adaptor.
template <class T>
T* sqlite_memory(T* p, std::size_t bytes, flexcap_hybrid_access access) {
  cc::check_range(p, bytes, access);
  return p;
}

int x_close(sqlite3_file* file) {
  return contained(SQLITE_IOERR_CLOSE, [&] {
    FlexcapFile* f = file_of(file);
    const int sent = send_pending();
    const auto closed = rt::call<fs::Exports::close>(f->fd);
    int status = sent != SQLITE_OK ? sent : status_of(closed, 0, SQLITE_IOERR_CLOSE);
    if (f->delete_on_close) {
      const auto removed = rt::call<fs::Exports::unlink>(path_capability(f->path));
      if (status == SQLITE_OK) status = status_of(removed, 0, SQLITE_IOERR_DELETE);
    }
    return status;
  });
}

int x_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  return contained(SQLITE_IOERR_READ, [&] {
    const FlexcapFile* f = file_of(file);
    if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
    const auto total = static_cast<std::size_t>(amount);
    auto* into = sqlite_memory(static_cast<std::byte*>(out), total, FLEXCAP_HYBRID_STORE);
    const cap::Cap<std::byte>& buffer = transfer_buffer();
    for (std::size_t done = 0; done < total;) {
      const std::size_t n = buffer.exact_count(0, std::min(kTransfer, total - done));
      const auto window = rt::check(buffer.slice(0, n));
      const auto r = rt::call<fs::Exports::read>(f->fd, window, static_cast<std::uint64_t>(offset) + done);
      if (!r) return gate_failure(r.error(), SQLITE_IOERR_READ);
      // Verify what the file system claims: a count within what was asked.
      const std::int64_t got =
          r->verify([&](std::int64_t v) { return v >= 0 && static_cast<std::size_t>(v) <= n; }).value_or(-1);
      if (got < 0) return SQLITE_IOERR_READ;
      rt::check(window.copy_out(0, std::span<std::byte>(into + done, static_cast<std::size_t>(got))));
      done += static_cast<std::size_t>(got);
      if (static_cast<std::size_t>(got) < n) {
        std::memset(into + done, 0, total - done);  // SQLite requires the rest zeroed
        return SQLITE_IOERR_SHORT_READ;
      }
    }
    return SQLITE_OK;
  });
}

int x_write(sqlite3_file* file, const void* in, int amount, sqlite3_int64 offset) {
  return contained(SQLITE_IOERR_WRITE, [&] {
    const FlexcapFile* f = file_of(file);
    const auto total = static_cast<std::size_t>(amount);
    const auto* from = sqlite_memory(static_cast<const std::byte*>(in), total, FLEXCAP_HYBRID_LOAD);
    const auto at = static_cast<std::uint64_t>(offset);
    PendingWrite& pending = adaptor().pending;
    const bool continues = pending.bytes > 0 && pending.fd == f->fd && pending.offset + pending.bytes == at;
    if (!continues || pending.bytes + total > kTransfer) {
      if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
    }
    for (std::size_t done = 0; done < total;) {
      if (pending.bytes == kTransfer) {
        if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
      }
      if (pending.bytes == 0) pending = {f->fd, at + done, 0};
      const std::size_t n = std::min(kTransfer - pending.bytes, total - done);
      rt::check(transfer_buffer().copy_in(pending.bytes, std::span<const std::byte>(from + done, n)));
      pending.bytes += n;
      done += n;
    }
    return SQLITE_OK;
  });
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  return contained(SQLITE_IOERR_TRUNCATE, [&] {
    if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
    const auto r = rt::call<fs::Exports::truncate>(file_of(file)->fd, static_cast<std::uint64_t>(size));
    return status_of(r, 0, SQLITE_IOERR_TRUNCATE);
  });
}

int x_sync(sqlite3_file* file, int) {
  return contained(SQLITE_IOERR_FSYNC, [&] {
    if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
    return status_of(rt::call<fs::Exports::sync>(file_of(file)->fd), 0, SQLITE_IOERR_FSYNC);
  });
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  return contained(SQLITE_IOERR_FSTAT, [&] {
    if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
    const auto r = rt::call<fs::Exports::size>(file_of(file)->fd);
    if (!r) return gate_failure(r.error(), SQLITE_IOERR_FSTAT);
    const std::int64_t n = r->verify([](std::int64_t v) { return v >= 0; }).value_or(-1);
    if (n < 0) return SQLITE_IOERR_FSTAT;
    *sqlite_memory(size, sizeof(*size), FLEXCAP_HYBRID_STORE) = n;
    return SQLITE_OK;
  });
}

// The lock levels live in vfs (one process runs SQLite: remembering them is enough).
int x_lock(sqlite3_file* file, int level) {
  return contained(SQLITE_IOERR_LOCK, [&] {
    if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
    return status_of(rt::call<fs::Exports::lock>(file_of(file)->fd, level), 0, SQLITE_IOERR_LOCK);
  });
}
int x_unlock(sqlite3_file* file, int level) {
  return contained(SQLITE_IOERR_UNLOCK, [&] {
    if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
    return status_of(rt::call<fs::Exports::lock>(file_of(file)->fd, level), 0, SQLITE_IOERR_UNLOCK);
  });
}
int x_check_reserved(sqlite3_file* file, int* reserved) {
  return contained(SQLITE_IOERR_CHECKRESERVEDLOCK, [&] {
    if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
    const auto r = rt::call<fs::Exports::reserved>(file_of(file)->fd);
    if (!r) return gate_failure(r.error(), SQLITE_IOERR_CHECKRESERVEDLOCK);
    *sqlite_memory(reserved, sizeof(*reserved), FLEXCAP_HYBRID_STORE) = r->unsafe_unverified() != 0 ? 1 : 0;
    return SQLITE_OK;
  });
}
int x_file_control(sqlite3_file*, int, void*) { return SQLITE_NOTFOUND; }
int x_sector_size(sqlite3_file*) { return 512; }

// What vfs guarantees, in SQLite's terms: asked once, since it holds for every file.
// In-order writes (SEQUENTIAL) spare SQLite the journal syncs; safe appends spare it
// rewriting the journal header; isolated overwrites spare it padding sectors.
int x_device_characteristics(sqlite3_file*) {
  static const int characteristics = [] {
    const auto r = rt::call<fs::Exports::guarantees>();
    const std::int32_t g = r ? r->unsafe_unverified() : 0;  // no guarantee claimed: SQLite's safest path
    return ((g & fs::kWritesInOrder) != 0 ? SQLITE_IOCAP_SEQUENTIAL : 0) |
           ((g & fs::kAppendSafe) != 0 ? SQLITE_IOCAP_SAFE_APPEND : 0) |
           ((g & fs::kOverwriteIsolated) != 0 ? SQLITE_IOCAP_POWERSAFE_OVERWRITE : 0);
  }();
  return characteristics;
}

// Copies the string `from` (SQLite's) into `to` (SQLite's, `size` bytes), cut to fit.
void copy_name(char* to, std::size_t size, const char* from) {
  const std::size_t n = std::min(std::strlen(from), size - 1);
  sqlite_memory(from, n + 1, FLEXCAP_HYBRID_LOAD);
  std::memcpy(sqlite_memory(to, n + 1, FLEXCAP_HYBRID_STORE), from, n);
  to[n] = '\0';
}

int x_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  return contained(SQLITE_CANTOPEN, [&] {
    FlexcapFile* f = file_of(file);
    f->base.pMethods = nullptr;
    if (name == nullptr) {  // a temporary file SQLite names itself (and deletes on close)
      std::snprintf(f->path, sizeof(f->path), "/tmp/flexcap-temp-%d", ++adaptor().temp_files);
    } else {
      copy_name(f->path, sizeof(f->path), name);
    }
    if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
    const int create = (flags & SQLITE_OPEN_CREATE) != 0 ? 1 : 0;
    const auto r = rt::call<fs::Exports::open>(path_capability(f->path), create);
    if (!r) return gate_failure(r.error(), SQLITE_CANTOPEN);
    const int fd = r->unsafe_unverified();
    if (fd < 0) return fd == ramfs::kNoSpace ? SQLITE_FULL : SQLITE_CANTOPEN;
    f->fd = fd;
    f->delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
    f->base.pMethods = &adaptor().io_methods;
    if (out_flags != nullptr) *sqlite_memory(out_flags, sizeof(*out_flags), FLEXCAP_HYBRID_STORE) = flags;
    return SQLITE_OK;
  });
}

int x_delete(sqlite3_vfs*, const char* name, int) {
  return contained(SQLITE_IOERR_DELETE, [&] {
    if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
    const auto r = rt::call<fs::Exports::unlink>(path_capability(name));
    if (!r) return gate_failure(r.error(), SQLITE_IOERR_DELETE);
    const std::int32_t v = r->unsafe_unverified();
    return v == 0 || v == ramfs::kNotFound ? SQLITE_OK : SQLITE_IOERR_DELETE;
  });
}

int x_access(sqlite3_vfs*, const char* name, int, int* result) {
  return contained(SQLITE_IOERR_ACCESS, [&] {
    if (const int sent = send_pending(); sent != SQLITE_OK) return sent;
    const auto r = rt::call<fs::Exports::access>(path_capability(name));
    if (!r) return gate_failure(r.error(), SQLITE_IOERR_ACCESS);
    *sqlite_memory(result, sizeof(*result), FLEXCAP_HYBRID_STORE) = r->unsafe_unverified() == 1 ? 1 : 0;
    return SQLITE_OK;
  });
}

int x_full_pathname(sqlite3_vfs*, const char* name, int size, char* out) {
  return contained(SQLITE_CANTOPEN, [&] {
    if (size <= 0) return SQLITE_CANTOPEN;
    copy_name(out, static_cast<std::size_t>(size), name);
    return SQLITE_OK;
  });
}

int x_randomness(sqlite3_vfs*, int bytes, char* out) {
  return contained(0, [&] {
    sqlite_memory(out, static_cast<std::size_t>(std::max(bytes, 0)), FLEXCAP_HYBRID_STORE);
    for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>(i * 131 + 7);  // reproducible images
    return bytes;
  });
}

int x_sleep(sqlite3_vfs*, int microseconds) {
  return contained(0, [&] {
    (void)rt::call<clock::Exports::sleep_us>(std::int64_t{microseconds});
    return microseconds;
  });
}

int x_current_time(sqlite3_vfs*, double* now) {
  return contained(SQLITE_ERROR, [&] {
    const auto r = rt::call<clock::Exports::now_ms>();
    if (!r) return gate_failure(r.error(), SQLITE_ERROR);
    *sqlite_memory(now, sizeof(*now), FLEXCAP_HYBRID_STORE) =
        2440587.5 + static_cast<double>(r->unsafe_unverified()) / 86400000.0;  // Julian day
    return SQLITE_OK;
  });
}

int x_get_last_error(sqlite3_vfs*, int, char*) { return 0; }

}  // namespace

// Once per life of the compartment: a restart clears SQLite's globals and this state.
int register_flexcap_vfs() {
  AdaptorState& state = adaptor();
  if (state.registered) return SQLITE_OK;
  state.io_methods = {1,       x_close,           x_read,       x_write,
                      x_truncate, x_sync,        x_file_size,  x_lock,
                      x_unlock, x_check_reserved, x_file_control, x_sector_size,
                      x_device_characteristics, nullptr, nullptr, nullptr,
                      nullptr,  nullptr,           nullptr};
  sqlite3_vfs& vfs = state.vfs;
  vfs = {};
  vfs.iVersion = 1;
  vfs.szOsFile = sizeof(FlexcapFile);
  vfs.mxPathname = static_cast<int>(ramfs::kMaxPath);
  vfs.zName = state.vfs_name;
  vfs.xOpen = x_open;
  vfs.xDelete = x_delete;
  vfs.xAccess = x_access;
  vfs.xFullPathname = x_full_pathname;
  vfs.xRandomness = x_randomness;
  vfs.xSleep = x_sleep;
  vfs.xCurrentTime = x_current_time;
  vfs.xGetLastError = x_get_last_error;
  const int status = sqlite3_vfs_register(&vfs, 1);
  state.registered = status == SQLITE_OK;
  return status;
}

std::string io_failure() { return std::exchange(adaptor().last_fault, {}); }

}  // namespace flexcap::lib::sqlite
