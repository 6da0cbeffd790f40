// flexcap/rt/gate_error.hh — why a call across a gate did not return normally.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace flexcap::rt {

enum class GateErrorKind {
  Fault,              // the callee faulted (capability fault, page fault, crash)
  CompartmentFailed,  // the callee had faulted before and its restart policy is `never`
  BadArgument,        // an argument is memory the callee may not be given (see message)
  NotExported,        // the configuration does not let the caller call this function
};

std::string_view to_string(GateErrorKind kind);

struct GateError {
  GateErrorKind kind = GateErrorKind::Fault;
  std::string compartment;    // the compartment that faulted or refused
  std::string function;       // the export that was called
  std::uint64_t address = 0;  // the faulting address, when there is one
  std::string cause;          // what happened, in a sentence

  // "gate to b.pong: fault in compartment 'b' at 0x7f...: page fault: write to ..."
  std::string describe() const;
};

}  // namespace flexcap::rt
