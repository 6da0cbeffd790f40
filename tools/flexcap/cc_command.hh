// `flexcap cc`: clang-14 with FlexCap's pass, for C code that runs in a compartment.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace flexcap::tools {

// `flexcap cc [--abi hybrid|plain] [--library NAME] [--count-checks] [--no-stack-exemption]
// CLANG-ARGS...`
// Runs clang-14 with CLANG-ARGS. With --abi hybrid (the default) the hybrid pass checks
// every access of the code against the running compartment's DDC and PCC, and when
// compiling to an object (-c -o X) writes what it checked to X.hybrid.json. Returns the
// compiler's exit status.
int cc_command(const std::vector<std::string>& args, std::ostream& err);

}  // namespace flexcap::tools
