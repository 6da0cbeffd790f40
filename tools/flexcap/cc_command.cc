#include "cc_command.hh"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <ostream>

#include "flexcap/rt/config.hh"

namespace flexcap::tools {
namespace {

// This executable's path (to run `flexcap cc` again for each source).
std::string self_path() {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("flexcap") : p.string();
}

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

// Splits "a|b|c" (how the build passes the runtime's libraries).
std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t end = std::min(list.find('|', start), list.size());
    if (end > start) items.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

bool is_source(const std::string& a) {
  return a.size() > 2 && a[0] != '-' && (a.ends_with(".c") || a.ends_with(".i"));
}

// `flexcap cc --abi purecap|hybrid [FLAGS] SOURCES... [-o PROG]`, without -c: each C
// source is compiled with that ABI (this command, with -c), then everything is linked
// with the runtime and main's wrapper (cc/runtime/src/standalone_main.cc) into a
// standalone program that runs as one compartment.
int link_standalone(const std::string& self, const std::string& abi, const std::vector<std::string>& args,
                    std::size_t first, bool count_checks, bool subobject_bounds, std::ostream& err) {
  std::vector<std::string> compile_flags, sources, link_inputs;
  std::string out = "a.out";
  for (std::size_t i = first; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o" && i + 1 < args.size()) {
      out = args[++i];
    } else if (is_source(a)) {
      sources.push_back(a);
    } else if (a.rfind("-l", 0) == 0 || a.rfind("-L", 0) == 0 || a.rfind("-Wl,", 0) == 0 || a.ends_with(".o") ||
               a.ends_with(".a")) {
      link_inputs.push_back(a);
    } else {
      compile_flags.push_back(a);
    }
  }
  if (sources.empty() && link_inputs.empty()) {
    err << "flexcap cc: nothing to compile or link. Usage: flexcap cc --abi " << abi << " [FLAGS] prog.c -o prog\n";
    return 2;
  }
  std::vector<std::string> objects;
  for (const std::string& source : sources) {
    const std::string object = out + "." + std::filesystem::path(source).stem().string() + ".o";
    std::vector<std::string> compile = {self, "cc", "--abi", abi};
    if (count_checks) compile.push_back("--count-checks");
    if (subobject_bounds) compile.push_back("--subobject-bounds");
    compile.insert(compile.end(), compile_flags.begin(), compile_flags.end());
    compile.insert(compile.end(), {"-c", source, "-o", object});
    if (const int status = run_command(compile); status != 0) return status < 0 ? 2 : status;
    objects.push_back(object);
  }
  std::vector<std::string> link = {FLEXCAP_CXX};
  for (const std::string& flag : split_list(FLEXCAP_STANDALONE_LINK_FLAGS)) link.push_back(flag);
  link.push_back("-Wl,--wrap=main");
  link.insert(link.end(), objects.begin(), objects.end());
  link.insert(link.end(), link_inputs.begin(), link_inputs.end());
  link.push_back("-Wl,--start-group");
  for (const std::string& library : split_list(FLEXCAP_STANDALONE_LIBRARIES)) link.push_back(library);
  link.insert(link.end(), {"-Wl,--end-group", "-lyaml-cpp", "-lpthread", "-lm", "-o", out});
  const int status = run_command(link);
  for (const std::string& object : objects) std::filesystem::remove(object);
  if (status != 0) {
    err << "flexcap cc: linking " << out << " failed\n";
    return status < 0 ? 2 : status;
  }
  return 0;
}

}  // namespace

int cc_command(const std::vector<std::string>& args, std::ostream& err) {
  std::string abi = "hybrid";
  bool count_checks = false;
  bool subobject_bounds = false;  // purecap: pointers to structure members narrowed to the member
  bool stack_exemption = true;
  bool global_exemption = true;
  bool drop_dominated = true;
  bool share_comparisons = true;
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
    } else if (a == "--subobject-bounds") {
      subobject_bounds = true;
    } else if (a == "--no-stack-exemption") {
      stack_exemption = false;
    } else if (a == "--no-global-exemption") {
      global_exemption = false;
    } else if (a == "--keep-dominated-checks") {
      drop_dominated = false;
    } else if (a == "--no-shared-comparisons") {
      share_comparisons = false;
    } else if (a == "--library" && first + 1 < args.size()) {
      library = args[++first];
    } else if (a == "--expect-abi" && first + 1 < args.size()) {
      expected_abi = args[++first];
    } else if (a == "--prebuilt" && first + 1 < args.size()) {
      prebuilt = args[++first];
    } else if (a == "--help") {
      err << "usage: flexcap cc [--abi hybrid|purecap|plain | --abi-of CONFIG] [--library NAME] [--count-checks] "
             "[--subobject-bounds] [--no-stack-exemption] [--no-global-exemption] "
             "[--keep-dominated-checks] [--no-shared-comparisons] CLANG-ARGS...\n"
             "  --abi hybrid          check every access against the compartment's DDC/PCC (the default)\n"
             "  --abi purecap         every pointer a capability with Morello's bounds, checked at every use\n"
             "  --abi plain           no checks (with --library, the globals are still placed)\n"
             "  --abi-of CONFIG       hybrid if the configuration's driver is cheri, else plain\n"
             "  --library NAME        the code is micro-library NAME of an image: its globals go in its\n"
             "                        compartment's region (section flexcap_lib_NAME_globals); defines\n"
             "                        FLEXCAP_CURRENT_LIBRARY and finds flexcap/rt/overlap.h\n"
             "  --count-checks        count the checks made at run time (flexcap bench hybrid, purecap)\n"
             "  --subobject-bounds    purecap: a pointer to a structure's member is bounded to the member\n"
             "                        (CHERI LLVM's subobject-safe mode; off by default, as there)\n"
             "  --prebuilt PREFIX -o OUT\n"
             "                        no compilation: OUT is PREFIX.<abi>.o (C compiled once per ABI, such as\n"
             "                        SQLite), its globals moved into --library's section\n"
             "  --no-stack-exemption  check accesses that provably stay in the stack frame too\n"
             "  --no-global-exemption check accesses that provably stay inside one of the module's own\n"
             "                        globals too (with --library they lie in the compartment's region)\n"
             "  --keep-dominated-checks\n"
             "                        keep the checks that checks always run before them already proved\n"
             "  --no-shared-comparisons\n"
             "                        hybrid: every load and store makes its own fast comparison (none\n"
             "                        branches on an earlier one's through the same pointer)\n";
      return 0;
    } else {
      break;
    }
  }
  if (abi != "hybrid" && abi != "plain" && abi != "purecap") {
    err << "flexcap cc: unknown ABI '" << abi << "'. Fix: use --abi hybrid, --abi purecap or --abi plain\n";
    return 2;
  }
  if (subobject_bounds && abi != "purecap") {
    err << "flexcap cc: --subobject-bounds is a purecap option. Fix: add --abi purecap, or leave it out\n";
    return 2;
  }
  if (!share_comparisons && abi != "hybrid") {
    err << "flexcap cc: --no-shared-comparisons is a hybrid option. Fix: add --abi hybrid, or leave it out\n";
    return 2;
  }
  if (abi == "purecap" && !prebuilt.empty()) {
    err << "flexcap cc: purecap objects are compiled with each image (--prebuilt is for hybrid and plain ones). Fix: "
        << "list the library's C in its SOURCES\n";
    return 2;
  }
  if (!expected_abi.empty() && expected_abi != abi) {
    err << "flexcap cc: the configuration now needs the " << abi << " ABI, but this image's build was configured for "
        << expected_abi << ". Fix: rerun cmake (flexcap build does it when the driver changes)\n";
    return 2;
  }
  if (!prebuilt.empty()) return prebuilt_object(prebuilt, count_checks ? "count" : abi, library, args, first, err);
  if ((abi == "purecap" || abi == "hybrid") && library.empty()) {
    const bool links = std::none_of(args.begin() + static_cast<std::ptrdiff_t>(first), args.end(), [](const std::string& a) {
      return a == "-c" || a == "-S" || a == "-E" || a == "-M" || a == "-MM";
    });
    if (links) return link_standalone(self_path(), abi, args, first, count_checks, subobject_bounds, err);
  }
  std::vector<std::string> command = {FLEXCAP_CLANG};
  // The pass checks accesses (hybrid) and places a micro-library's globals in its
  // compartment's region (--library, either ABI).
  if (abi == "hybrid" || abi == "purecap" || !library.empty()) {
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
        const std::string report = args[i + 1] + (abi == "purecap" ? ".purecap.json" : ".hybrid.json");
        std::filesystem::remove(report);  // the pass appends: start each compilation afresh
        command.insert(command.end(), {"-mllvm", (abi == "purecap" ? "-flexcap-purecap-report=" : "-flexcap-hybrid-report=") + report});
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
    if (abi == "purecap") command.insert(command.end(), {"-mllvm", "-flexcap-purecap"});
    if (subobject_bounds) command.insert(command.end(), {"-mllvm", "-flexcap-purecap-subobject-bounds"});
    if (count_checks) {
      command.insert(command.end(), {"-mllvm", abi == "purecap" ? "-flexcap-purecap-count" : "-flexcap-hybrid-count"});
    }
    if (!stack_exemption) command.insert(command.end(), {"-mllvm", "-flexcap-hybrid-stack-exemption=false"});
    if (!global_exemption) command.insert(command.end(), {"-mllvm", "-flexcap-hybrid-global-exemption=false"});
    if (!share_comparisons) command.insert(command.end(), {"-mllvm", "-flexcap-hybrid-share-fast-checks=false"});
    if (!drop_dominated) {
      command.insert(command.end(), {"-mllvm", abi == "purecap" ? "-flexcap-purecap-drop-dominated=false"
                                                                : "-flexcap-hybrid-drop-dominated=false"});
    }
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
