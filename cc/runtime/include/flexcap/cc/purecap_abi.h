/* flexcap/cc/purecap_abi.h — the contract between code compiled purecap and FlexCap.
 *
 * In a pure-capability program on Morello every pointer is a capability: its own bounds,
 * set when the object it points to was made (malloc, a local, a global) and rounded as
 * Morello's compressed bounds require, checked by the hardware at every use. FlexCap's
 * purecap pass (cc/pass/purecap_pass.cc) gives unmodified C the same in software: every
 * pointer value carries its capability's bounds beside it, [base, top), and every access
 * through it is checked against them in line.
 *
 * Where the bounds travel:
 *  - in registers: beside the pointer, as two more values the pass adds to the code;
 *  - across calls between instrumented functions: in the thread's slots below, one per
 *    pointer argument and one for a returned pointer, each with the pointer's value so
 *    that the callee can tell the slot was written for it (a caller that is not
 *    instrumented — the C library calling a comparator, hybrid or C++ code in an image —
 *    wrote nothing there: the pointer is then foreign, and gets the bounds of the running
 *    compartment's DDC, flexcap_hybrid_registers.load in hybrid_abi.h: the whole address
 *    space outside images; a foreign pointer to a function gets all of memory, a code
 *    capability's bounds);
 *  - in memory: a shadow entry per 8-byte slot that holds a pointer, with the value stored
 *    (flexcap_purecap_load_meta below). A pointer loaded from a slot whose shadow is for
 *    another value (the slot was overwritten by data, or never held a pointer) is
 *    untagged, as a capability loaded from memory whose tag was cleared: using it faults.
 *
 * Untagged bounds are [0, 0): every access through them fails the in-line check, and the
 * slow path reports a tag fault. This header is C so that the runtime and the pass's
 * assumptions can be checked against it.
 */
#ifndef FLEXCAP_CC_PURECAP_ABI_H
#define FLEXCAP_CC_PURECAP_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A pointer and its capability's bounds, [base, top). */
struct flexcap_purecap_slot {
  uint64_t value;
  uint64_t base;
  uint64_t top;
};

/* The bounds alone, as the runtime returns them (in two registers). */
struct flexcap_purecap_bounds {
  uint64_t base;
  uint64_t top;
};

/* Pointer arguments beyond this many arrive with the bounds of all memory. */
#define FLEXCAP_PURECAP_ARGUMENT_SLOTS 16

/* Written by the caller before each call, read by the callee at its entry (slot i for
 * argument i); the returned pointer's, written before `ret`, read after the call. */
extern __thread struct flexcap_purecap_slot flexcap_purecap_arguments[FLEXCAP_PURECAP_ARGUMENT_SLOTS];
extern __thread struct flexcap_purecap_slot flexcap_purecap_return;

/* The pointers among a variadic call's arguments, in order, and how many: what va_arg
 * in the callee finds by value (flexcap_purecap_variadic_meta). A pointer va_arg reads
 * that is not there gets all of memory. */
extern __thread struct flexcap_purecap_slot flexcap_purecap_variadic[FLEXCAP_PURECAP_ARGUMENT_SLOTS];
extern __thread uint64_t flexcap_purecap_variadic_count;
struct flexcap_purecap_bounds flexcap_purecap_variadic_meta(uint64_t value);

/* The shadow of memory, two levels: flexcap_purecap_shadow[address >> CHUNK_SHIFT] is
 * null or a chunk of entries, one per 8-byte slot of that 64 MiB of address space, each
 * {value stored, base, top} ({0, 0, 0} where no pointer is). Instrumented code reads and
 * writes an existing chunk's entries in line and calls the functions below for the rest
 * (a chunk to make, a misaligned slot, tracing on). */
#define FLEXCAP_PURECAP_SHADOW_CHUNK_SHIFT 26
#define FLEXCAP_PURECAP_SHADOW_CHUNKS (1u << (47 - FLEXCAP_PURECAP_SHADOW_CHUNK_SHIFT))
extern struct flexcap_purecap_slot* flexcap_purecap_shadow[FLEXCAP_PURECAP_SHADOW_CHUNKS];
/* Non-zero while FLEXCAP_PURECAP_TRACE is set: every untagged load and store then goes
 * through the functions below, which say where tags were lost. */
extern int flexcap_purecap_trace;

/* The bounds of the pointer stored at `address` (8-byte aligned) if it still holds
 * `value`; untagged [0, 0) otherwise. */
struct flexcap_purecap_bounds flexcap_purecap_load_meta(uint64_t address, uint64_t value);
/* A pointer `value` with bounds [base, top) was stored at `address`. */
void flexcap_purecap_store_meta(uint64_t address, uint64_t value, uint64_t base, uint64_t top);
/* After memcpy/memmove of `bytes` from `from` to `to`: the pointers copied keep their
 * tags (aligned slots only, as on CHERI). */
void flexcap_purecap_copy_meta(uint64_t to, uint64_t from, uint64_t bytes);

/* Called when an in-line check fails: raises the capability fault that Cap<T> raises for
 * the same access through a capability with these bounds (a tag fault for [0, 0)).
 * `access`: 0 load, 1 store, 2 load and store (atomics), 3 execute (an indirect call
 * through a pointer that is not a code capability: a data capability lacks Execute). */
__attribute__((noreturn)) void flexcap_purecap_fault(uint64_t address, uint64_t size, uint32_t access, uint64_t base,
                                                     uint64_t top);

/* What the pass counts at run time in builds compiled to count (flexcap bench purecap). */
extern __thread uint64_t flexcap_purecap_checks;

/* The memory the shadow holds now: its chunks' pages in memory, in bytes (mincore). */
uint64_t flexcap_purecap_shadow_resident_bytes(void);

#ifdef __cplusplus
}
#endif

#endif /* FLEXCAP_CC_PURECAP_ABI_H */
