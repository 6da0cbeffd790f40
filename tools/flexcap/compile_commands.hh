// What the build runs: `flexcap cc` (clang-14 with the pass) and `flexcap image-header`.
// Both are in flexcap and, alone, in flexcap-compile, the executable the build's rules
// call: the objects and headers it makes then depend on these sources only, and an edit
// to the rest of the command line does not rebuild every image and SQLite and Redis.
#pragma once

#include <string_view>

namespace flexcap::tools {

// "cc" or "image-header".
bool is_compile_command(std::string_view name);

// Runs argv[1] (cc or image-header) with the arguments after it; returns the exit status.
int compile_command(int argc, char** argv);

}  // namespace flexcap::tools
