// What the cc tests share: running a body as hybrid code of a compartment.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "flexcap/cc/hybrid_runtime.hh"
#include "flexcap/rt/runtime.hh"
#include "flexcap/rt/stack.hh"

namespace flexcap::cc::test {

// Runs `body` as the runtime runs hybrid code: `state` (its DDC and PCC) installed, on
// `stack`. Returns the capability fault's text, or "" if it ran without one.
inline std::string run_as_hybrid(const HybridState& state, std::span<std::byte> stack,
                                 const std::function<void()>& body) {
  std::string fault;
  install_hybrid_state(state);
  rt::run_on_stack(stack, [&] {
    try {
      body();
    } catch (const rt::CompartmentFault& f) {
      fault = f.cause;
    }
  });
  uninstall_hybrid_state();
  return fault;
}

}  // namespace flexcap::cc::test
