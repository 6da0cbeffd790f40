/* Ordinary C with the bugs purecap Morello catches, compiled with `flexcap cc --abi
 * purecap` (purecap_fidelity_test.cc runs each one byte inside and one byte outside the
 * object). Nothing here knows about FlexCap. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

char g_buffer[32];
char* volatile g_slot;   /* a pointer kept in memory: its bounds travel in the shadow */
struct pair {
  char* pointer;
  long length;
};
struct pair g_from, g_to;

void* allocate(size_t n) { return malloc(n); }

/* Reads p[i]: p's bounds come with it from the caller. */
int read_at(const char* p, size_t i) { return ((const volatile char*)p)[i]; }

int global_at(size_t i) { return ((volatile char*)g_buffer)[i]; }

int stack_at(size_t i) {
  char local[16];
  memset(local, 7, sizeof local);
  return ((volatile char*)local)[i];
}

int heap_at(size_t n, size_t i) {
  char* p = malloc(n);
  memset(p, 1, n);
  const int v = ((volatile char*)p)[i];
  free(p);
  return v;
}

/* Through memory: stored, loaded back, then used. */
int through_memory(size_t i) {
  g_slot = malloc(8);
  char* p = g_slot;
  return ((volatile char*)p)[i];
}

/* Overwritten by data: the slot's tag is gone, as a data store clears it on CHERI. */
int after_data_overwrite(void) {
  g_slot = malloc(8);
  char* other = malloc(8);
  *(volatile uintptr_t*)&g_slot = (uintptr_t)other;
  char* p = g_slot;
  return ((volatile char*)p)[0];
}

/* A pointer made from a plain integer (not a uintptr_t: in CHERI C a long has no
 * provenance) is untagged. */
int through_integer(void) {
  char* p = malloc(8);
  volatile unsigned long bits = (unsigned long)p;
  char* q = (char*)bits;
  return ((volatile char*)q)[0];
}

/* memcpy of a structure keeps the pointer's tag and bounds. */
int copied_pointer_at(size_t i) {
  g_from.pointer = malloc(8);
  g_from.length = 8;
  memcpy(&g_to, &g_from, sizeof g_to);
  return ((volatile char*)g_to.pointer)[i];
}

/* Returned from one function, used in another. */
static char* __attribute__((noinline)) fresh(size_t n) { return malloc(n); }
int returned_at(size_t n, size_t i) { return ((volatile char*)fresh(n))[i]; }

/* The C library's functions are checked against the pointer's own bounds. */
size_t length_of_unterminated(void) {
  char* p = malloc(4);
  memcpy(p, "abcd", 4);
  return strlen(p);
}

/* uintptr_t arithmetic on a pointer keeps its capability, as in CHERI C: align up. */
int aligned_at(size_t i) {
  char* p = malloc(64);
  char* q = (char*)(((uintptr_t)p + 15) & ~(uintptr_t)15);
  return ((volatile char*)q)[i];
}

/* Pointers in a global's initial value are capabilities too (the loader's, on CHERI). */
static const char* const g_names[] = {"zero", "one", "two"};
int name_at(size_t which, size_t i) { return ((const volatile char*)g_names[which])[i]; }

/* A pointer passed through varargs keeps its bounds. */
static int __attribute__((noinline)) variadic_read(int count, ...) {
  va_list arguments;
  va_start(arguments, count);
  const size_t i = va_arg(arguments, size_t);
  const char* p = va_arg(arguments, const char*);
  va_end(arguments);
  return ((const volatile char*)p)[i];
}
int variadic_at(size_t i) {
  char* p = malloc(8);
  memset(p, 3, 8);
  return variadic_read(2, i, p);
}

