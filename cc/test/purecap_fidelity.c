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

/* Checks that always run first prove a later access: p[0] and p[8] bound p[4], whose
 * check is dropped; p[12], read only when `far`, proves nothing about p[10]. */
int dominated(volatile int* p, int far) {
  int sum = p[0] + p[8];
  if (far) sum += p[12];
  return sum + p[4] + p[10];
}

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
  /* Another pointer's address as data: its bytes, not the pointer. */
  const volatile unsigned char* bytes = (const volatile unsigned char*)&other;
  uint64_t data = 0;
  for (int i = 0; i < 8; ++i) data |= (uint64_t)bytes[i] << (8 * i);
  *(volatile uint64_t*)&g_slot = data;
  char* p = g_slot;
  return ((volatile char*)p)[0];
}

/* A pointer forged from bytes (its address rebuilt from the bytes of another) is
 * untagged, as on CHERI, where no integer arithmetic makes a tag. */
int through_integer(void) {
  char* p = malloc(8);
  const volatile unsigned char* bytes = (const volatile unsigned char*)&p;
  uintptr_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= (uintptr_t)bytes[i] << (8 * i);
  char* q = (char*)bits;
  return ((volatile char*)q)[0];
}

/* A pointer kept in a union with an integer, read back either way, keeps its capability. */
union word {
  char* pointer;
  uintptr_t bits;
};
static union word g_word;
int through_union(size_t i) {
  g_word.pointer = malloc(8);
  const volatile uintptr_t* bits = &g_word.bits;
  char* p = (char*)*bits;
  return ((volatile char*)p)[i];
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

/* Two adjacent pointers swapped (the optimizer may move both with one 16-byte load and
 * store): each keeps its own bounds. */
struct two {
  char* left;
  char* right;
};
static struct two g_two;
int swapped_at(size_t i) {
  g_two.left = malloc(8);
  g_two.right = malloc(32);
  char* t = g_two.left;
  g_two.left = g_two.right;
  g_two.right = t;
  struct two* volatile view = &g_two;
  return ((volatile char*)view->left)[i] + ((volatile char*)view->right)[i < 8 ? i : 0];
}

/* The same swap written with a vector of two 64-bit lanes, as the optimizer makes it. */
typedef uint64_t lanes2 __attribute__((vector_size(16)));
int vector_swapped_at(size_t i) {
  g_two.left = malloc(8);
  g_two.right = malloc(32);
  lanes2 v;
  memcpy(&v, &g_two, sizeof v);
  v = __builtin_shufflevector(v, v, 1, 0);
  memcpy(&g_two, &v, sizeof v);
  struct two* volatile view = &g_two;
  return ((volatile char*)view->left)[i] + ((volatile char*)view->right)[i < 8 ? i : 0];
}


/* Indirect calls: through a pointer to a function (a code capability) the call is made;
 * through a pointer forged from an integer (untagged) or through a pointer to data (no
 * Execute permission) it faults before the jump, as on Morello. */
static int __attribute__((noinline)) seven(void) { return 7; }
int call_through(int how) {
  int (*volatile f)(void) = seven;
  if (how == 1) {
    const volatile unsigned char* bytes = (const volatile unsigned char*)&f;
    uintptr_t bits = 0;
    for (int i = 0; i < 8; ++i) bits |= (uintptr_t)bytes[i] << (8 * i);
    f = (int (*)(void))bits;
  } else if (how == 2) {
    f = (int (*)(void))malloc(16);
  }
  return f();
}

/* Two fields through one pointer into an allocation too small for the second: the pass
 * checks the fields' hull once, and still the store to `a` (inside) is made and the fault
 * is raised by the store to `b` (outside), as on Morello. */
struct two_longs { long a, b; };
long* g_small;
int fields_store(void) {
  volatile struct two_longs* p = malloc(8);
  g_small = (long*)p;
  p->a = 1;
  p->b = 2;
  return 0;
}

/* Loops the vectorizer turns into vector code, as CHERI LLVM vectorizes them: a byte loop
 * one past its buffer faults at the first byte past it; pointers stored as a vector keep
 * each lane's capability (the bounds of the array they point into). */
int vector_fill(size_t n) {
  char* p = malloc(64);
  for (size_t i = 0; i < n; ++i) p[i] = (char)i;
  return ((volatile char*)p)[n - 1];
}
struct object24 { char bytes[24]; };
volatile size_t g_object_count = 8;  /* (not a constant: the loop is vectorized, not unrolled) */
int vector_pointers_at(size_t i) {
  const size_t count = g_object_count;
  struct object24* objects = malloc(count * sizeof *objects);
  char** pointers = malloc(count * sizeof *pointers);
  for (size_t k = 0; k < count; ++k) pointers[k] = objects[k].bytes;
  char* volatile* view = pointers;
  return ((volatile char*)view[5])[i];
}
