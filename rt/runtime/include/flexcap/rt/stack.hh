// flexcap/rt/stack.hh — running code on a stack of the runtime's choosing.
//
// On Morello a compartment's stack lies inside its DDC, so that its own stack accesses
// pass the DDC check like any other. FlexCap gives hybrid code the same: the runtime
// runs it on a stack carved from the compartment's region.
//
//   rt::run_on_stack(stack, [&] { result = hybrid_function(argument); });
//
// An exception thrown on that stack (a capability fault) unwinds back across the
// switch to the caller's stack: the switch keeps a frame pointer chain the unwinder
// follows.
#pragma once

#include <cstddef>
#include <span>
#include <type_traits>

namespace flexcap::rt {

namespace internal {
void run_on_stack(std::span<std::byte> stack, void (*body)(void*), void* argument);
}

// Runs `body()` with the stack pointer at the top of `stack` (16-byte aligned), then
// returns on the caller's stack. `stack` must stay valid and unused meanwhile.
template <class Body>
void run_on_stack(std::span<std::byte> stack, Body&& body) {
  internal::run_on_stack(
      stack, [](void* b) { (*static_cast<std::remove_reference_t<Body>*>(b))(); }, &body);
}

class Runtime;
class Compartment;

// A copy of a program's arguments (the array and its strings) in `home`'s heap: hybrid
// code reads argv through its DDC, and the process stack where the kernel put the
// originals is outside every compartment.
char** arguments_in(Compartment& home, int argc, char** argv);

// On cheri, the C library's view of the program moves into the default compartment too:
// `environ` becomes a copy of the environment in its heap, and program_invocation_name
// (and its short form) point into `arguments` (arguments_in's copy), so that unmodified
// hybrid code reads them through its DDC (Redis's setproctitle; getenv's answers).
// Elsewhere nothing changes: on the page backends other compartments read the
// environment too, and the default compartment's region is closed to them.
void environment_in(Runtime& runtime, char** arguments);

// Runs `body()` on the stack of the image's default compartment (its region's top), as
// the compartment's own code: flexcap::image::run_main uses it. On cheri only, whose
// gates give every compartment its own stack; elsewhere `body` runs where it is called.
void run_on_default_stack(Runtime& runtime, void (*body)(void*), void* argument);
template <class Body>
void run_on_default_stack(Runtime& runtime, Body&& body) {
  run_on_default_stack(
      runtime, [](void* b) { (*static_cast<std::remove_reference_t<Body>*>(b))(); }, &body);
}

}  // namespace flexcap::rt
