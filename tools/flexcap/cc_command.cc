#include "cc_command.hh"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <ostream>

#include "flexcap/rt/config.hh"

namespace flexcap::tools {
namespace {

// Runs `command` (no shell) and returns its exit status.
int run_command(std::vector<std::string> command) {
  std::vector<char*> argv;
  for (std::string& a : command) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t child = fork();
  if (child == 0) {
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// C that is compiled once per ABI and linked into many images (SQLite: apps/sqlite/source)
// is built as PREFIX.plain.o, PREFIX.hybrid.o and PREFIX.count.o, with `--library
// STEM` (STEM: PREFIX's file name), so that its globals are in section
// flexcap_lib_STEM_globals. An image that links it into micro-library `library` takes
// the object of its ABI and renames that section to the library's, which its linker
// script places in the library's compartment.
int prebuilt_object(const std::string& prefix, const std::string& abi, const std::string& library,
                    const std::vector<std::string>& args, std::size_t first, std::ostream& err) {
  std::string out;
  for (std::size_t i = first; i + 1 < args.size(); ++i) {
    if (args[i] == "-o") out = args[i + 1];
  }
  if (out.empty()) {
    err << "flexcap cc: --prebuilt needs -o OUT (where the object of the image's ABI goes)\n";
    return 2;
  }
  const std::string object = prefix + "." + abi + ".o";
  if (!std::filesystem::is_regular_file(object)) {
    err << "flexcap cc: " << object << " is not built. Fix: build it first (for SQLite: the target sqlite_source), "
        << "or rerun cmake if the configuration's driver changed\n";
    return 2;
  }
  const std::string stem = std::filesystem::path(prefix).filename().string();
  std::vector<std::string> command = {"objcopy"};
  if (!library.empty() && library != stem) {
    command.insert(command.end(), {"--rename-section", "flexcap_lib_" + stem + "_globals=flexcap_lib_" + library +
                                                           "_globals"});
  }
  command.insert(command.end(), {object, out});
  if (run_command(command) != 0) {
    err << "flexcap cc: objcopy could not make " << out << " from " << object << "\n";
    return 2;
  }
  return 0;
}

}  // namespace

int cc_command(const std::vector<std::string>& args, std::ostream& err) {
  std::string abi = "hybrid";
  bool count_checks = false;
  bool stack_exemption = true;
  std::string library;  // the micro-library this code belongs to, when built into an image
  std::string prebuilt;  // link PREBUILT.<abi>.o instead of compiling (see prebuilt_object)
  std::string expected_abi;  // what the build was configured for (--abi-of must agree)
  std::size_t first = 0;
  for (; first < args.size(); ++first) {
    const std::string& a = args[first];
    if (a == "--abi" && first + 1 < args.size()) {
      abi = args[++first];
    } else if (a.rfind("--abi=", 0) == 0) {
      abi = a.substr(6);
    } else if (a == "--abi-of" && first + 1 < args.size()) {
      // The ABI an image's C needs: hybrid where its compartments are isolated by cheri.
      const std::string config = args[++first];
      auto parsed = rt::load_config(config, {}, rt::LibraryCheck::Unchecked);
      if (!parsed) {
        for (const rt::ConfigError& e : parsed.error()) err << e.describe() << '\n';
        return 2;
      }
      abi = parsed->backend() == rt::Backend::Cheri ? "hybrid" : "plain";
    } else if (a == "--count-checks") {
      count_checks = true;
    } else if (a == "--no-stack-exemption") {
      stack_exemption = false;
    } else if (a == "--library" && first + 1 < args.size()) {
      library = args[++first];
    } else if (a == "--expect-abi" && first + 1 < args.size()) {
      expected_abi = args[++first];
    } else if (a == "--prebuilt" && first + 1 < args.size()) {
      prebuilt = args[++first];
    } else if (a == "--help") {
      err << "usage: flexcap cc [--abi hybrid|plain | --abi-of CONFIG] [--library NAME] [--count-checks] "
             "[--no-stack-exemption] "
             "CLANG-ARGS...\n"
             "  --abi hybrid          check every access against the compartment's DDC/PCC (the default)\n"
             "  --abi plain           no checks (with --library, the globals are still placed)\n"
             "  --abi-of CONFIG       hybrid if the configuration's driver is cheri, else plain\n"
             "  --library NAME        the code is micro-library NAME of an image: its globals go in its\n"
             "                        compartment's region (section flexcap_lib_NAME_globals); defines\n"
             "                        FLEXCAP_CURRENT_LIBRARY and finds flexcap/rt/overlap.h\n"
             "  --count-checks        count the checks made at run time (flexcap bench hybrid)\n"
             "  --prebuilt PREFIX -o OUT\n"
             "                        no compilation: OUT is PREFIX.<abi>.o (C compiled once per ABI, such as\n"
             "                        SQLite), its globals moved into --library's section\n"
             "  --no-stack-exemption  check accesses that provably stay in the stack frame too\n";
      return 0;
    } else {
      break;
    }
  }
  if (abi != "hybrid" && abi != "plain") {
    err << "flexcap cc: unknown ABI '" << abi << "'. Fix: use --abi hybrid or --abi plain (purecap is not "
        << "available yet)\n";
    return 2;
  }
  if (!expected_abi.empty() && expected_abi != abi) {
    err << "flexcap cc: the configuration now needs the " << abi << " ABI, but this image's build was configured for "
        << expected_abi << ". Fix: rerun cmake (flexcap build does it when the driver changes)\n";
    return 2;
  }
  if (!prebuilt.empty()) return prebuilt_object(prebuilt, count_checks ? "count" : abi, library, args, first, err);
  std::vector<std::string> command = {FLEXCAP_CLANG};
  // The pass checks accesses (hybrid) and places a micro-library's globals in its
  // compartment's region (--library, either ABI).
  if (abi == "hybrid" || !library.empty()) {
    const std::string plugin = FLEXCAP_HYBRID_PLUGIN;
    if (!std::filesystem::exists(plugin)) {
      err << "flexcap cc: the hybrid pass is not built (" << plugin << "). Fix: cmake --build the tree that built "
          << "this flexcap (target flexcap_hybrid_plugin)\n";
      return 2;
    }
    // -fpass-plugin puts the pass in the pipeline; -load makes its options known to -mllvm.
    command.insert(command.end(), {"-fpass-plugin=" + plugin, "-Xclang", "-load", "-Xclang", plugin});
    for (std::size_t i = first; i + 1 < args.size(); ++i) {
      if (args[i] == "-o") {
        const std::string report = args[i + 1] + ".hybrid.json";
        std::filesystem::remove(report);  // the pass appends: start each compilation afresh
        command.insert(command.end(), {"-mllvm", "-flexcap-hybrid-report=" + report});
      }
    }
    if (!library.empty()) {
      command.insert(command.end(), {"-mllvm", "-flexcap-hybrid-globals-section=flexcap_lib_" + library + "_globals"});
      // The library's name, as its C++ objects have it, and the runtime's C header
      // (flexcap/rt/overlap.h: FLEXCAP_OVERLAP_SHARED places data by this name).
      command.insert(command.end(), {"-DFLEXCAP_CURRENT_LIBRARY=\"" + library + "\"",
                                     "-I" + std::string(FLEXCAP_SOURCE_DIR) + "/rt/runtime/include"});
    }
    if (abi == "plain") command.insert(command.end(), {"-mllvm", "-flexcap-hybrid-checks=false"});
    if (count_checks) command.insert(command.end(), {"-mllvm", "-flexcap-hybrid-count"});
    if (!stack_exemption) command.insert(command.end(), {"-mllvm", "-flexcap-hybrid-stack-exemption=false"});
  }
  command.insert(command.end(), args.begin() + static_cast<std::ptrdiff_t>(first), args.end());
  std::vector<char*> argv;
  for (std::string& a : command) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  err << "flexcap cc: cannot run " << command[0] << ": " << std::strerror(errno) << '\n';
  return 2;
}

}  // namespace flexcap::tools
