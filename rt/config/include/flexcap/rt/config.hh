// flexcap/rt/config.hh — an image's isolation configuration, read from kraft.yaml.
//
// FlexOS describes compartments in `kraft.yaml`; FlexCap reads the same shape and adds
// what it needs (heap and stack sizes, how data is shared, a restart policy,
// the page substrate of the cheri backend). Every error names the file, the line and
// how to fix it, and nothing is built from a file with an error.
//
//   compartments:
//     - name: app
//       mechanism: { driver: mprotect }
//       default: true
//     - name: fs
//       mechanism: { driver: mprotect }
//       heap: 8MiB
//   libraries:
//     vfs:   { compartment: fs }
//     ramfs: { compartment: fs }
//
//   auto config = load_config("examples/sqlite/mprotect.yaml", known_libraries);
//   if (!config) { for (auto& e : config.error()) std::cerr << e.describe() << "\n"; }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flexcap/support/expected.hh"

namespace flexcap::rt {

// The isolation mechanism of a compartment (FlexOS calls it the driver).
enum class Backend { Fcall, IntelPku, Mprotect, Process, Cheri };

std::string_view to_string(Backend backend);  // "fcall", "intel-pku", "mprotect", "process", "cheri"

// How data reaches another compartment: `sharing:` in the configuration, for the whole
// image (a top-level key) or per compartment.
enum class Sharing {
  Capability,  // `capabilities`: memory moves only as bounded references handed across gates
               // (zero copy); PLOS'23's first approach
  Copy,        // `copy`: the gate copies a private buffer through a bounce buffer in the shared
               // region (page backends; the cheri backend hands capabilities anyway)
  Overlap,     // `overlap` (cheri only, the whole image): neighbouring compartments' DDCs overlap a
               // shared region that holds the data annotated FLEXCAP_OVERLAP_SHARED; PLOS'23's second
};

std::string_view to_string(Sharing sharing);  // "capabilities", "copy", "overlap"

// What happens when a compartment faults.
enum class RestartPolicy {
  Never,    // the compartment stays failed; every later call into it returns an error
  OnFault,  // the next call into it re-initializes its libraries first
};

// Temporal safety (`revocation:`, docs/revocation.md): what a free does to capabilities
// (or, on a page backend, pointers) that still point at the freed memory. Sweep and
// LoadFilter: the cheri driver's capabilities. Pages: the shared heap on the page
// backends that share one address space (mprotect, intel-pku).
enum class RevocationPolicy {
  Off,         // freed memory is reused at once; a kept capability reaches whoever gets it next
  Sweep,       // freed memory waits in quarantine until a sweep has revoked every capability to it
  LoadFilter,  // the same, and a capability to quarantined memory arrives untagged when loaded
  Pages,       // a freed shared block's whole pages are inaccessible until reused after an epoch
};

std::string_view to_string(RevocationPolicy policy);  // "off", "sweep", "load-filter", "pages"

// The share of a heap its quarantine may hold before a sweep runs, unless
// `revocation-quarantine:` says otherwise (CheriBSD's default).
inline constexpr double kDefaultQuarantineFraction = 0.25;

// For cheri: what confines unported code's raw pointer accesses.
enum class PageSubstrate { None, Mprotect, IntelPku };

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
};

struct CompartmentConfig {
  std::string name;
  Backend backend = Backend::Fcall;
  bool is_default = false;
  std::uint64_t heap_bytes = 4ull << 20;     // default 4 MiB
  std::uint64_t stack_bytes = 256ull << 10;  // default 256 KiB
  Sharing sharing = Sharing::Capability;
  RestartPolicy restart = RestartPolicy::Never;
  PageSubstrate page_substrate = PageSubstrate::None;  // cheri only
  RevocationPolicy revocation = RevocationPolicy::Off;  // for its heap and the capabilities loaded from its memory
  double quarantine_fraction = kDefaultQuarantineFraction;
  SourceLocation where;
  SourceLocation driver_where;  // its `driver:` value, where an unrunnable backend is reported
};

struct LibraryPlacement {
  std::string library;
  std::string compartment;
  SourceLocation where;
};

// The size of each region that two neighbouring compartments share under `sharing:
// overlap`, unless `overlap-size:` says otherwise.
inline constexpr std::uint64_t kDefaultOverlapBytes = 64ull << 10;

struct Config {
  std::string path;
  std::vector<CompartmentConfig> compartments;  // in file order
  std::vector<LibraryPlacement> libraries;      // explicitly placed, in file order
  std::vector<std::string> notes;               // e.g. "driver vmept runs as process"
  // `overlap-size:`: the bytes of each shared region between neighbours (overlap only).
  std::uint64_t overlap_bytes = kDefaultOverlapBytes;
  // The top-level `revocation:` and `revocation-quarantine:`: the shared region's heap, and
  // every compartment that does not set its own.
  RevocationPolicy revocation = RevocationPolicy::Off;
  double quarantine_fraction = kDefaultQuarantineFraction;

  // The image's backend: all compartments share one mechanism.
  Backend backend() const { return compartments.empty() ? Backend::Fcall : compartments.front().backend; }
  // Whether neighbouring compartments overlap (`sharing: overlap`): the reader accepts it
  // only when every compartment agrees, so the first one speaks for the image.
  bool overlap() const { return !compartments.empty() && compartments.front().sharing == Sharing::Overlap; }
  // The compartment a library runs in: its placement, else the default compartment.
  // Empty when neither exists.
  std::optional<std::string> compartment_of(std::string_view library) const;
  const CompartmentConfig* find_compartment(std::string_view name) const;
};

struct ConfigError {
  SourceLocation where;
  std::string message;  // what is wrong
  std::string fix;      // how to fix it
  // "examples/x.yaml:12:5: unknown library 'ramfz'. Fix: use one of vfs, ramfs, ... "
  std::string describe() const;
};

// A library the build knows, with the libraries it must share a compartment with
// (for example because they share state through raw pointers).
struct KnownLibrary {
  std::string name;
  std::vector<std::string> must_stay_with;
};

// Whether library names are checked against the libraries the build knows. `Unchecked`
// is for a reader that does not know them yet (`flexcap build`, before the image's
// build says which libraries its application has): every name is taken as given.
enum class LibraryCheck { Known, Unchecked };

// Parses and validates `text` (read from `path`, used in messages) against the
// libraries the build knows. Returns every error found, not just the first.
Expected<Config, std::vector<ConfigError>> parse_config(std::string_view text, const std::string& path,
                                                        const std::vector<KnownLibrary>& known_libraries,
                                                        LibraryCheck check = LibraryCheck::Known);
// Reads `path` and parses it; a missing or unreadable file is an error too.
Expected<Config, std::vector<ConfigError>> load_config(const std::string& path,
                                                       const std::vector<KnownLibrary>& known_libraries,
                                                       LibraryCheck check = LibraryCheck::Known);

// Whether this machine can run `backend`, and if not, why (e.g. "this CPU has no
// protection keys (PKU): pkey_alloc failed with ENOSPC/EINVAL").
struct BackendSupport {
  bool available = true;
  std::string reason;
};
BackendSupport backend_support(Backend backend);

// Whether this machine can run `config` as written: one error at the first
// compartment's driver when backend_support(config.backend()) says no (and one at a
// cheri compartment whose page substrate this machine lacks). Empty when it can run.
std::vector<ConfigError> check_runnable(const Config& config);

}  // namespace flexcap::rt
