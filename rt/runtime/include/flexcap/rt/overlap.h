/* flexcap/rt/overlap.h — data that neighbouring compartments share by overlap (C and C++).
 *
 * With `sharing: overlap` (the cheri driver; PLOS'23's second way of sharing), each
 * compartment's DDC reaches over the region it shares with each neighbour in the
 * configuration's compartment list:
 *
 *   [ C0 ][ S01 ][ C1 ][ S12 ][ C2 ]        DDC of C1 = [ S01 ][ C1 ][ S12 ]
 *
 * A global marked FLEXCAP_OVERLAP_SHARED lives in the shared region after its library's
 * compartment (S01 for a library in C0; the last compartment uses the one before it),
 * so plain pointers to it work in both neighbours, and fault in every other
 * compartment:
 *
 *   #include "flexcap/rt/overlap.h"
 *   FLEXCAP_OVERLAP_SHARED char file_buffer[4096];   // C0 writes it, C1 reads it
 *
 * Under any other sharing the same global stays in its library's own compartment, as
 * its other globals do: private, handed to others only as a capability through a gate.
 *
 * The regions are zero-filled memory (like .bss): such a global has no initial value of
 * its own (an initializer other than zero is a compile error) and is not cleared when a
 * neighbour restarts. The library must be built into an image, where FlexCap names it
 * (FLEXCAP_CURRENT_LIBRARY: C++ objects, and C compiled by `flexcap cc --library`).
 */
#ifndef FLEXCAP_RT_OVERLAP_H
#define FLEXCAP_RT_OVERLAP_H

#ifndef FLEXCAP_CURRENT_LIBRARY
#define FLEXCAP_OVERLAP_SHARED \
  _Pragma("GCC error \"FLEXCAP_OVERLAP_SHARED needs FLEXCAP_CURRENT_LIBRARY: build the library into an image\"")
#else
/* A section named after the library: the image's linker script (flexcap_image.ld)
 * places it in the library's overlap region, or in its compartment. The `.bss.` prefix
 * makes the compilers refuse a non-zero initializer, which the region could not hold. */
#define FLEXCAP_OVERLAP_SHARED __attribute__((section(".bss.flexcap_overlap_" FLEXCAP_CURRENT_LIBRARY), aligned(16)))
#endif

#endif /* FLEXCAP_RT_OVERLAP_H */
