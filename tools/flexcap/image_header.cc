#include "image_header.hh"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <vector>

#include "flexcap/cap/capability.hh"
#include "flexcap/rt/config.hh"

namespace flexcap::tools {
namespace {

const char* backend_type(rt::Backend backend) {
  switch (backend) {
    case rt::Backend::Fcall: return "::flexcap::rt::FcallBackend";
    case rt::Backend::Mprotect: return "::flexcap::rt::MprotectBackend";
    case rt::Backend::Cheri: return "::flexcap::rt::CheriBackend";
    case rt::Backend::Process: return "::flexcap::rt::ProcessBackend";
    case rt::Backend::IntelPku: return "::flexcap::rt::IntelPkuBackend";
  }
  return nullptr;
}

const char* backend_enum(rt::Backend backend) {
  switch (backend) {
    case rt::Backend::Fcall: return "Fcall";
    case rt::Backend::Mprotect: return "Mprotect";
    case rt::Backend::Cheri: return "Cheri";
    case rt::Backend::IntelPku: return "IntelPku";
    case rt::Backend::Process: return "Process";
  }
  return "Fcall";
}

std::string_view revocation_enum(rt::RevocationPolicy policy) {
  switch (policy) {
    case rt::RevocationPolicy::Off: return "Off";
    case rt::RevocationPolicy::Sweep: return "Sweep";
    case rt::RevocationPolicy::LoadFilter: return "LoadFilter";
    case rt::RevocationPolicy::Pages: return "Pages";
  }
  return "Off";
}

const char* sharing_enum(rt::Sharing sharing) {
  switch (sharing) {
    case rt::Sharing::Capability: return "Capability";
    case rt::Sharing::Copy: return "Copy";
    case rt::Sharing::Overlap: return "Overlap";
  }
  return "Capability";
}

}  // namespace

namespace {

// Where each compartment's region goes, when neighbours overlap (`sharing: overlap`):
//
//   [ C0 ][ S01 ][ C1 ][ S12 ][ C2 ]      DDC(C0) = [C0][S01]
//                                         DDC(C1) = [S01][C1][S12]
//                                         DDC(C2) = [S12][C2]
//
// Every region (C and S) and every DDC window must be bounded exactly by one Morello
// capability: its length representable (RRLEN) and its base aligned for that length
// (RRMASK). The windows overlap, so their bases cannot each be aligned on their own;
// instead every length is a multiple of one alignment that all of them accept, and the
// first region starts on it, so that every boundary falls on it too.
struct OverlapLayout {
  std::uint64_t alignment = 0;              // of every boundary
  std::uint64_t overlap_bytes = 0;          // each S
  std::vector<std::uint64_t> region_bytes;  // each C: its stack, globals and heap
};

std::uint64_t alignment_for(std::uint64_t length) { return ~cap::representable_alignment_mask(length) + 1; }

bool exact_with(std::uint64_t length, std::uint64_t alignment) {
  return cap::representable_length(length) == length && alignment % alignment_for(length) == 0;
}

std::optional<OverlapLayout> overlap_layout(const std::vector<std::uint64_t>& wanted, std::uint64_t overlap_bytes) {
  const std::size_t n = wanted.size();
  const auto round_up = [](std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; };
  for (std::uint64_t alignment = 4096; alignment != 0 && alignment <= (1ull << 40); alignment *= 2) {
    OverlapLayout layout{alignment, round_up(overlap_bytes, alignment), {}};
    if (!exact_with(layout.overlap_bytes, alignment)) continue;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t shared = layout.overlap_bytes * ((i > 0 ? 1 : 0) + (i + 1 < n ? 1 : 0));
      std::uint64_t bytes = round_up(wanted[i], alignment);
      for (int tries = 0; tries < 64 && !(exact_with(bytes, alignment) && exact_with(bytes + shared, alignment));
           ++tries) {
        bytes += alignment;
      }
      if (!exact_with(bytes, alignment) || !exact_with(bytes + shared, alignment)) break;
      layout.region_bytes.push_back(bytes);
    }
    if (layout.region_bytes.size() == n) return layout;
  }
  return std::nullopt;
}

// Rewrites `path` only when its content changes, so that the image recompiles (or
// relinks) only then.
bool write_if_changed(const std::filesystem::path& path, const std::string& text, std::ostream& err) {
  std::ifstream existing(path);
  std::stringstream old;
  old << existing.rdbuf();
  if (existing && old.str() == text) return true;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream file(path);
  file << text;
  if (!file) {
    err << "flexcap: cannot write " << path.string() << '\n';
    return false;
  }
  return true;
}

// Each compartment's code: the text of the objects CMake builds for its libraries in
// `target` (its C++ in TARGET__LIBRARY.dir/, its C in TARGET.c/LIBRARY/), gathered into
// one range that its PCC bounds. Placed before .text, so that these patterns see the
// objects before .text's catch-all does. Its start is aligned to 64 KiB and its end as
// its length needs (2^(⌈log2 length⌉ - 11), at least 16: more than Morello's
// representable alignment, checked against the model up to 32 MiB), so that the bounds
// are exact; it is at least 4 KiB long, the shortest window hybrid code's in-line checks
// take (hybrid_abi.h).
void write_code_sections(const rt::Config& config, const std::vector<std::string>& libraries,
                         const std::string& target, std::ostream& script) {
  script << "\n/* Each compartment's code: the text of its libraries' objects, the range its PCC bounds\n"
         << "   (cheri: hybrid code's indirect calls must land in it). */\n"
         << "SECTIONS {\n";
  for (std::size_t i = 0; i < config.compartments.size(); ++i) {
    const rt::CompartmentConfig& c = config.compartments[i];
    const std::string code = "flexcap_code_" + std::to_string(i);
    script << "  " << code << " : ALIGN(0x10000) {\n    " << code << "_begin = .;\n";
    for (const std::string& library : libraries) {
      if (config.compartment_of(library) != c.name) continue;
      script << "    *" << target << "__" << library << ".dir/*(.text .text.*)\n"
             << "    *" << target << ".c/" << library << "/*(.text .text.*)\n";
    }
    script << "    ASSERT(. - " << code << "_begin <= 0x2000000, \"FlexCap: the code of compartment '" << c.name
           << "' is over 32 MiB, more than its PCC's alignment here allows: split its libraries\");\n"
           << "    . = MAX(., " << code << "_begin + 0x1000);  /* hybrid_abi.h: no window under 4 KiB */\n"
           << "    . = ALIGN(1 << (MAX(15, LOG2CEIL(. - " << code << "_begin)) - 11));\n"
           << "    " << code << "_end = .;\n  }\n";
  }
  script << "} INSERT BEFORE .text;\n";
}

}  // namespace

int image_header(const std::string& config_path, const std::vector<std::string>& libraries, const std::string& out_path,
                 const std::string& target, std::ostream& err) {
  std::vector<rt::KnownLibrary> known;
  for (const std::string& name : libraries) known.push_back({name, {}});
  auto config = rt::load_config(config_path, known);
  if (!config) {
    for (const rt::ConfigError& e : config.error()) err << e.describe() << '\n';
    err << "flexcap: nothing was built from " << config_path << '\n';
    return 1;
  }
  const std::vector<rt::ConfigError> runnable = rt::check_runnable(*config);
  for (const rt::ConfigError& e : runnable) err << e.describe() << '\n';
  if (!runnable.empty()) return 1;
  const char* backend = backend_type(config->backend());
  if (backend == nullptr) {
    err << config_path << ": driver " << rt::to_string(config->backend())
        << " is not implemented in this version of FlexCap yet. Fix: use fcalls, mprotect, process or cheri\n";
    return 1;
  }

  // Each compartment's region is a NOLOAD section of the executable (flexcap_image.ld,
  // beside the header): its stack, the globals of the hybrid libraries it runs, then its
  // heap, one contiguous range that one capability (its DDC) bounds exactly. The stack is
  // at the bottom, so that an overflow leaves the region (and faults) instead of running
  // into the compartment's own heap.
  struct Region {
    std::uint64_t bytes;
    std::uint64_t alignment;
  };
  std::uint64_t overlap_alignment = 0, overlap_bytes = 0;
  std::vector<Region> regions;
  std::vector<std::uint64_t> wanted_bytes;
  for (const rt::CompartmentConfig& c : config->compartments) {
    const std::uint64_t page = 4096;
    const std::uint64_t wanted = (c.heap_bytes + c.stack_bytes + page - 1) / page * page;
    const std::uint64_t bytes = cap::representable_length(wanted);
    regions.push_back({bytes, std::max<std::uint64_t>(page, ~cap::representable_alignment_mask(bytes) + 1)});
    wanted_bytes.push_back(wanted);
  }
  // With overlap (and a neighbour to overlap with), the regions are laid out together.
  const bool overlap = config->overlap() && config->compartments.size() > 1;
  const std::size_t last = config->compartments.size() - 1;
  if (overlap) {
    const auto layout = overlap_layout(wanted_bytes, config->overlap_bytes);
    if (!layout) {
      err << config_path << ": no layout bounds every compartment and overlap region exactly. Fix: use smaller "
          << "heap:, stack: or overlap-size: values\n";
      return 1;
    }
    for (std::size_t i = 0; i < regions.size(); ++i) regions[i] = {layout->region_bytes[i], layout->alignment};
    overlap_alignment = layout->alignment;
    overlap_bytes = layout->overlap_bytes;
  }
  // The compartment whose overlap region holds a library's FLEXCAP_OVERLAP_SHARED data:
  // the region after the library's compartment (the last compartment's: the one before).
  const auto overlap_region_of = [&](std::size_t compartment) { return compartment < last ? compartment : last - 1; };

  int default_index = -1;
  std::ostringstream out;
  out << "// Generated by `flexcap image-header` from " << config_path << ".\n"
      << "// Do not edit: change the configuration, and the build regenerates this file.\n"
      << "#pragma once\n\n#include <cstddef>\n#include <cstdio>\n#include <cstdlib>\n#include <iostream>\n#include "
         "<string>\n#include <string_view>\n\n"
      << "#include \"flexcap/rt/backends.hh\"\n"
      << "#include \"flexcap/rt/runtime.hh\"\n#include \"flexcap/rt/stack.hh\"\n\nnamespace flexcap::image {\n\n"
      << "inline constexpr std::string_view kConfigPath = \"" << config_path << "\";\n"
      << "using Backend = " << backend << ";\n\n"
      << "}  // namespace flexcap::image\n\n"
      << "// The compartments' regions, placed by the linker (flexcap_image.ld).\n"
      << "extern \"C\" {\n";
  for (std::size_t i = 0; i < config->compartments.size(); ++i) {
    out << "extern std::byte flexcap_region_" << i << "_begin[], flexcap_region_" << i
        << "_globals_end[], flexcap_region_" << i << "_end[];\n";
    if (overlap && i < last) {
      out << "extern std::byte flexcap_overlap_" << i << "_begin[], flexcap_overlap_" << i << "_end[];\n";
    }
    if (!target.empty()) out << "extern std::byte flexcap_code_" << i << "_begin[], flexcap_code_" << i << "_end[];\n";
  }
  out << "}\n\nnamespace flexcap::image {\n\n"
      << "inline constexpr ::flexcap::rt::CompartmentSpec kCompartments[] = {\n";
  for (std::size_t i = 0; i < config->compartments.size(); ++i) {
    const rt::CompartmentConfig& c = config->compartments[i];
    if (c.is_default) default_index = static_cast<int>(i);
    out << "    {\"" << c.name << "\", " << c.heap_bytes << "ull, ::flexcap::rt::Sharing::" << sharing_enum(c.sharing)
        << ", ::flexcap::rt::RestartPolicy::" << (c.restart == rt::RestartPolicy::OnFault ? "OnFault" : "Never")
        << ", flexcap_region_" << i << "_begin, flexcap_region_" << i << "_globals_end, flexcap_region_" << i
        << "_end, " << c.stack_bytes << "ull";
    const bool revocation = c.revocation != rt::RevocationPolicy::Off;
    if (overlap) {  // its DDC: from the overlap region below it to the one above it
      out << ", " << (i > 0 ? "flexcap_overlap_" + std::to_string(i - 1) + "_begin" : "flexcap_region_0_begin") << ", "
          << (i < last ? "flexcap_overlap_" + std::to_string(i) + "_end"
                       : "flexcap_region_" + std::to_string(i) + "_end");
    } else if (!target.empty() || revocation) {
      out << ", nullptr, nullptr";
    }
    if (!target.empty()) {
      out << ", flexcap_code_" << i << "_begin, flexcap_code_" << i << "_end";
    } else if (revocation) {
      out << ", nullptr, nullptr";
    }
    if (revocation) {
      out << ", ::flexcap::rt::RevocationPolicy::" << revocation_enum(c.revocation) << ", " << c.quarantine_fraction;
    }
    out << "},\n";
  }
  out << "};\n\ninline constexpr ::flexcap::rt::LibrarySpec kLibraries[] = {\n";
  for (const std::string& library : libraries) {
    const auto home = config->compartment_of(library);
    int index = -1;
    for (std::size_t i = 0; i < config->compartments.size(); ++i) {
      if (home && config->compartments[i].name == *home) index = static_cast<int>(i);
    }
    out << "    {\"" << library << "\", " << index << "},\n";
  }
  out << "};\n\ninline constexpr int kDefaultCompartment = " << (default_index < 0 ? 0 : default_index) << ";\n\n"
      << "// The compartment a library runs in; -1 if it is in none (a call to it fails to compile).\n"
      << "constexpr int compartment_index(std::string_view library) {\n"
      << "  for (const auto& l : kLibraries) {\n    if (l.name == library) return l.compartment;\n  }\n"
      << "  return -1;\n}\n\n"
      << "// Maps every compartment and starts the backend: call once, before any rt::call.\n"
      << "// With FLEXCAP_AUDIT set in the environment, prints the audit report and exits instead.\n"
      << "inline ::flexcap::rt::Runtime& start() {\n"
      << "  const ::flexcap::rt::ImageSpec spec{kConfigPath, ::flexcap::rt::Backend::"
      << backend_enum(config->backend()) << ", kCompartments, kLibraries, kDefaultCompartment"
      << (config->revocation == rt::RevocationPolicy::Off
              ? std::string()
              : ", 16ull << 20, ::flexcap::rt::RevocationPolicy::" + std::string(revocation_enum(config->revocation)) +
                    ", " + std::to_string(config->quarantine_fraction))
      << "};\n"
      << "  if (std::getenv(\"FLEXCAP_AUDIT\") != nullptr) {\n"
      << "    ::flexcap::rt::print_audit(spec, std::cout);\n    std::exit(0);\n  }\n"
      << "  auto& runtime = ::flexcap::rt::Runtime::start(spec);\n"
      << "  Backend::start(runtime);\n  return runtime;\n}\n\n"
      << "// start(), then `body(argc, argv)` on the default compartment's stack, with argv (and, on\n"
      << "// cheri, the environment) copied into its heap: inside its region, as a program whose\n"
      << "// default compartment runs hybrid code needs.\n"
      << "// A fault there has no gate to contain it: it is reported, and the exit status is 70.\n"
      << "inline int run_main(int argc, char** argv, int (*body)(int, char**)) {\n"
      << "  auto& runtime = start();\n  int status = 0;\n  try {\n"
      << "    char** arguments = ::flexcap::rt::arguments_in(runtime.compartment(kDefaultCompartment), argc, argv);\n"
      << "    ::flexcap::rt::environment_in(runtime, arguments);\n"
      << "    ::flexcap::rt::run_on_default_stack(runtime, [&] { status = body(argc, arguments); });\n"
      << "  } catch (const ::flexcap::rt::CompartmentFault& fault) {\n"
      << "    std::fflush(stdout);\n"
      << "    std::fprintf(stderr, \"flexcap: fault in compartment '%s', where no gate contains it: %s\\n\",\n"
      << "                 std::string(kCompartments[kDefaultCompartment].name).c_str(), fault.cause.c_str());\n"
      << "    return 70;\n  }\n  return status;\n}\n\n}  // namespace flexcap::image\n";

  std::ostringstream script;
  script << "/* Generated by `flexcap image-header` from " << config_path << ".\n"
         << "   Do not edit: change the configuration, and the build regenerates this file.\n"
         << "   Each compartment's region: its stack (at the bottom: an overflow leaves the region), the globals\n"
         << "   of the hybrid libraries it runs, its heap."
         << (overlap ? "\n   sharing: overlap: between neighbours, the region both their DDCs reach (the data the\n"
                       "   libraries of the one below marked FLEXCAP_OVERLAP_SHARED; the last compartment's go in\n"
                       "   the region below it). Every boundary is aligned to 0x" +
                           cap::to_hex(overlap_alignment) + ", so that every region and DDC is exact."
                     : "")
         << " */\n"
         << "SECTIONS {\n";
  for (std::size_t i = 0; i < config->compartments.size(); ++i) {
    const rt::CompartmentConfig& c = config->compartments[i];
    const std::string r = "flexcap_region_" + std::to_string(i);
    script << "  " << r << " (NOLOAD) : ALIGN(0x" << cap::to_hex(regions[i].alignment) << ") {\n"
           << "    " << r << "_begin = .;\n";
    if (overlap && i > 0) {
      script << "    ASSERT(" << r << "_begin == flexcap_overlap_" << i - 1 << "_end, \"FlexCap: compartment '"
             << c.name << "' does not follow its overlap region\");\n";
    }
    script << "    . += 0x" << cap::to_hex(c.stack_bytes) << ";\n";
    for (const std::string& library : libraries) {
      if (config->compartment_of(library) != c.name) continue;
      script << "    *(flexcap_lib_" << library << "_globals)\n";
      // Without an overlap region, data marked FLEXCAP_OVERLAP_SHARED is the library's own.
      if (!overlap) script << "    *(.bss.flexcap_overlap_" << library << ")\n";
    }
    script << "    . = ALIGN(16);\n    " << r << "_globals_end = .;\n"
           << "    ASSERT(" << r << "_globals_end - " << r << "_begin + 0x10000 <= " << c.heap_bytes + c.stack_bytes
           << ", \"FlexCap: the globals of compartment '" << c.name
           << "' leave less than 64 KiB of its heap: raise its heap: in the configuration\");\n"
           << "    . = " << r << "_begin + 0x" << cap::to_hex(regions[i].bytes) << ";\n"
           << "    " << r << "_end = .;\n  }\n";
    if (!overlap || i == last) continue;
    const std::string o = "flexcap_overlap_" + std::to_string(i);
    const std::string pair = "'" + c.name + "' and '" + config->compartments[i + 1].name + "'";
    script << "  " << o << " (NOLOAD) : ALIGN(0x" << cap::to_hex(overlap_alignment) << ") {\n"
           << "    " << o << "_begin = .;\n"
           << "    ASSERT(" << o << "_begin == " << r << "_end, \"FlexCap: the overlap region of " << pair
           << " does not follow '" << c.name << "'\");\n";
    for (const std::string& library : libraries) {
      for (std::size_t j = 0; j < config->compartments.size(); ++j) {
        if (overlap_region_of(j) == i && config->compartment_of(library) == config->compartments[j].name) {
          script << "    *(.bss.flexcap_overlap_" << library << ")\n";
        }
      }
    }
    script << "    ASSERT(. - " << o << "_begin <= 0x" << cap::to_hex(overlap_bytes)
           << ", \"FlexCap: the data marked FLEXCAP_OVERLAP_SHARED between " << pair
           << " does not fit its overlap region: raise overlap-size: in the configuration\");\n"
           << "    . = " << o << "_begin + 0x" << cap::to_hex(overlap_bytes) << ";\n"
           << "    " << o << "_end = .;\n  }\n";
  }
  script << "} INSERT AFTER .bss;\n";
  if (!target.empty()) write_code_sections(*config, libraries, target, script);

  const std::filesystem::path script_path = std::filesystem::path(out_path).parent_path() / "flexcap_image.ld";
  if (!write_if_changed(out_path, out.str(), err) || !write_if_changed(script_path, script.str(), err)) return 1;
  return 0;
}

}  // namespace flexcap::tools
