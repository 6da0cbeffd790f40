/* Ordinary C, compiled hybrid: on cheri every access below is checked against the
 * running compartment's DDC. */
#include "writer.h"

#include "flexcap/rt/overlap.h"

/* In the overlap region above this compartment (sharing: overlap), else its own. */
FLEXCAP_OVERLAP_SHARED uint64_t writer_shared[2];
/* Its own globals, as always (the pass places them in its compartment). */
uint64_t writer_own[2];

uint64_t* writer_publish(uint64_t value) {
  ((volatile uint64_t*)writer_shared)[0] = value;
  ((volatile uint64_t*)writer_own)[0] = value;
  return writer_shared;
}

uint64_t writer_read_shared(void) { return ((volatile uint64_t*)writer_shared)[0]; }

uint64_t* writer_private(void) { return writer_own; }
