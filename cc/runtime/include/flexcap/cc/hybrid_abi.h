/* flexcap/cc/hybrid_abi.h — the contract between code compiled hybrid and FlexCap.
 *
 * On Morello, hybrid code's ordinary loads and stores are checked by the hardware
 * against the default data capability (DDC), and its branches against the program
 * counter capability (PCC). FlexCap's pass (cc/pass) makes unmodified C behave the same
 * in software: before every access it compares the address with the window below, in
 * line, and only when that comparison fails does it call flexcap_hybrid_slow_check,
 * which decides exactly as the capability model does and raises the capability fault.
 *
 * The windows are the fast form of the capabilities the switcher installs: a window is
 * [base, base + length) where the capability is tagged, unsealed and has the access's
 * permission. Only the runtime writes them (cc/runtime, called by the cheri switcher);
 * it is never instrumented itself, and the pass refuses to instrument it.
 *
 * Invariant the pass relies on: every published length is at least 4096, so that
 * `length - size` cannot wrap for a constant range of up to 4096 bytes (one access, or
 * loads merged into one check). A capability that allows nothing, or less than 4096
 * bytes (no compartment's region is that small), is published as a window no user-space
 * address passes; the slow path then decides precisely. This header is C so
 * that C code (and the pass's assumptions) can be checked against it.
 */
#ifndef FLEXCAP_CC_HYBRID_ABI_H
#define FLEXCAP_CC_HYBRID_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct flexcap_hybrid_window {
  uint64_t base;
  uint64_t length;
};

/* Field order and sizes are the pass's too (cc/pass/hybrid_pass.cc). */
struct flexcap_hybrid_registers {
  struct flexcap_hybrid_window load;     /* DDC, for loads */
  struct flexcap_hybrid_window store;    /* DDC, for stores */
  struct flexcap_hybrid_window execute;  /* PCC, for indirect calls */
  uint64_t checks;                       /* checks made, in builds compiled to count them */
  /* The fast window of loads and stores of a constant size (up to 4096 bytes): where the
   * DDC allows both, its base and `length - 4096`; else a base no user-space address
   * reaches (limit 0). The pass compares every such access, whatever its kind and size,
   * as `address - fast_base > fast_limit`: one base and one limit per function, which
   * stay in registers. An access that fails it (one in the DDC's last 4096 bytes, or
   * under a DDC that is not both readable and writable) is decided exactly against
   * `load` or `store`, in line, on the cold path. */
  uint64_t fast_base, fast_limit;
};

/* The running code's windows (this thread's). */
extern __thread struct flexcap_hybrid_registers flexcap_hybrid_registers;

/* Every compartment's code, one range (the image's linker script places the
 * compartments' code sections side by side). A direct call to a function defined outside
 * the calling module faults when its target lies here but outside the running PCC: as on
 * Morello, where the fetch at the target would fault. A target outside this range (the C
 * library, the runtime) is code every compartment may call. Empty until the cheri
 * switcher starts; written once, by the runtime. */
extern struct flexcap_hybrid_window flexcap_hybrid_compartment_code;

/* The kinds of access the pass checks. */
enum flexcap_hybrid_access {
  FLEXCAP_HYBRID_LOAD = 0,
  FLEXCAP_HYBRID_STORE = 1,
  FLEXCAP_HYBRID_LOAD_STORE = 2, /* atomics: read-modify-write, compare-exchange */
  FLEXCAP_HYBRID_EXECUTE = 3     /* a call's target: every indirect call, and direct calls out of the module */
};

/* Decides an access exactly: returns if the model allows it (a capability shorter than
 * 4096 bytes), else raises the capability fault that
 * Cap<T> would raise (the gate into the compartment turns it into a GateError). */
void flexcap_hybrid_slow_check(uint64_t address, uint64_t size, uint32_t access);

/* What the pass calls when the exact in-line comparison fails: raises the capability
 * fault and never returns, so that the code around a check keeps nothing alive for it. An access
 * the model would allow all the same (only under a DDC shorter than 4096 bytes, which no
 * compartment has) is refused with a fault that says so. */
__attribute__((noreturn)) void flexcap_hybrid_fault(uint64_t address, uint64_t size, uint32_t access);

/* Hybrid globals live in their compartment's region, which the loader leaves zeroed
 * (a NOLOAD section): the pass gives every global with an initial value a constant copy
 * of it elsewhere and registers the pair from a constructor. The runtime copies it in
 * now, and again whenever the compartment restarts. */
void flexcap_hybrid_register_global(void* global, const void* initial, uint64_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* FLEXCAP_CC_HYBRID_ABI_H */
