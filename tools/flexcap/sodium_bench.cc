// `flexcap bench sodium`: the five libsodium functions ported to capabilities, run raw,
// ported without a compartment, in one sandbox and one compartment per function, on
// every backend built in this tree. Each image measures its raw baseline (and Debian's
// libsodium) in its own process, interleaved with the ported runs.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "image_commands.hh"

namespace flexcap::tools {
namespace {

struct Row {
  std::string config;  // the image's name: none, cheri, cheri_per_function, ...
  std::string backend;
  std::string layout;
  std::string workload;
  int compartments = 0;
  double mib = 0;
  unsigned long long calls = 0;
  double raw_seconds = 0;
  double libsodium_seconds = 0;
  double ported_seconds = 0;
  unsigned long long crossings = 0;
  double ratio() const { return ported_seconds / raw_seconds; }
  double per_thousand_calls() const {
    return calls == 0 ? 0 : 1000.0 * static_cast<double>(crossings) / static_cast<double>(calls);
  }
};

struct Config {
  std::string name;
  std::string layout;
  int divide;  // run 1/divide of the workload: every word crosses a slow gate there
};

// In the order of the table. Per-function layouts on page-protection and process
// backends make ~16 million crossings for the full ChaCha20 workload, hence `divide`.
const std::vector<Config> kConfigs = {
    {"none", "ported, no compartment", 1},          {"fcalls", "one sandbox", 1},
    {"fcalls_per_function", "per function", 1},     {"cheri", "one sandbox", 1},
    {"cheri_per_function", "per function", 1},      {"intel_pku", "one sandbox", 1},
    {"intel_pku_per_function", "per function", 4},  {"process", "one sandbox", 1},
    {"process_per_function", "per function", 16},   {"mprotect", "one sandbox", 1},
    {"mprotect_per_function", "per function", 256},
};

bool run_image(const std::string& image, const Config& config, int rounds, std::vector<Row>& rows) {
  const std::string command =
      shell_quote(image) + " --bench --rounds " + std::to_string(rounds) + " --divide " + std::to_string(config.divide);
  int status = 0;
  const std::vector<std::string> lines = output_lines(command, &status);
  if (status != 0 || lines.empty()) return false;
  for (const std::string& line : lines) {
    Row r;
    r.config = config.name;
    r.layout = config.layout;
    r.backend = json_field(line, "backend");
    r.workload = json_field(line, "workload");
    r.compartments = std::stoi(json_field(line, "compartments"));
    r.mib = std::stod(json_field(line, "mib"));
    r.calls = std::stoull(json_field(line, "calls"));
    r.raw_seconds = std::stod(json_field(line, "raw_seconds"));
    r.libsodium_seconds = std::stod(json_field(line, "libsodium_seconds"));
    r.ported_seconds = std::stod(json_field(line, "ported_seconds"));
    r.crossings = std::stoull(json_field(line, "gate_crossings"));
    rows.push_back(r);
  }
  return true;
}

// The targets, on cheri: ported in one sandbox <= 1.10x; the hex functions
// sandboxed <= 1.05x.
std::string target_of(const Row& r) {
  if (r.backend != "cheri" || r.layout == "ported, no compartment") return "";
  const bool hex = r.workload == "bin2hex" || r.workload == "hex2bin";
  if (hex) return "<= 1.05x";
  return r.layout == "one sandbox" ? "<= 1.10x" : "measured";
}

}  // namespace

int bench_sodium(bool json, int rounds, std::ostream& out, std::ostream& err) {
  namespace fs = std::filesystem;
  std::vector<Row> rows;
  bool any = false;
  for (const Config& config : kConfigs) {
    const fs::path image = fs::path(FLEXCAP_SODIUM_IMAGES_DIR) / ("sodium_" + config.name);
    if (!fs::exists(image)) continue;
    any = true;
    if (!run_image(image.string(), config, rounds, rows)) {
      err << "flexcap bench sodium: the " << config.name << " image failed\n";
      return 1;
    }
  }
  if (!any) {
    err << "flexcap bench sodium: the sodium images are not built (cmake --build --preset release --target "
           "sodium_images)\n";
    return 1;
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.workload < b.workload; });

  if (json) {
    out << "{\"results\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      out << "  {\"workload\": \"" << r.workload << "\", \"config\": \"" << r.config << "\", \"backend\": \""
          << r.backend << "\", \"layout\": \"" << r.layout << "\", \"compartments\": " << r.compartments
          << ", \"mib\": " << r.mib << ", \"calls\": " << r.calls << ", \"raw_seconds\": " << r.raw_seconds
          << ", \"ported_seconds\": " << r.ported_seconds << ", \"libsodium_seconds\": " << r.libsodium_seconds
          << ", \"ratio\": " << r.ratio() << ", \"libsodium_ratio\": " << r.libsodium_seconds / r.raw_seconds
          << ", \"gate_crossings\": " << r.crossings << ", \"crossings_per_1000_calls\": " << r.per_thousand_calls()
          << "}" << (i + 1 < rows.size() ? ",\n" : "\n");
    }
    out << "]}\n";
    return 0;
  }
  out << "libsodium functions ported to capabilities: ChaCha20 over 64 MiB in 4 KiB messages, hex encode and\n"
      << "decode of 16 MiB in 4 KiB pieces. Ratio: ported / raw-pointer baseline, both measured in the same\n"
      << "image (medians of " << rounds << " interleaved rounds); libsodium: Debian's library on the same work.\n"
      << "cheri runs on the software model of Morello: its time is of this x86 machine, not Morello.\n\n";
  char line[240];
  std::snprintf(line, sizeof(line), "%-9s %-22s %-9s %-23s %7s %9s %9s %8s %10s %13s  %s\n", "workload", "config",
                "backend", "layout", "MiB", "raw s", "ported s", "ratio", "libsodium", "cross/1k", "target");
  out << line;
  std::string last;
  for (const Row& r : rows) {
    if (!last.empty() && r.workload != last) out << '\n';
    last = r.workload;
    std::snprintf(line, sizeof(line), "%-9s %-22s %-9s %-23s %7.2f %9.4f %9.4f %7.3fx %9.3fx %13.0f  %s\n",
                  r.workload.c_str(), r.config.c_str(), r.backend.c_str(), r.layout.c_str(), r.mib, r.raw_seconds,
                  r.ported_seconds, r.ratio(), r.libsodium_seconds / r.raw_seconds, r.per_thousand_calls(),
                  target_of(r).c_str());
    out << line;
  }
  out << "\nPublished on Morello: hex functions sandboxed +0.14%; ChaCha20 with store32_le sandboxed +12.2%;\n"
      << "all five sandboxed +8.3%.\n";
  return 0;
}

}  // namespace flexcap::tools
