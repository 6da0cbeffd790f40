// What the C library wrappers (hybrid_libc.cc, hybrid_libc_system.cc) share: the checks
// of the ranges a call will touch, against the running compartment's DDC, and its heap.
#pragma once

#include <cstddef>
#include <cstdint>

#include "flexcap/cc/hybrid_abi.h"

namespace flexcap::rt {
class Heap;
}

namespace flexcap::cc::libc {

// The bytes hybrid code may read from `p` on: up to the end of the DDC's load window
// (0 when `p` is outside it).
std::uint64_t readable_from(const void* p);
// Whether [p, p + bytes) is inside `w`.
bool inside(const flexcap_hybrid_window& w, const void* p, std::uint64_t bytes);
// The in-line check of the pass, for a range the C library will touch: faults as the
// access itself would.
void check(const void* p, std::uint64_t bytes, flexcap_hybrid_access access);
void check_read(const void* p, std::uint64_t bytes);
void check_write(void* p, std::uint64_t bytes);
// A string's length, looked for only inside the DDC (a string with no NUL before the DDC
// ends faults at the first byte past it); check_string checks it with its NUL and returns
// the length.
std::size_t checked_strlen(const char* s);
std::size_t checked_strnlen(const char* s, std::size_t max);
std::size_t check_string(const char* s);
// strcmp-like `compare` of at most n bytes, checking only the bytes it reads (both
// strings up to the first difference or their end): hybrid_libc.cc.
int checked_compare(const char* a, const char* b, std::size_t n, int (*compare)(const char*, const char*, std::size_t));

// The running compartment's heap (nullptr before the image starts); whether `p` is a
// block of it (faults if it is another compartment's); an allocation from it.
flexcap::rt::Heap* current_heap();
bool from_current_heap(void* p);
void* allocate(std::size_t bytes, std::size_t alignment);

}  // namespace flexcap::cc::libc
