// More of the C library as hybrid code meets it (hybrid_libc.cc has the first part and
// says how): what Redis calls besides SQLite's set.
//
// Two kinds of wrapper here:
// - Range checks first, as everywhere: every range the call reads or writes is checked
//   against the DDC before the call (sscanf, sprintf, strerror_r, ctime_r, strftime,
//   strcasecmp, strncasecmp, strncat, strpbrk, strcoll, strtold, strtoul, strtoull, atoi,
//   inet_ntop, inet_pton, uname, getrusage, getrlimit64, setrlimit64, clock_gettime,
//   nanosleep, setitimer, sigemptyset, sigaddset, pthread_sigmask, fread, mkostemp64,
//   chdir, chmod, opendir, perror, frexp, modf, pthread_setname_np, pthread_attr_init,
//   pthread_attr_getstacksize, pthread_attr_setstacksize, pthread_cond_init,
//   pthread_cond_wait, pthread_cond_signal, pthread_cond_broadcast, pthread_join,
//   sched_setaffinity, setenv, unsetenv, freopen, syslog, openlog, longjmp).
// - Answers moved inside the DDC: what the C library returns a pointer to lives in its
//   own memory (static strings, its heap, a directory stream's buffer), outside every
//   compartment, where hybrid code cannot read it — on Morello a hybrid compartment's C
//   library is inside its DDC. The wrapper copies the answer into the calling
//   compartment's heap: getenv, strerror, gai_strerror, localeconv, dirname,
//   get_current_dir_name, readdir64 (one entry per stream, freed by closedir),
//   getaddrinfo (the whole list, freed by freeaddrinfo). Strings are copied once per
//   compartment and content, so repeated calls do not grow the heap.
//
// Not covered (listed in cc/README.md): the outputs a scanf format writes through its
// arguments; ioctl and prctl arguments; glob64's answers; the dl* functions; `environ`
// after setenv has moved it into the C library's heap.
#include <arpa/inet.h>
#include <dirent.h>
#include <libgen.h>
#include <locale.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "flexcap/cc/hybrid_abi.h"
#include "flexcap/rt/runtime.hh"
#include "libc_checks.hh"

using namespace flexcap::cc::libc;

extern "C" void flexcap_hybrid_free(void* p);  // hybrid_libc.cc
// The POSIX strerror_r (what <string.h> gives C without _GNU_SOURCE); C++ sees only GNU's.
extern "C" int __xpg_strerror_r(int error, char* to, std::size_t n);

namespace {

// A string of the C library's, copied into the running compartment's heap once per
// compartment and content: what hybrid code can read. nullptr stays nullptr; before the
// image starts (no compartment), the C library's own string.
const char* in_compartment(const char* s) {
  if (s == nullptr || !flexcap::rt::Runtime::started() || readable_from(s) > std::strlen(s)) return s;
  static std::mutex mutex;
  static auto* copies = new std::map<std::pair<int, std::string>, char*>();  // never freed: handed out for good
  const std::lock_guard<std::mutex> lock(mutex);
  auto [it, fresh] = copies->try_emplace({flexcap::rt::Runtime::current(), std::string(s)}, nullptr);
  if (fresh) {
    const std::size_t n = std::strlen(s) + 1;
    it->second = static_cast<char*>(allocate(n, 16));
    if (it->second == nullptr) {
      copies->erase(it);
      return nullptr;
    }
    std::memcpy(it->second, s, n);
  }
  return it->second;
}

std::size_t address_bytes(int family) { return family == AF_INET6 ? 16 : 4; }

void check_end(char** end) {
  if (end != nullptr) check_write(end, sizeof(*end));
}

}  // namespace

extern "C" {

// --- formatted input and output --------------------------------------------------------------

int flexcap_hybrid___isoc99_sscanf(const char* s, const char* format, ...) {
  check_string(s);
  check_string(format);
  va_list arguments;
  va_start(arguments, format);
  const int r = std::vsscanf(s, format, arguments);
  va_end(arguments);
  return r;
}

// sprintf has no bound: the length it will write is measured first, then checked.
int flexcap_hybrid_sprintf(char* to, const char* format, ...) {
  check_string(format);
  va_list arguments;
  va_start(arguments, format);
  va_list measure;
  va_copy(measure, arguments);
  const int n = std::vsnprintf(nullptr, 0, format, measure);
  va_end(measure);
  if (n >= 0) check_write(to, static_cast<std::size_t>(n) + 1);
  const int r = n < 0 ? n : std::vsprintf(to, format, arguments);
  va_end(arguments);
  return r;
}

void flexcap_hybrid_syslog(int priority, const char* format, ...) {
  check_string(format);
  va_list arguments;
  va_start(arguments, format);
  vsyslog(priority, format, arguments);
  va_end(arguments);
}

void flexcap_hybrid_openlog(const char* ident, int option, int facility) {
  if (ident != nullptr) check_string(ident);
  openlog(ident, option, facility);
}

void flexcap_hybrid_perror(const char* s) {
  if (s != nullptr) check_string(s);
  std::perror(s);
}

std::size_t flexcap_hybrid_fread(void* to, std::size_t size, std::size_t count, std::FILE* stream) {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(size, count, &bytes)) bytes = SIZE_MAX;
  check_write(to, bytes);
  return std::fread(to, size, count, stream);
}

std::FILE* flexcap_hybrid_freopen(const char* path, const char* mode, std::FILE* stream) {
  if (path != nullptr) check_string(path);
  check_string(mode);
  return std::freopen(path, mode, stream);
}

// --- strings and numbers ---------------------------------------------------------------------

int flexcap_hybrid___xpg_strerror_r(int error, char* to, std::size_t n) {
  check_write(to, n);
  return __xpg_strerror_r(error, to, n);
}

char* flexcap_hybrid_strerror(int error) { return const_cast<char*>(in_compartment(std::strerror(error))); }

const char* flexcap_hybrid_gai_strerror(int error) { return in_compartment(gai_strerror(error)); }

int flexcap_hybrid_strcasecmp(const char* a, const char* b) { return checked_compare(a, b, SIZE_MAX, strncasecmp); }
int flexcap_hybrid_strncasecmp(const char* a, const char* b, std::size_t n) {
  return checked_compare(a, b, n, strncasecmp);
}
char* flexcap_hybrid_strncat(char* to, const char* from, std::size_t n) {
  const std::size_t have = checked_strlen(to);
  const std::size_t add = checked_strnlen(from, n);
  check_read(from, add);
  check_write(to + have, add + 1);
  return std::strncat(to, from, n);
}
char* flexcap_hybrid_strpbrk(const char* s, const char* accept) {
  check_string(s);
  check_string(accept);
  return const_cast<char*>(std::strpbrk(s, accept));
}
int flexcap_hybrid_strcoll(const char* a, const char* b) {
  check_string(a);
  check_string(b);
  return std::strcoll(a, b);
}
long double flexcap_hybrid_strtold(const char* s, char** end) {
  check_string(s);
  check_end(end);
  return std::strtold(s, end);
}
unsigned long flexcap_hybrid_strtoul(const char* s, char** end, int base) {
  check_string(s);
  check_end(end);
  return std::strtoul(s, end, base);
}
unsigned long long flexcap_hybrid_strtoull(const char* s, char** end, int base) {
  check_string(s);
  check_end(end);
  return std::strtoull(s, end, base);
}
int flexcap_hybrid_atoi(const char* s) {
  check_string(s);
  return std::atoi(s);
}
double flexcap_hybrid_frexp(double x, int* exponent) {
  check_write(exponent, sizeof(*exponent));
  return std::frexp(x, exponent);
}
double flexcap_hybrid_modf(double x, double* integral) {
  check_write(integral, sizeof(*integral));
  return std::modf(x, integral);
}

// The locale's numeric and monetary conventions, copied into the calling compartment
// (the C library's is its own static struct).
struct lconv* flexcap_hybrid_localeconv() {
  struct lconv* theirs = localeconv();
  if (!flexcap::rt::Runtime::started()) return theirs;
  auto* ours = static_cast<struct lconv*>(allocate(sizeof(struct lconv), 16));
  if (ours == nullptr) return nullptr;
  *ours = *theirs;
  for (char** field : {&ours->decimal_point, &ours->thousands_sep, &ours->grouping, &ours->int_curr_symbol,
                       &ours->currency_symbol, &ours->mon_decimal_point, &ours->mon_thousands_sep, &ours->mon_grouping,
                       &ours->positive_sign, &ours->negative_sign}) {
    *field = const_cast<char*>(in_compartment(*field));
  }
  // Its contents are the same until setlocale: keep one per compartment and content.
  static std::mutex mutex;
  static auto* kept = new std::map<std::pair<int, std::string>, struct lconv*>();
  const std::lock_guard<std::mutex> lock(mutex);
  const std::string key(reinterpret_cast<const char*>(ours), sizeof(*ours));
  auto [it, fresh] = kept->try_emplace({flexcap::rt::Runtime::current(), key}, ours);
  if (!fresh && current_heap() != nullptr) flexcap_hybrid_free(ours);
  return it->second;
}

// --- time --------------------------------------------------------------------------------------

char* flexcap_hybrid_ctime_r(const std::time_t* t, char* to) {
  check_read(t, sizeof(*t));
  check_write(to, 26);  // ctime_r's documented buffer
  return ctime_r(t, to);
}
std::size_t flexcap_hybrid_strftime(char* to, std::size_t n, const char* format, const struct tm* tm) {
  check_write(to, n);
  check_string(format);
  check_read(tm, sizeof(*tm));
  return std::strftime(to, n, format, tm);
}
int flexcap_hybrid_clock_gettime(clockid_t clock, struct timespec* now) {
  check_write(now, sizeof(*now));
  return clock_gettime(clock, now);
}
int flexcap_hybrid_nanosleep(const struct timespec* request, struct timespec* remaining) {
  check_read(request, sizeof(*request));
  if (remaining != nullptr) check_write(remaining, sizeof(*remaining));
  return nanosleep(request, remaining);
}
int flexcap_hybrid_setitimer(int which, const struct itimerval* value, struct itimerval* old) {
  check_read(value, sizeof(*value));
  if (old != nullptr) check_write(old, sizeof(*old));
  return setitimer(static_cast<__itimer_which_t>(which), value, old);
}

// --- the process -------------------------------------------------------------------------------

char* flexcap_hybrid_getenv(const char* name) {
  check_string(name);
  return const_cast<char*>(in_compartment(std::getenv(name)));
}
int flexcap_hybrid_setenv(const char* name, const char* value, int overwrite) {
  check_string(name);
  check_string(value);
  return setenv(name, value, overwrite);
}
int flexcap_hybrid_unsetenv(const char* name) {
  check_string(name);
  return unsetenv(name);
}
int flexcap_hybrid_uname(struct utsname* out) {
  check_write(out, sizeof(*out));
  return uname(out);
}
int flexcap_hybrid_getrusage(int who, struct rusage* out) {
  check_write(out, sizeof(*out));
  return getrusage(who, out);
}
int flexcap_hybrid_getrlimit64(int resource, struct rlimit64* out) {
  check_write(out, sizeof(*out));
  return getrlimit64(static_cast<__rlimit_resource_t>(resource), out);
}
int flexcap_hybrid_setrlimit64(int resource, const struct rlimit64* limit) {
  check_read(limit, sizeof(*limit));
  return setrlimit64(static_cast<__rlimit_resource_t>(resource), limit);
}
int flexcap_hybrid_sigemptyset(sigset_t* set) {
  check_write(set, sizeof(*set));
  return sigemptyset(set);
}
int flexcap_hybrid_sigaddset(sigset_t* set, int signal) {
  check(set, sizeof(*set), FLEXCAP_HYBRID_LOAD_STORE);
  return sigaddset(set, signal);
}
int flexcap_hybrid_pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  if (set != nullptr) check_read(set, sizeof(*set));
  if (old != nullptr) check_write(old, sizeof(*old));
  return pthread_sigmask(how, set, old);
}
int flexcap_hybrid_sched_setaffinity(pid_t pid, std::size_t size, const cpu_set_t* mask) {
  check_read(mask, size);
  return sched_setaffinity(pid, size, mask);
}
[[noreturn]] void flexcap_hybrid_longjmp(struct __jmp_buf_tag* env, int value) {
  check_read(env, sizeof(jmp_buf));
  longjmp(env, value);
}

// --- threads -------------------------------------------------------------------------------------

int flexcap_hybrid_pthread_setname_np(pthread_t thread, const char* name) {
  check_string(name);
  return pthread_setname_np(thread, name);
}
int flexcap_hybrid_pthread_join(pthread_t thread, void** result) {
  if (result != nullptr) check_write(result, sizeof(*result));
  return pthread_join(thread, result);
}
int flexcap_hybrid_pthread_attr_init(pthread_attr_t* a) {
  check_write(a, sizeof(*a));
  return pthread_attr_init(a);
}
int flexcap_hybrid_pthread_attr_getstacksize(const pthread_attr_t* a, std::size_t* size) {
  check_read(a, sizeof(*a));
  check_write(size, sizeof(*size));
  return pthread_attr_getstacksize(a, size);
}
int flexcap_hybrid_pthread_attr_setstacksize(pthread_attr_t* a, std::size_t size) {
  check(a, sizeof(*a), FLEXCAP_HYBRID_LOAD_STORE);
  return pthread_attr_setstacksize(a, size);
}
int flexcap_hybrid_pthread_cond_init(pthread_cond_t* c, const pthread_condattr_t* attributes) {
  check_write(c, sizeof(*c));
  if (attributes != nullptr) check_read(attributes, sizeof(*attributes));
  return pthread_cond_init(c, attributes);
}
int flexcap_hybrid_pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  check(c, sizeof(*c), FLEXCAP_HYBRID_LOAD_STORE);
  check(m, sizeof(*m), FLEXCAP_HYBRID_LOAD_STORE);
  return pthread_cond_wait(c, m);
}
int flexcap_hybrid_pthread_cond_signal(pthread_cond_t* c) {
  check(c, sizeof(*c), FLEXCAP_HYBRID_LOAD_STORE);
  return pthread_cond_signal(c);
}
int flexcap_hybrid_pthread_cond_broadcast(pthread_cond_t* c) {
  check(c, sizeof(*c), FLEXCAP_HYBRID_LOAD_STORE);
  return pthread_cond_broadcast(c);
}

// --- files and directories --------------------------------------------------------------------------

int flexcap_hybrid_mkostemp64(char* pattern, int flags) {
  check(pattern, checked_strlen(pattern) + 1, FLEXCAP_HYBRID_LOAD_STORE);
  return mkostemp64(pattern, flags);
}
int flexcap_hybrid_chdir(const char* path) {
  check_string(path);
  return chdir(path);
}
int flexcap_hybrid_chmod(const char* path, mode_t mode) {
  check_string(path);
  return chmod(path, mode);
}
DIR* flexcap_hybrid_opendir(const char* path) {
  check_string(path);
  return opendir(path);
}

// A directory stream's current entry, in the compartment that reads it (the C library's
// is in the stream's own buffer).
namespace {
std::mutex g_entries_mutex;
std::map<DIR*, struct dirent64*>& entries() {
  static auto* m = new std::map<DIR*, struct dirent64*>();
  return *m;
}
}  // namespace

struct dirent64* flexcap_hybrid_readdir64(DIR* directory) {
  struct dirent64* theirs = readdir64(directory);
  if (theirs == nullptr || !flexcap::rt::Runtime::started()) return theirs;
  const std::lock_guard<std::mutex> lock(g_entries_mutex);
  struct dirent64*& ours = entries()[directory];
  if (ours == nullptr) ours = static_cast<struct dirent64*>(allocate(sizeof(struct dirent64), 16));
  if (ours == nullptr) return nullptr;
  std::memcpy(ours, theirs, sizeof(struct dirent64));
  return ours;
}
int flexcap_hybrid_closedir(DIR* directory) {
  {
    const std::lock_guard<std::mutex> lock(g_entries_mutex);
    const auto it = entries().find(directory);
    if (it != entries().end()) {
      flexcap_hybrid_free(it->second);
      entries().erase(it);
    }
  }
  return closedir(directory);
}

// dirname answers inside its argument, or with the C library's static ".".
char* flexcap_hybrid_dirname(char* path) {
  if (path == nullptr) return const_cast<char*>(in_compartment(dirname(path)));
  const std::size_t n = checked_strlen(path) + 1;
  check(path, n, FLEXCAP_HYBRID_LOAD_STORE);
  char* r = dirname(path);
  return r >= path && r < path + n ? r : const_cast<char*>(in_compartment(r));
}

char* flexcap_hybrid_get_current_dir_name() {
  char* theirs = get_current_dir_name();
  if (theirs == nullptr || !flexcap::rt::Runtime::started()) return theirs;
  const std::size_t n = std::strlen(theirs) + 1;
  auto* ours = static_cast<char*>(allocate(n, 16));  // hybrid code frees it with its free
  if (ours != nullptr) std::memcpy(ours, theirs, n);
  std::free(theirs);
  return ours;
}

// --- names and addresses ------------------------------------------------------------------------------

const char* flexcap_hybrid_inet_ntop(int family, const void* address, char* to, socklen_t n) {
  check_read(address, address_bytes(family));
  check_write(to, n);
  return inet_ntop(family, address, to, n);
}
int flexcap_hybrid_inet_pton(int family, const char* text, void* to) {
  check_string(text);
  check_write(to, address_bytes(family));
  return inet_pton(family, text, to);
}

// The answer list, copied into the calling compartment's heap: each entry with its
// address and canonical name in one block. freeaddrinfo frees the copy.
int flexcap_hybrid_getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                               struct addrinfo** out) {
  if (node != nullptr) check_string(node);
  if (service != nullptr) check_string(service);
  if (hints != nullptr) check_read(hints, sizeof(*hints));
  check_write(out, sizeof(*out));
  struct addrinfo* theirs = nullptr;
  const int r = getaddrinfo(node, service, hints, &theirs);
  if (r != 0 || !flexcap::rt::Runtime::started()) {
    *out = theirs;
    return r;
  }
  struct addrinfo* first = nullptr;
  struct addrinfo** link = &first;
  for (const struct addrinfo* a = theirs; a != nullptr; a = a->ai_next) {
    const std::size_t name = a->ai_canonname != nullptr ? std::strlen(a->ai_canonname) + 1 : 0;
    auto* copy = static_cast<struct addrinfo*>(allocate(sizeof(struct addrinfo) + a->ai_addrlen + name, 16));
    if (copy == nullptr) {
      freeaddrinfo(theirs);
      for (struct addrinfo* c = first; c != nullptr;) {
        struct addrinfo* next = c->ai_next;
        flexcap_hybrid_free(c);
        c = next;
      }
      return EAI_MEMORY;
    }
    *copy = *a;
    copy->ai_next = nullptr;
    auto* bytes = reinterpret_cast<char*>(copy + 1);
    copy->ai_addr = reinterpret_cast<struct sockaddr*>(bytes);
    std::memcpy(bytes, a->ai_addr, a->ai_addrlen);
    copy->ai_canonname = name != 0 ? bytes + a->ai_addrlen : nullptr;
    if (name != 0) std::memcpy(copy->ai_canonname, a->ai_canonname, name);
    *link = copy;
    link = &copy->ai_next;
  }
  freeaddrinfo(theirs);
  *out = first;
  return 0;
}
void flexcap_hybrid_freeaddrinfo(struct addrinfo* list) {
  if (list == nullptr) return;
  if (!from_current_heap(list)) {  // the C library's own list (asked for before the image started)
    freeaddrinfo(list);
    return;
  }
  while (list != nullptr) {
    struct addrinfo* next = list->ai_next;
    flexcap_hybrid_free(list);
    list = next;
  }
}

}  // extern "C"
