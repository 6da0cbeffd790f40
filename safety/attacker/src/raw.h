/* raw.c: the attacker's C, for attack_attacker.cc. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
uint64_t raw_read(const uint64_t* address);
void raw_write(uint64_t* address, uint64_t value);
void raw_fill_off_by_one(uint8_t* buffer, size_t length, uint8_t value);
void raw_call(void (*function)(void));
void raw_call_direct(void);
/* Defined in the victim's code (attack_victim.cc), and not exported through a gate. */
void flexcap_attack_victim_overwrite(void);
#ifdef __cplusplus
}
#endif
