// flexcap/cap/cap.hh — the whole capability model in one include.
//
// capability.hh   the 129-bit value and the instructions that derive capabilities
// permissions.hh  the 18 permission bits
// access.hh       the checks an access makes; fault.hh what a refused access reports
// tagged_memory.hh memory with a tag per 16-byte granule
// cap_ref.hh      Cap<T>, the typed checked reference that ported code uses
// conformance.hh  the evaluator for the Morello reference vectors
// revocation.hh   revocation of capabilities to freed memory: shadow, sweep, load filter
#pragma once

#include "flexcap/cap/access.hh"
#include "flexcap/cap/cap_ref.hh"
#include "flexcap/cap/capability.hh"
#include "flexcap/cap/conformance.hh"
#include "flexcap/cap/fault.hh"
#include "flexcap/cap/permissions.hh"
#include "flexcap/cap/revocation.hh"
#include "flexcap/cap/tagged_memory.hh"
