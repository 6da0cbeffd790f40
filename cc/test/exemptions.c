/* Accesses the hybrid pass leaves unchecked, and their neighbours that it must check
 * (exemption_test.sh reads the pass's report). Ordinary C. */
#include <stdint.h>

uint8_t table[256];
uint8_t small_table[200];

/* Inside `table` whatever c is: exempt when the library's globals lie in its region. */
uint8_t global_byte_index(unsigned char c) { return table[c]; }
/* A constant offset into it: exempt as well. */
void global_constant_offset(void) { table[17] = 1; }
/* May leave it (i up to 4 billion; c up to 255 in a 200-byte table): checked. */
uint8_t global_any_index(unsigned i) { return table[i]; }
uint8_t global_byte_index_too_far(unsigned char c) { return small_table[c]; }

/* A local array indexed within its length: exempt. Past it (i & 15 in 8 ints): checked. */
int local_masked_index(int i, int j) {
  volatile int local[8];
  for (int k = 0; k < 8; ++k) local[k] = k;
  local[i & 7] = j;
  return local[(i + 1) & 7] + local[j & 15];
}

/* Not an exemption, but no check either: p[4] lies between p[0] and p[8], whose checks
 * always run before it (volatile: three loads, not merged into one check). */
int dominated_sum(volatile int* p) { return p[0] + p[8] + p[4]; }
