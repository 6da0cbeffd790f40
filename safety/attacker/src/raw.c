/* The attacker's unported C: ordinary pointer code, compiled hybrid (flexcap cc). On
 * the cheri backend every access here is checked against the attacker compartment's
 * DDC, as Morello checks hybrid code; elsewhere only the backend's own mechanism
 * stands in its way. */
#include "raw.h"

uint64_t raw_read(const uint64_t* address) { return *(const volatile uint64_t*)address; }

void raw_write(uint64_t* address, uint64_t value) { *(volatile uint64_t*)address = value; }

/* Branches to whatever code `function` points at. */
void raw_call(void (*function)(void)) { function(); }

/* Calls a function of the victim's code by name: no gate, no export, a plain call. */
void raw_call_direct(void) { flexcap_attack_victim_overwrite(); }

/* The classic bug: `<=` where `<` was meant, one byte past the buffer. */
void raw_fill_off_by_one(uint8_t* buffer, size_t length, uint8_t value) {
  for (size_t i = 0; i <= length; ++i) ((volatile uint8_t*)buffer)[i] = value;
}
