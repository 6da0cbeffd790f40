/* Ordinary C, compiled hybrid: checked against the running compartment's DDC on cheri. */
#include <stdint.h>

uint64_t stranger_raw_read(const uint64_t* address) { return *(const volatile uint64_t*)address; }

void stranger_raw_write(uint64_t* address, uint64_t value) { *(volatile uint64_t*)address = value; }
