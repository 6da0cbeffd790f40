/* Ordinary C compiled purecap inside an image (ABI purecap): every pointer a capability
 * with its object's bounds, on every driver. */
#include <stddef.h>
#include <stdint.h>

static int64_t g_table[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* Its own global, through a pointer: element 16 is past the table's capability, though
 * still inside the compartment's region (where a hybrid DDC would let it through). */
int64_t table_at(size_t i) {
  const int64_t* volatile p = g_table;
  return p[i];
}

/* A pointer from code that is not purecap (the C++ beside it): a capability derived from
 * the running compartment's DDC, so reading past the DDC faults on cheri. */
int64_t table_sum(const int64_t* values, size_t n) {
  int64_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += ((const volatile int64_t*)values)[i];
  return sum;
}
