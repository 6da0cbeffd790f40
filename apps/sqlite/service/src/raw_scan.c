/* The test-only hook of flexcap attack's `sqlite-reads-ramfs`: what a memory bug or an
 * exploit in SQLite's compartment would do, written as SQLite's own C is (ordinary
 * pointers, compiled hybrid on cheri, so every load here is checked against the
 * compartment's DDC). */
#include "raw_scan.h"

int64_t flexcap_raw_scan(uint64_t base, uint64_t size, const char* needle, uint64_t length) {
  const volatile char* memory = (const volatile char*)base;
  for (uint64_t at = 0; at + length <= size; ++at) {
    uint64_t i = 0;
    while (i < length && memory[at + i] == needle[i]) ++i;
    if (i == length) return (int64_t)at;
  }
  return -1;
}
