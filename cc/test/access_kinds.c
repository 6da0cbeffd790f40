/* One function per kind of access that the hybrid pass checks. Compiled with
 * `flexcap cc --abi hybrid` (hybrid_access_test.cc runs each one byte inside and one
 * byte outside the DDC). Nothing here knows about FlexCap: it is ordinary C. */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

typedef uint8_t v16 __attribute__((vector_size(16)));
typedef uint8_t v32 __attribute__((vector_size(32)));

uint8_t load_1(const uint8_t* p) { return *p; }
uint16_t load_2(const uint16_t* p) { return *p; }
uint32_t load_4(const uint32_t* p) { return *p; }
uint64_t load_8(const uint64_t* p) { return *p; }
/* volatile: the whole vector is read (the optimizer would narrow an unused part). */
uint8_t load_16(const v16* p) {
  const v16 v = *(const volatile v16*)p;
  return (uint8_t)(v[0] + v[15]);
}
uint8_t load_32(const v32* p) {
  const v32 v = *(const volatile v32*)p;
  return (uint8_t)(v[0] + v[31]);
}

void store_1(uint8_t* p) { *p = 1; }
void store_2(uint16_t* p) { *p = 2; }
void store_4(uint32_t* p) { *p = 4; }
void store_8(uint64_t* p) { *p = 8; }
void store_16(v16* p) { *p = (v16){16}; }
void store_32(v32* p) { *p = (v32){32}; }

int atomic_add(int* p) { return __atomic_fetch_add(p, 1, __ATOMIC_SEQ_CST); }
int atomic_compare_exchange(int* p) {
  int expected = 0;
  return __atomic_compare_exchange_n(p, &expected, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void copy(char* to, const char* from, size_t n) { memcpy(to, from, n); }
void move(char* to, const char* from, size_t n) { memmove(to, from, n); }
void fill(char* to, size_t n) { memset(to, 7, n); }

struct record {
  char bytes[48];
};
void copy_struct(struct record* to, const struct record* from) { *to = *from; }

/* A by-value argument: the call copies the struct from where `from` points. */
static __attribute__((noinline)) int first_byte(struct record r) { return r.bytes[0]; }
int pass_by_value(const struct record* from) { return first_byte(*from); }

/* Variadic: the pointer arrives through va_arg, then is read. */
int read_variadic(int count, ...) {
  va_list arguments;
  va_start(arguments, count);
  int sum = 0;
  for (int i = 0; i < count; ++i) sum += *va_arg(arguments, const uint8_t*);
  va_end(arguments);
  return sum;
}

int call_indirect(int (*function)(int), int argument) { return function(argument); }
int twice(int x) { return 2 * x; }

/* A direct call to a function defined outside this module (by the test). */
int flexcap_test_elsewhere(int);
int call_direct(int argument) { return flexcap_test_elsewhere(argument) + 1; }

/* Stays inside its own stack frame: exempt from checks. */
int frame_only(int i) {
  int local[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  local[3] = i;
  return local[3] + local[5];
}

/* Calls into the C library, which the pass sends through checking wrappers. */
size_t string_length(const char* s) { return strlen(s); }
const void* find_byte(const void* s, int c, size_t n) { return memchr(s, c, n); }
int format_number(char* to, size_t n, const char* format, int value) { return snprintf(to, n, format, value); }
int compare_strings(const char* a, const char* b) { return strcmp(a, b); }
int compare_prefix(const char* a, const char* b, size_t n) { return strncmp(a, b, n); }
size_t span_until(const char* s, const char* reject) { return strcspn(s, reject); }
size_t span_of(const char* s, const char* accept) { return strspn(s, accept); }
const char* find_char(const char* s, int c) { return strchr(s, c); }
const char* find_string(const char* haystack, const char* needle) { return strstr(haystack, needle); }

/* Two loads from one base: one check covers both (merged); a fault still names the
 * load that is out of bounds. */
long two_words(const long* p) { return p[0] + p[1]; }
/* A load from another pointer between them: it may fault first, so no merging across it. */
long words_around(const long* p, const long* q) { return p[0] + q[0] + p[1]; }

/* A store, then a load from the same base: one check covers both (a versioned group);
 * when p[1] is outside, the store to p[0] has happened before the fault, as on Morello. */
long store_then_load(long* p, long v) {
  p[0] = v;
  return p[1];
}
/* Two loads from one base with a call between them: when p[1] is outside, the call has
 * run before the fault. */
__attribute__((noinline)) static void count_call(int* calls) { ++*calls; }
long load_call_load(const long* p, int* calls) {
  long first = p[0];
  count_call(calls);
  return first + p[1];
}

/* Checks that always run first prove a later access's range: p[0] and p[8] bound p[4]
 * (the window is contiguous), so its check is dropped. p[12], read only when `far`,
 * does not run before the last read and proves nothing about it. */
int dominated(volatile int* p, int far) {
  int sum = p[0] + p[8];
  if (far) sum += p[12];
  return sum + p[4] + p[10];
}

/* A store, then a load through the same pointer up to 4096 bytes on: the store's fast
 * comparison stands for the load's (shared). 8 bytes further is past what it covers. */
long share_window(long* p) {
  p[0] = 1;
  return p[511];
}
long past_window(long* p) {
  p[0] = 1;
  return p[512];
}
/* A load, then a store below it through the same pointer: the shared comparison is of
 * the pointer itself, which covers both. */
long store_below(long* p) {
  const long v = p[10];
  p[0] = v;
  return v;
}
/* A load, then a store of other bytes: under a DDC that allows loads only, the store
 * faults though it shares the load's comparison. */
void copy_forward(long* p) { p[300] = p[0]; }

/* memcmp compared with zero: LLVM's library-call simplification turns it into bcmp. */
int same_bytes(const void* a, const void* b, size_t n) { return memcmp(a, b, n) == 0; }

/* A mutex locked and unlocked: the pass checks the object in line and calls the C
 * library directly (no wrapper). */
int lock_and_unlock(pthread_mutex_t* m) {
  const int locked = pthread_mutex_lock(m);
  return locked != 0 ? locked : pthread_mutex_unlock(m);
}

/* A load, then a store of the same bytes: under a DDC that allows loads only, the store
 * still faults, though the load's check dominates it. */
void increment(long* p) { *p += 1; }

/* A system call that fills in a structure of the caller's. */
int file_status(int fd, struct stat* out) { return fstat(fd, out); }
