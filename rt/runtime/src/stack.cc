// The stack switch: a leaf of assembly that moves the stack pointer, calls, and moves it
// back. Its frame keeps the caller's stack pointer in %rbp and says so in its call frame
// information, so a C++ exception thrown on the new stack unwinds to the caller.
#include "flexcap/rt/stack.hh"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>

#include "flexcap/rt/runtime.hh"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define FLEXCAP_ASAN 1
#endif

extern "C" void flexcap_switch_stack(void* top, void (*body)(void*), void* argument);

#if !defined(__x86_64__)
#error "flexcap_switch_stack is written for x86-64"
#endif

asm(R"(
  .text
  .globl flexcap_switch_stack
  .type flexcap_switch_stack, @function
flexcap_switch_stack:
  .cfi_startproc
  pushq %rbp
  .cfi_def_cfa_offset 16
  .cfi_offset %rbp, -16
  movq %rsp, %rbp
  .cfi_def_cfa_register %rbp
  movq %rdi, %rsp
  movq %rdx, %rdi
  callq *%rsi
  movq %rbp, %rsp
  popq %rbp
  .cfi_def_cfa %rsp, 8
  retq
  .cfi_endproc
  .size flexcap_switch_stack, .-flexcap_switch_stack
  .section .note.GNU-stack,"",@progbits
  .text
)");

namespace flexcap::rt::internal {
namespace {

struct Call {
  void (*body)(void*);
  void* argument;
#ifdef FLEXCAP_ASAN
  const void* caller_bottom = nullptr;
  std::size_t caller_size = 0;
#endif
};

// AddressSanitizer must be told about the stack change, or it takes the new stack for
// an overflow of the old one.
void on_new_stack(void* c) {
  auto* call = static_cast<Call*>(c);
#ifdef FLEXCAP_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &call->caller_bottom, &call->caller_size);
  struct Back {
    Call* call;
    ~Back() { __sanitizer_start_switch_fiber(nullptr, call->caller_bottom, call->caller_size); }
  } back{call};
#endif
  call->body(call->argument);
}

}  // namespace

void run_on_stack(std::span<std::byte> stack, void (*body)(void*), void* argument) {
  const auto top = (reinterpret_cast<std::uintptr_t>(stack.data() + stack.size())) & ~std::uintptr_t{15};
  if (stack.size() < 4096) throw std::invalid_argument("flexcap: a stack needs at least 4 KiB");
  Call call{body, argument};
#ifdef FLEXCAP_ASAN
  // Back on the caller's stack, whether the body returned or threw.
  struct Return {
    void* fake = nullptr;
    ~Return() { __sanitizer_finish_switch_fiber(fake, nullptr, nullptr); }
  } back;
  __sanitizer_start_switch_fiber(&back.fake, stack.data(), stack.size());
#endif
  flexcap_switch_stack(reinterpret_cast<void*>(top), on_new_stack, &call);
}

}  // namespace flexcap::rt::internal

namespace flexcap::rt {

char** arguments_in(Compartment& home, int argc, char** argv) {
  auto** copy = static_cast<char**>(home.heap().allocate((static_cast<std::size_t>(argc) + 1) * sizeof(char*)));
  if (copy == nullptr) throw std::bad_alloc();
  for (int i = 0; i < argc; ++i) {
    const std::size_t n = std::strlen(argv[i]) + 1;
    copy[i] = static_cast<char*>(home.heap().allocate(n));
    if (copy[i] == nullptr) throw std::bad_alloc();
    std::memcpy(copy[i], argv[i], n);
  }
  copy[argc] = nullptr;
  return copy;
}

void environment_in(Runtime& runtime, char** arguments) {
  if (runtime.spec().backend != Backend::Cheri) return;
  Compartment& home = runtime.compartment(runtime.spec().default_compartment);
  int count = 0;
  while (environ != nullptr && environ[count] != nullptr) ++count;
  environ = arguments_in(home, count, environ);
  if (arguments[0] != nullptr) {
    program_invocation_name = arguments[0];
    const char* slash = std::strrchr(arguments[0], '/');
    program_invocation_short_name = slash != nullptr ? const_cast<char*>(slash + 1) : arguments[0];
  }
}

void run_on_default_stack(Runtime& runtime, void (*body)(void*), void* argument) {
  Compartment& home = runtime.compartment(runtime.spec().default_compartment);
  // Only cheri switches stacks at its gates. The page-based backends run a callee on its
  // caller's stack, which must then stay reachable from every compartment: the process
  // stack, not one inside a region that the callee's protections close.
  if (home.stack().empty() || runtime.spec().backend != Backend::Cheri) {  // (empty: a region mapped by hand)
    body(argument);
    return;
  }
  internal::run_on_stack(std::span<std::byte>(home.stack().data(), home.stack_cursor()), body, argument);
}

}  // namespace flexcap::rt
