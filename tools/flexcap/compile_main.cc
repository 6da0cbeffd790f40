// flexcap-compile: what the build runs, alone (compile_commands.hh).
//   flexcap-compile cc [--abi hybrid|purecap|plain] CLANG-ARGS...
//   flexcap-compile image-header CONFIG --libraries L,... --out FILE [--target T]
#include <iostream>

#include "compile_commands.hh"

int main(int argc, char** argv) {
  if (argc < 2 || !flexcap::tools::is_compile_command(argv[1])) {
    std::cerr << "usage: flexcap-compile cc [--abi hybrid|purecap|plain] CLANG-ARGS...\n"
                 "       flexcap-compile image-header CONFIG --libraries L,... --out FILE [--target T]\n"
                 "(the build's half of flexcap: `flexcap cc` and `flexcap image-header` are the same commands)\n";
    return 2;
  }
  return flexcap::tools::compile_command(argc, argv);
}
