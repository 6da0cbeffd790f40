// The C library as hybrid code meets it. The C library itself is not compiled with the
// pass, so what it touches on hybrid code's behalf would go unchecked: the pass
// redirects hybrid code's calls to these wrappers (cc/pass/hybrid_pass.cc, kWrapped),
// which check, against the DDC, every range the call will read or write before making
// it: the shape of AddressSanitizer's interceptors, with the check first. A string's
// range is its bytes up to the NUL, looked for only inside the DDC: a string that runs
// past the DDC faults at the first byte outside it, as Morello would.
//
// Allocation goes to the running compartment's heap, inside its DDC, so that hybrid
// code's objects are reachable by it and by nobody else, and go away with the
// compartment when it restarts.
//
// Covered: malloc, calloc, realloc, free, posix_memalign, aligned_alloc,
// malloc_usable_size, strdup, strndup; memcpy, memmove, memset, memcmp, bcmp, memchr;
// strlen, strnlen, strcmp, strncmp, strcpy, strncpy, strcat, strchr, strrchr, strstr,
// strspn, strcspn; snprintf, vsnprintf, printf, fprintf, vfprintf, puts, fputs (the
// format and the output buffer; the arguments a format consumes are not checked);
// read, write, pread, pwrite (and their 64 names); open, access, unlink, mkdir, rmdir,
// stat, lstat, fstat (and their 64 names), getcwd, readlink, utime, fcntl (record locks);
// munmap, mremap; fopen, fgets, fwrite; strtol, strtoll, strtod, strchrnul;
// pthread_mutex_* and pthread_mutexattr_* (the object's bytes), pthread_create (the new
// thread in the caller's compartment); qsort; gettimeofday, time, localtime_r, gmtime_r.
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>

#include "flexcap/cc/hybrid_abi.h"
#include "flexcap/cc/hybrid_runtime.hh"
#include "flexcap/rt/runtime.hh"
#include "libc_checks.hh"

namespace flexcap::cc::libc {

using flexcap::rt::Runtime;

// The bytes hybrid code may read from `p` on: up to the end of the DDC's load window
// (0 when `p` is outside it).
std::uint64_t readable_from(const void* p) {
  const flexcap_hybrid_window& w = flexcap_hybrid_registers.load;
  const std::uint64_t offset = reinterpret_cast<std::uint64_t>(p) - w.base;
  return offset < w.length ? w.length - offset : 0;
}

bool inside(const flexcap_hybrid_window& w, const void* p, std::uint64_t bytes) {
  const std::uint64_t offset = reinterpret_cast<std::uint64_t>(p) - w.base;
  return bytes <= w.length && offset <= w.length - bytes;
}

// The in-line check of the pass, for a range the C library will touch.
void check(const void* p, std::uint64_t bytes, flexcap_hybrid_access access) {
  if (bytes == 0) return;
  const struct flexcap_hybrid_registers& r = flexcap_hybrid_registers;
  const bool ok = access == FLEXCAP_HYBRID_LOAD         ? inside(r.load, p, bytes)
                  : access == FLEXCAP_HYBRID_STORE      ? inside(r.store, p, bytes)
                  : access == FLEXCAP_HYBRID_LOAD_STORE ? inside(r.load, p, bytes) && inside(r.store, p, bytes)
                                                        : inside(r.execute, p, bytes);
  if (!ok) flexcap_hybrid_slow_check(reinterpret_cast<std::uint64_t>(p), bytes, access);
}
void check_read(const void* p, std::uint64_t bytes) { check(p, bytes, FLEXCAP_HYBRID_LOAD); }
void check_write(void* p, std::uint64_t bytes) { check(p, bytes, FLEXCAP_HYBRID_STORE); }

// The length of the string at `s`, looked for only inside the DDC; a string with no
// NUL before the DDC ends faults at the first byte past it.
std::size_t checked_strlen(const char* s) {
  const std::uint64_t limit = readable_from(s);
  if (limit == 0) {
    flexcap_hybrid_slow_check(reinterpret_cast<std::uint64_t>(s), 1, FLEXCAP_HYBRID_LOAD);
    return std::strlen(s);  // the model allowed it after all (a DDC shorter than a window)
  }
  const std::size_t n = strnlen(s, limit);
  if (n == limit) flexcap_hybrid_slow_check(reinterpret_cast<std::uint64_t>(s) + limit, 1, FLEXCAP_HYBRID_LOAD);
  return n;
}
std::size_t checked_strnlen(const char* s, std::size_t max) {
  const std::uint64_t limit = readable_from(s);
  const std::size_t n = strnlen(s, std::min<std::uint64_t>(max, limit));
  if (n < max && n == limit) {
    flexcap_hybrid_slow_check(reinterpret_cast<std::uint64_t>(s) + limit, 1, FLEXCAP_HYBRID_LOAD);
  }
  return n;
}
std::size_t check_string(const char* s) {
  const std::size_t n = checked_strlen(s);
  check_read(s, n + 1);
  return n;
}

// Where `s` has no NUL inside the DDC (so the C library's own would read past it), how
// many of its bytes the DDC holds; nullopt where it is terminated inside.
std::optional<std::uint64_t> unterminated_extent(const char* s) {
  const std::uint64_t limit = readable_from(s);
  if (limit != 0 && strnlen(s, limit) < limit) return std::nullopt;
  return limit;
}

// For a function that reads `s` only up to the first byte that stops it (its NUL at the
// latest), so that only those bytes are checked, as one compiled hybrid would load them:
// nullopt where `s` is terminated inside the DDC (the C library's own, with its vector
// code, then reads nothing beyond), else the index of the first byte that stops it, found
// here byte by byte up to the DDC's end, where it faults at the next byte (nullopt again
// where the model allowed that byte after all). (A byte loop for every string measured
// slower: speedtest1's LIKE calls strcspn once per candidate match.)
template <class Stops>
std::optional<std::uint64_t> scan_unterminated(const char* s, Stops stops) {
  const std::optional<std::uint64_t> extent = unterminated_extent(s);
  if (!extent) return std::nullopt;
  const std::uint64_t limit = *extent;
  for (std::uint64_t i = 0; i < limit; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\0' || stops(c)) return i;
  }
  flexcap_hybrid_slow_check(reinterpret_cast<std::uint64_t>(s) + limit, 1, FLEXCAP_HYBRID_LOAD);
  return std::nullopt;
}

// strspn and strcspn read all of `set`, and `s` up to the end of the span.
std::size_t checked_span(const char* s, const char* set, bool complement) {
  check_string(set);
  const auto in_set = [set](unsigned char c) { return std::strchr(set, c) != nullptr; };  // c is never NUL here
  if (const auto end = scan_unterminated(s, [&](unsigned char c) { return in_set(c) == complement; })) return *end;
  return complement ? std::strcspn(s, set) : std::strspn(s, set);
}

// strcmp, strncmp (and the case-insensitive two) read both strings byte by byte, a[i] then b[i], up to the first
// difference, the end of the strings, or n: those bytes are what a strcmp compiled hybrid
// would load, so only they are checked ("x" against an unterminated buffer at the DDC's
// end differs at the first byte and does not fault). Compared inside the DDC first; two
// strings still equal where a window ends fault at the next byte, as that loop would.
int checked_compare(const char* a, const char* b, std::size_t n, int (*compare)(const char*, const char*, std::size_t)) {
  const std::uint64_t in_a = readable_from(a);
  const std::uint64_t in_b = readable_from(b);
  const std::uint64_t window = std::min<std::uint64_t>({n, in_a, in_b});
  const int r = compare(a, b, window);
  if (r != 0 || window == n || strnlen(a, window) < window) return r;
  const char* next = in_a == window ? a + window : b + window;
  flexcap_hybrid_slow_check(reinterpret_cast<std::uint64_t>(next), 1, FLEXCAP_HYBRID_LOAD);
  return compare(a, b, n);  // the model allowed it after all (a DDC shorter than a window)
}

// --- allocation -------------------------------------------------------------------------

// The heap of the compartment running now; none before the image starts (static
// constructors), when the C library's heap serves.
flexcap::rt::Heap* current_heap() {
  if (!Runtime::started()) return nullptr;
  return &Runtime::get().compartment(Runtime::current()).heap();
}

// Whether `p` is a block of the running compartment's heap; fault if it lies in another
// compartment's region (a compartment frees only its own memory).
bool from_current_heap(void* p) {
  if (!Runtime::started()) return false;
  Runtime& rt = Runtime::get();
  // The common case first, without searching every region (SQLite asks at every free).
  if (rt.compartment(Runtime::current()).owns(reinterpret_cast<std::uint64_t>(p), 1)) return true;
  const int owner = rt.owner_of(reinterpret_cast<std::uint64_t>(p));
  if (owner == Runtime::current()) return true;
  if (owner >= 0 || owner == -2) {
    throw flexcap::rt::CompartmentFault{reinterpret_cast<std::uint64_t>(p),
                                        "free of memory in " + rt.describe_owner(reinterpret_cast<std::uint64_t>(p)) +
                                            ": a compartment's hybrid code frees only what its own malloc returned"};
  }
  return false;  // allocated before the image started, by the C library
}

void* allocate(std::size_t bytes, std::size_t alignment) {
  flexcap::rt::Heap* heap = current_heap();
  if (heap == nullptr) return alignment <= 16 ? std::malloc(bytes) : std::aligned_alloc(alignment, bytes);
  return heap->allocate(bytes, alignment);  // nullptr when full, as malloc says
}

}  // namespace flexcap::cc::libc

using namespace flexcap::cc::libc;

void flexcap::cc::check_range(const void* p, std::size_t bytes, flexcap_hybrid_access access) {
  check(p, bytes, access);
}

extern "C" {

void* flexcap_hybrid_malloc(std::size_t bytes) { return allocate(bytes, 16); }

void* flexcap_hybrid_calloc(std::size_t count, std::size_t size) {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) return nullptr;
  void* p = allocate(bytes, 16);
  if (p != nullptr) std::memset(p, 0, bytes);
  return p;
}

void flexcap_hybrid_free(void* p) {
  if (p == nullptr) return;
  if (from_current_heap(p)) {
    current_heap()->free(p);
  } else {
    std::free(p);
  }
}

std::size_t flexcap_hybrid_malloc_usable_size(void* p) {
  if (p == nullptr) return 0;
  return from_current_heap(p) ? flexcap::rt::Heap::size_of(p) : malloc_usable_size(p);
}

void* flexcap_hybrid_realloc(void* p, std::size_t bytes) {
  if (p == nullptr) return flexcap_hybrid_malloc(bytes);
  if (bytes == 0) {
    flexcap_hybrid_free(p);
    return nullptr;
  }
  if (!from_current_heap(p)) return std::realloc(p, bytes);
  const std::size_t old = flexcap::rt::Heap::size_of(p);
  if (bytes <= old) return p;
  void* grown = allocate(bytes, 16);
  if (grown == nullptr) return nullptr;
  std::memcpy(grown, p, old);
  current_heap()->free(p);
  return grown;
}

int flexcap_hybrid_posix_memalign(void** out, std::size_t alignment, std::size_t bytes) {
  check_write(out, sizeof(void*));
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  void* p = allocate(bytes, alignment);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

void* flexcap_hybrid_aligned_alloc(std::size_t alignment, std::size_t bytes) { return allocate(bytes, alignment); }

char* flexcap_hybrid_strdup(const char* s) {
  const std::size_t n = checked_strlen(s);
  auto* copy = static_cast<char*>(allocate(n + 1, 16));
  if (copy != nullptr) std::memcpy(copy, s, n + 1);
  return copy;
}

char* flexcap_hybrid_strndup(const char* s, std::size_t max) {
  const std::size_t n = checked_strnlen(s, max);
  auto* copy = static_cast<char*>(allocate(n + 1, 16));
  if (copy != nullptr) {
    std::memcpy(copy, s, n);
    copy[n] = '\0';
  }
  return copy;
}

// --- memory and strings -------------------------------------------------------------------

void* flexcap_hybrid_memcpy(void* to, const void* from, std::size_t n) {
  check_read(from, n);
  check_write(to, n);
  return std::memcpy(to, from, n);
}
void* flexcap_hybrid_memmove(void* to, const void* from, std::size_t n) {
  check_read(from, n);
  check_write(to, n);
  return std::memmove(to, from, n);
}
void* flexcap_hybrid_memset(void* to, int value, std::size_t n) {
  check_write(to, n);
  return std::memset(to, value, n);
}
int flexcap_hybrid_memcmp(const void* a, const void* b, std::size_t n) {
  check_read(a, n);
  check_read(b, n);
  return std::memcmp(a, b, n);
}
// What the compiler makes of a memcmp whose result is only compared with zero.
int flexcap_hybrid_bcmp(const void* a, const void* b, std::size_t n) { return flexcap_hybrid_memcmp(a, b, n); }
void* flexcap_hybrid_memchr(const void* s, int c, std::size_t n) {
  check_read(s, n);
  return const_cast<void*>(std::memchr(s, c, n));
}

std::size_t flexcap_hybrid_strlen(const char* s) { return checked_strlen(s); }
std::size_t flexcap_hybrid_strnlen(const char* s, std::size_t max) { return checked_strnlen(s, max); }
int flexcap_hybrid_strcmp(const char* a, const char* b) { return checked_compare(a, b, SIZE_MAX, std::strncmp); }
int flexcap_hybrid_strncmp(const char* a, const char* b, std::size_t n) {
  return checked_compare(a, b, n, std::strncmp);
}
char* flexcap_hybrid_strcpy(char* to, const char* from) {
  const std::size_t n = checked_strlen(from) + 1;
  check_write(to, n);
  return static_cast<char*>(std::memcpy(to, from, n));
}
char* flexcap_hybrid_strncpy(char* to, const char* from, std::size_t n) {
  check_read(from, std::min(n, checked_strnlen(from, n) + 1));
  check_write(to, n);
  return std::strncpy(to, from, n);
}
char* flexcap_hybrid_strcat(char* to, const char* from) {
  const std::size_t have = checked_strlen(to);
  const std::size_t add = checked_strlen(from) + 1;
  check_write(to + have, add);
  std::memcpy(to + have, from, add);
  return to;
}
// strchr reads `s` up to the first `c` (its NUL at the latest).
char* flexcap_hybrid_strchr(const char* s, int c) {
  const char wanted = static_cast<char>(c);
  const auto end = scan_unterminated(s, [&](unsigned char b) { return static_cast<char>(b) == wanted; });
  if (!end) return const_cast<char*>(std::strchr(s, c));
  return s[*end] == wanted ? const_cast<char*>(s + *end) : nullptr;
}
char* flexcap_hybrid_strrchr(const char* s, int c) {
  check_string(s);
  return const_cast<char*>(std::strrchr(s, c));
}
// strstr reads all of `needle`, and `haystack` up to the end of the first match (its NUL
// where there is none): a candidate before the match that matches in part stops short of
// the match's end. So a match that ends inside the DDC is found in an unterminated
// haystack without a fault; without one, the fault is at the first byte past the DDC.
char* flexcap_hybrid_strstr(const char* haystack, const char* needle) {
  const std::size_t n = check_string(needle);
  const std::optional<std::uint64_t> extent = unterminated_extent(haystack);
  if (!extent) return const_cast<char*>(std::strstr(haystack, needle));
  if (void* match = memmem(haystack, *extent, needle, n)) return static_cast<char*>(match);
  flexcap_hybrid_slow_check(reinterpret_cast<std::uint64_t>(haystack) + *extent, 1, FLEXCAP_HYBRID_LOAD);
  return const_cast<char*>(std::strstr(haystack, needle));  // the model allowed that byte after all
}
std::size_t flexcap_hybrid_strspn(const char* s, const char* accept) { return checked_span(s, accept, false); }
std::size_t flexcap_hybrid_strcspn(const char* s, const char* reject) { return checked_span(s, reject, true); }

// --- formatted output -----------------------------------------------------------------------

int flexcap_hybrid_vsnprintf(char* to, std::size_t n, const char* format, va_list arguments) {
  check_string(format);
  check_write(to, n);
  return std::vsnprintf(to, n, format, arguments);
}
int flexcap_hybrid_snprintf(char* to, std::size_t n, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  const int r = flexcap_hybrid_vsnprintf(to, n, format, arguments);
  va_end(arguments);
  return r;
}
int flexcap_hybrid_vfprintf(std::FILE* stream, const char* format, va_list arguments) {
  check_string(format);
  return std::vfprintf(stream, format, arguments);
}
int flexcap_hybrid_fprintf(std::FILE* stream, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  const int r = flexcap_hybrid_vfprintf(stream, format, arguments);
  va_end(arguments);
  return r;
}
int flexcap_hybrid_printf(const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  const int r = flexcap_hybrid_vfprintf(stdout, format, arguments);
  va_end(arguments);
  return r;
}
int flexcap_hybrid_puts(const char* s) {
  check_string(s);
  return std::puts(s);
}
int flexcap_hybrid_fputs(const char* s, std::FILE* stream) {
  check_string(s);
  return std::fputs(s, stream);
}

// --- system calls with buffers ------------------------------------------------------------------

ssize_t flexcap_hybrid_read(int fd, void* buffer, std::size_t n) {
  check_write(buffer, n);
  return read(fd, buffer, n);
}
ssize_t flexcap_hybrid_write(int fd, const void* buffer, std::size_t n) {
  check_read(buffer, n);
  return write(fd, buffer, n);
}
ssize_t flexcap_hybrid_pread(int fd, void* buffer, std::size_t n, off_t offset) {
  check_write(buffer, n);
  return pread(fd, buffer, n, offset);
}
ssize_t flexcap_hybrid_pwrite(int fd, const void* buffer, std::size_t n, off_t offset) {
  check_read(buffer, n);
  return pwrite(fd, buffer, n, offset);
}

// The 64-bit-offset names glibc's headers give pread and pwrite (_FILE_OFFSET_BITS=64).
ssize_t flexcap_hybrid_pread64(int fd, void* buffer, std::size_t n, off_t offset) {
  return flexcap_hybrid_pread(fd, buffer, n, offset);
}
ssize_t flexcap_hybrid_pwrite64(int fd, const void* buffer, std::size_t n, off_t offset) {
  return flexcap_hybrid_pwrite(fd, buffer, n, offset);
}

// --- files and paths: the path is a string hybrid code must be able to read, and every
// structure the kernel fills in must be the caller's to write ----------------------------------

int flexcap_hybrid_open(const char* path, int flags, ...) {
  check_string(path);
  va_list arguments;
  va_start(arguments, flags);
  const mode_t mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? va_arg(arguments, mode_t) : 0;
  va_end(arguments);
  return open(path, flags, mode);
}
// (open64 is open on x86-64: the same call, the same checks.)
int flexcap_hybrid_open64(const char* path, int flags, ...) __attribute__((alias("flexcap_hybrid_open")));
int flexcap_hybrid_access(const char* path, int mode) {
  check_string(path);
  return access(path, mode);
}
int flexcap_hybrid_unlink(const char* path) {
  check_string(path);
  return unlink(path);
}
int flexcap_hybrid_mkdir(const char* path, mode_t mode) {
  check_string(path);
  return mkdir(path, mode);
}
int flexcap_hybrid_rmdir(const char* path) {
  check_string(path);
  return rmdir(path);
}
int flexcap_hybrid_stat(const char* path, struct stat* out) {
  check_string(path);
  check_write(out, sizeof(*out));
  return stat(path, out);
}
int flexcap_hybrid_stat64(const char* path, struct stat64* out) {
  check_string(path);
  check_write(out, sizeof(*out));
  return stat64(path, out);
}
int flexcap_hybrid_lstat(const char* path, struct stat* out) {
  check_string(path);
  check_write(out, sizeof(*out));
  return lstat(path, out);
}
int flexcap_hybrid_lstat64(const char* path, struct stat64* out) {
  check_string(path);
  check_write(out, sizeof(*out));
  return lstat64(path, out);
}
int flexcap_hybrid_fstat(int fd, struct stat* out) {
  check_write(out, sizeof(*out));
  return fstat(fd, out);
}
int flexcap_hybrid_fstat64(int fd, struct stat64* out) {
  check_write(out, sizeof(*out));
  return fstat64(fd, out);
}
char* flexcap_hybrid_getcwd(char* buffer, std::size_t size) {
  // (A null buffer would have the C library allocate outside the DDC: refused.)
  if (buffer == nullptr) flexcap_hybrid_slow_check(0, size == 0 ? 1 : size, FLEXCAP_HYBRID_STORE);
  check_write(buffer, size);
  return getcwd(buffer, size);
}
ssize_t flexcap_hybrid_readlink(const char* path, char* buffer, std::size_t size) {
  check_string(path);
  check_write(buffer, size);
  return readlink(path, buffer, size);
}
int flexcap_hybrid_utime(const char* path, const struct utimbuf* times) {
  check_string(path);
  if (times != nullptr) check_read(times, sizeof(*times));
  return utime(path, times);
}

// fcntl's third argument is a pointer only for the record locks: then the structure is
// read (F_SETLK*) or read and written (F_GETLK).
int fcntl_checked(int fd, int command, va_list arguments) {
  switch (command) {
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW: {
      auto* lock = va_arg(arguments, struct flock*);
      check(lock, sizeof(*lock),
            command == F_GETLK || command == F_OFD_GETLK ? FLEXCAP_HYBRID_LOAD_STORE : FLEXCAP_HYBRID_LOAD);
      return fcntl(fd, command, lock);
    }
    case F_GETFD:
    case F_GETFL:
    case F_GETOWN:
    case F_GETSIG:
    case F_GETLEASE:
    case F_GETPIPE_SZ:
    case F_GET_SEALS: return fcntl(fd, command);
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
    case F_SETFD:
    case F_SETFL:
    case F_SETOWN:
    case F_SETSIG:
    case F_SETLEASE:
    case F_NOTIFY:
    case F_SETPIPE_SZ:
    case F_ADD_SEALS: return fcntl(fd, command, va_arg(arguments, int));
    default:
      // A command whose argument this wrapper cannot tell the size of: refused, rather
      // than let the kernel touch memory unchecked.
      errno = EINVAL;
      return -1;
  }
}
int flexcap_hybrid_fcntl(int fd, int command, ...) {
  va_list arguments;
  va_start(arguments, command);
  const int r = fcntl_checked(fd, command, arguments);
  va_end(arguments);
  return r;
}
int flexcap_hybrid_fcntl64(int fd, int command, ...) {
  va_list arguments;
  va_start(arguments, command);
  const int r = fcntl_checked(fd, command, arguments);
  va_end(arguments);
  return r;
}

// A mapping hybrid code unmaps or remaps must be its own.
int flexcap_hybrid_munmap(void* address, std::size_t bytes) {
  check(address, bytes, FLEXCAP_HYBRID_LOAD_STORE);
  return munmap(address, bytes);
}
void* flexcap_hybrid_mremap(void* address, std::size_t old_bytes, std::size_t new_bytes, int flags, ...) {
  check(address, old_bytes, FLEXCAP_HYBRID_LOAD_STORE);
  if ((flags & MREMAP_FIXED) != 0) {
    // (Moving a mapping onto a chosen address: refused, it could land on anyone's memory.)
    errno = EINVAL;
    return MAP_FAILED;
  }
  return mremap(address, old_bytes, new_bytes, flags);
}

// --- standard streams and conversions -------------------------------------------------------------

std::FILE* flexcap_hybrid_fopen(const char* path, const char* mode) {
  check_string(path);
  check_string(mode);
  return std::fopen(path, mode);
}
char* flexcap_hybrid_fgets(char* buffer, int size, std::FILE* stream) {
  if (size > 0) check_write(buffer, static_cast<std::uint64_t>(size));
  return std::fgets(buffer, size, stream);
}
std::size_t flexcap_hybrid_fwrite(const void* data, std::size_t size, std::size_t count, std::FILE* stream) {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(size, count, &bytes)) {
    flexcap_hybrid_slow_check(reinterpret_cast<std::uint64_t>(data), ~std::uint64_t{0}, FLEXCAP_HYBRID_LOAD);
  }
  check_read(data, bytes);
  return std::fwrite(data, size, count, stream);
}
long flexcap_hybrid_strtol(const char* s, char** end, int base) {
  check_string(s);
  if (end != nullptr) check_write(end, sizeof(*end));
  return std::strtol(s, end, base);
}
long long flexcap_hybrid_strtoll(const char* s, char** end, int base) {
  check_string(s);
  if (end != nullptr) check_write(end, sizeof(*end));
  return std::strtoll(s, end, base);
}
double flexcap_hybrid_strtod(const char* s, char** end) {
  check_string(s);
  if (end != nullptr) check_write(end, sizeof(*end));
  return std::strtod(s, end);
}
char* flexcap_hybrid_strchrnul(const char* s, int c) {
  check_string(s);
  return const_cast<char*>(strchrnul(s, c));
}

// --- threads ----------------------------------------------------------------------------------------

// A mutex is the caller's memory, which the C library reads and writes.
int flexcap_hybrid_pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attributes) {
  check_write(m, sizeof(*m));
  if (attributes != nullptr) check_read(attributes, sizeof(*attributes));
  return pthread_mutex_init(m, attributes);
}
int flexcap_hybrid_pthread_mutex_destroy(pthread_mutex_t* m) {
  check(m, sizeof(*m), FLEXCAP_HYBRID_LOAD_STORE);
  return pthread_mutex_destroy(m);
}
int flexcap_hybrid_pthread_mutex_lock(pthread_mutex_t* m) {
  check(m, sizeof(*m), FLEXCAP_HYBRID_LOAD_STORE);
  return pthread_mutex_lock(m);
}
int flexcap_hybrid_pthread_mutex_trylock(pthread_mutex_t* m) {
  check(m, sizeof(*m), FLEXCAP_HYBRID_LOAD_STORE);
  return pthread_mutex_trylock(m);
}
int flexcap_hybrid_pthread_mutex_unlock(pthread_mutex_t* m) {
  check(m, sizeof(*m), FLEXCAP_HYBRID_LOAD_STORE);
  return pthread_mutex_unlock(m);
}
int flexcap_hybrid_pthread_mutexattr_init(pthread_mutexattr_t* a) {
  check_write(a, sizeof(*a));
  return pthread_mutexattr_init(a);
}
int flexcap_hybrid_pthread_mutexattr_destroy(pthread_mutexattr_t* a) {
  check(a, sizeof(*a), FLEXCAP_HYBRID_LOAD_STORE);
  return pthread_mutexattr_destroy(a);
}
int flexcap_hybrid_pthread_mutexattr_settype(pthread_mutexattr_t* a, int type) {
  check(a, sizeof(*a), FLEXCAP_HYBRID_LOAD_STORE);
  return pthread_mutexattr_settype(a, type);
}
}  // extern "C"

namespace {
// What a thread that hybrid code starts needs before it runs the routine: its
// compartment and that compartment's registers, those of the thread that started it.
struct ThreadStart {
  void* (*routine)(void*);
  void* argument;
  int compartment;
  const flexcap::cc::HybridState* state;
};

void* start_in_compartment(void* p) {
  const ThreadStart start = *static_cast<ThreadStart*>(p);
  delete static_cast<ThreadStart*>(p);
  if (Runtime::started()) Runtime::set_current(start.compartment);
  if (start.state != nullptr) flexcap::cc::install_hybrid_state(*start.state);
  return start.routine(start.argument);
}
}  // namespace

extern "C" {

// A thread that hybrid code starts runs in the compartment that started it, under the
// same DDC and PCC (Redis's background threads). Where those confine it (cheri), its
// stack is taken from the compartment's heap, inside the DDC, with the size asked for
// (the C library's 8 MiB by default); it is not given back when the thread ends (the C
// library tells no one), so a program that starts threads without end exhausts its heap.
// The routine must be code the PCC allows.
int flexcap_hybrid_pthread_create(pthread_t* thread, const pthread_attr_t* attributes, void* (*routine)(void*),
                                  void* argument) {
  check_write(thread, sizeof(*thread));
  if (attributes != nullptr) check_read(attributes, sizeof(*attributes));
  check(reinterpret_cast<const void*>(routine), 1, FLEXCAP_HYBRID_EXECUTE);
  const flexcap::cc::HybridState* state = flexcap::cc::installed_hybrid_state();
  auto* start = new ThreadStart{routine, argument, Runtime::started() ? Runtime::current() : 0, state};
  pthread_attr_t own;
  const pthread_attr_t* used = attributes;
  void* stack = nullptr;
  if (state != nullptr) {
    std::size_t size = 8u << 20;
    int detach = PTHREAD_CREATE_JOINABLE;
    if (attributes != nullptr) {
      pthread_attr_getstacksize(attributes, &size);
      pthread_attr_getdetachstate(attributes, &detach);
    }
    stack = allocate(size, 64);
    if (stack == nullptr) {
      delete start;
      return EAGAIN;
    }
    pthread_attr_init(&own);
    pthread_attr_setstack(&own, stack, size);
    pthread_attr_setdetachstate(&own, detach);
    used = &own;
  }
  const int status = pthread_create(thread, used, start_in_compartment, start);
  if (used == &own) pthread_attr_destroy(&own);
  if (status != 0) {
    delete start;
    if (stack != nullptr) current_heap()->free(stack);
  }
  return status;
}

// The comparator is hybrid code (checked itself, and its address against the PCC when
// called); the array must be the caller's to read and write.
void flexcap_hybrid_qsort(void* base, std::size_t count, std::size_t size, int (*compare)(const void*, const void*)) {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    flexcap_hybrid_slow_check(reinterpret_cast<std::uint64_t>(base), ~std::uint64_t{0}, FLEXCAP_HYBRID_LOAD_STORE);
  }
  check(base, bytes, FLEXCAP_HYBRID_LOAD_STORE);
  check(reinterpret_cast<const void*>(compare), 1, FLEXCAP_HYBRID_EXECUTE);
  std::qsort(base, count, size, compare);
}

// --- time ------------------------------------------------------------------------------------------

int flexcap_hybrid_gettimeofday(struct timeval* now, void* zone) {
  if (now != nullptr) check_write(now, sizeof(*now));
  return gettimeofday(now, static_cast<struct timezone*>(zone));
}
std::time_t flexcap_hybrid_time(std::time_t* out) {
  if (out != nullptr) check_write(out, sizeof(*out));
  return std::time(out);
}
struct tm* flexcap_hybrid_localtime_r(const std::time_t* t, struct tm* out) {
  check_read(t, sizeof(*t));
  check_write(out, sizeof(*out));
  return localtime_r(t, out);
}
struct tm* flexcap_hybrid_gmtime_r(const std::time_t* t, struct tm* out) {
  check_read(t, sizeof(*t));
  check_write(out, sizeof(*out));
  return gmtime_r(t, out);
}

}  // extern "C"
