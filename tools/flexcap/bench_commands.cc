#include "bench_commands.hh"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string_view>
#include <thread>

#include "flexcap/rt/config.hh"
#include "image_commands.hh"

// Set by bench/gates/CMakeLists.txt. Without them (benchmarks not configured) the
// command needs --images-dir and knows of no built driver.
#ifndef FLEXCAP_GATE_BENCH_DIR
#define FLEXCAP_GATE_BENCH_DIR ""
#endif
#ifndef FLEXCAP_GATE_BENCH_DRIVERS
#define FLEXCAP_GATE_BENCH_DRIVERS ""
#endif
#ifndef FLEXCAP_GATE_BENCH_COUNTS
#define FLEXCAP_GATE_BENCH_COUNTS "2,16,128,1024"
#endif

namespace flexcap::tools {
namespace {

// Every backend, in the order the report lists them, with its driver name in kraft.yaml
// (which names its images). Whether one is measured follows from the machine
// (rt::backend_support) and from the drivers the build made images for.
struct BackendEntry {
  rt::Backend backend;
  std::string_view driver;
};
constexpr BackendEntry kBackends[] = {{rt::Backend::Fcall, "fcalls"},
                                      {rt::Backend::IntelPku, "intel-pku"},
                                      {rt::Backend::Mprotect, "mprotect"},
                                      {rt::Backend::Process, "process"},
                                      {rt::Backend::Cheri, "cheri"}};

constexpr std::string_view kCases[] = {"empty", "args4", "buffer4k-cap", "buffer4k-copy", "colocated"};

struct Measurement {
  std::string backend;
  std::string case_name;
  int compartments = 0;
  double ns_per_call = 0;
  double floor_ns = 0;
  double ratio = 0;
};

struct Skip {
  std::string backend;
  std::string reason;
};

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const std::size_t end = std::min(text.find(separator, start), text.size());
    parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Reads one line an image printed: a flat JSON object of strings and numbers.
class FlatJson {
 public:
  explicit FlatJson(std::string_view text) : text_(text) {}

  std::optional<std::map<std::string, std::string>> parse() {
    std::map<std::string, std::string> fields;
    if (!eat('{')) return std::nullopt;
    if (eat('}')) return fields;
    do {
      auto key = string();
      if (!key || !eat(':')) return std::nullopt;
      skip_space();
      auto value = peek() == '"' ? string() : number();
      if (!value) return std::nullopt;
      fields[*key] = *value;
    } while (eat(','));
    if (!eat('}')) return std::nullopt;
    skip_space();
    if (at_ != text_.size()) return std::nullopt;
    return fields;
  }

 private:
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\r')) ++at_;
  }
  bool eat(char c) {
    skip_space();
    if (peek() != c) return false;
    ++at_;
    return true;
  }
  std::optional<std::string> string() {
    if (!eat('"')) return std::nullopt;
    std::string out;
    while (at_ < text_.size() && text_[at_] != '"') {
      if (text_[at_] == '\\' && at_ + 1 < text_.size()) ++at_;
      out += text_[at_++];
    }
    if (!eat('"')) return std::nullopt;
    return out;
  }
  std::optional<std::string> number() {
    const std::size_t start = at_;
    while (at_ < text_.size() && std::string_view("+-.0123456789eE").find(text_[at_]) != std::string_view::npos) ++at_;
    if (at_ == start) return std::nullopt;
    return std::string(text_.substr(start, at_ - start));
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

std::optional<Measurement> to_measurement(const std::map<std::string, std::string>& f) {
  for (const char* key : {"backend", "case", "compartments", "ns_per_call", "floor_ns", "ratio"}) {
    if (!f.count(key)) return std::nullopt;
  }
  Measurement m;
  m.backend = f.at("backend");
  m.case_name = f.at("case");
  char* end = nullptr;
  m.compartments = static_cast<int>(std::strtol(f.at("compartments").c_str(), &end, 10));
  m.ns_per_call = std::strtod(f.at("ns_per_call").c_str(), &end);
  m.floor_ns = std::strtod(f.at("floor_ns").c_str(), &end);
  m.ratio = std::strtod(f.at("ratio").c_str(), &end);
  return m;
}

// Runs one image and appends what it measured. False (with the reason on `err`) when the
// image is missing, fails, or prints something that is not a measurement.
bool run_image(const std::filesystem::path& image, bool quick, std::vector<Measurement>& results, std::ostream& err) {
  if (!std::filesystem::exists(image)) {
    err << "flexcap bench gates: " << image.string()
        << " is not built. Fix: build the images (ninja gate_bench_images) or pass --images-dir\n";
    return false;
  }
  if (isatty(STDERR_FILENO)) err << "running " << image.filename().string() << " ...\n" << std::flush;
  const std::string command = shell_quote(image.string()) + (quick ? " --quick" : "");
  int status = 0;
  const std::vector<std::string> lines = output_lines(command, &status);
  bool ok = status == 0;
  if (!ok) err << "flexcap bench gates: " << image.filename().string() << " failed (status " << status << ")\n";
  for (const std::string& line : lines) {
    auto fields = FlatJson(line).parse();
    auto m = fields ? to_measurement(*fields) : std::nullopt;
    if (!m) {
      err << "flexcap bench gates: " << image.filename().string() << " printed an unexpected line: " << line << '\n';
      ok = false;
      continue;
    }
    results.push_back(*m);
  }
  return ok;
}

std::string cpu_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown";
}

// The target for a row, as a ratio: cheri's empty gate within 8x a direct call,
// mprotect within 1.2x its system calls, a co-located call within 1.05x a direct call.
std::optional<double> target_for(const Measurement& m) {
  if (m.case_name == "colocated") return 1.05;
  if (m.backend == "cheri" && m.case_name == "empty") return 8.0;
  if (m.backend == "mprotect") return 1.2;
  return std::nullopt;
}

// Where a case goes in the report: by backend (as kBackends orders them), then case,
// then compartment count; the co-located row last, as it crosses no gate.
std::tuple<bool, int, int, int> sort_key(const Measurement& m) {
  int backend = 0;
  for (std::size_t i = 0; i < std::size(kBackends); ++i) {
    if (rt::to_string(kBackends[i].backend) == m.backend) backend = static_cast<int>(i);
  }
  const auto c = std::find(std::begin(kCases), std::end(kCases), m.case_name);
  return {m.case_name == "colocated", backend, static_cast<int>(c - std::begin(kCases)), m.compartments};
}

struct ScalingRow {
  std::string backend;
  std::string case_name;
  int compartments;
  double ns;       // at `compartments`
  double base_ns;  // at 2
};

// Gate cost at each larger count over its cost at 2 compartments, for the backends the
// issue sets a scaling target for (<= 1.2x at 1,024).
std::vector<ScalingRow> scaling(const std::vector<Measurement>& results) {
  std::vector<ScalingRow> rows;
  for (const Measurement& m : results) {
    if ((m.backend != "cheri" && m.backend != "mprotect") || m.compartments <= 2 || m.case_name == "colocated") {
      continue;
    }
    for (const Measurement& base : results) {
      if (base.backend == m.backend && base.case_name == m.case_name && base.compartments == 2) {
        rows.push_back({m.backend, m.case_name, m.compartments, m.ns_per_call, base.ns_per_call});
      }
    }
  }
  return rows;
}

void print_json(const std::vector<Measurement>& results, const std::vector<Skip>& skipped, std::ostream& out) {
  out << "{\"machine\": {\"cpu\": " << json_string(cpu_name()) << ", \"cores\": " << std::thread::hardware_concurrency()
      << ", \"pku\": " << (rt::backend_support(rt::Backend::IntelPku).available ? "true" : "false")
      << "},\n \"results\": [";
  const char* separator = "\n  ";
  char numbers[160];
  for (const Measurement& m : results) {
    std::snprintf(numbers, sizeof numbers,
                  "\"compartments\": %d, \"ns_per_call\": %.3f, \"floor_ns\": %.3f, \"ratio\": %.4f", m.compartments,
                  m.ns_per_call, m.floor_ns, m.ratio);
    out << separator << "{\"backend\": " << json_string(m.backend) << ", \"case\": " << json_string(m.case_name) << ", "
        << numbers << "}";
    separator = ",\n  ";
  }
  for (const Skip& s : skipped) {
    out << separator << "{\"backend\": " << json_string(s.backend) << ", \"skipped\": " << json_string(s.reason) << "}";
    separator = ",\n  ";
  }
  out << "\n]}\n";
}

void print_table(const std::vector<Measurement>& results, const std::vector<Skip>& skipped, std::ostream& out) {
  const rt::BackendSupport pku = rt::backend_support(rt::Backend::IntelPku);
  out << "Gate benchmark on " << cpu_name() << " (" << std::thread::hardware_concurrency()
      << " cores, PKU: " << (pku.available ? "yes" : "no") << ")\n"
      << "cheri runs on FlexCap's software model of Morello: its timings are of this x86 machine, not Morello "
         "silicon.\n"
      << "floor: a direct call doing the same work (fcall, cheri, colocated); with, around it, the gate's four\n"
      << "mprotect calls on the same two regions (mprotect) or its futex message round trip to another process\n"
      << "(process). Medians of 5 runs; see bench/gates/README.md.\n\n";
  char row[200];
  const auto line = [&](const std::string& backend, const std::string& case_name, const std::string& compartments,
                        double ns, double floor_ns, double ratio, std::optional<double> target) {
    std::string goal = "-";
    std::string verdict;
    if (target) {
      std::snprintf(row, sizeof row, "<= %gx", *target);
      goal = row;
      verdict = ratio <= *target ? "met" : "MISSED";
    }
    std::snprintf(row, sizeof row, "%-10s %-22s %12s %11.1f %11.1f %9.2fx  %-9s %s", backend.c_str(), case_name.c_str(),
                  compartments.c_str(), ns, floor_ns, ratio, goal.c_str(), verdict.c_str());
    out << row << '\n';
  };
  std::snprintf(row, sizeof row, "%-10s %-22s %12s %11s %11s %10s  %-9s %s", "backend", "case", "compartments",
                "ns/call", "floor ns", "ratio", "target", "");
  out << row << '\n';
  for (const Measurement& m : results) {
    line(m.backend, m.case_name, std::to_string(m.compartments), m.ns_per_call, m.floor_ns, m.ratio, target_for(m));
  }
  const std::vector<ScalingRow> rows = scaling(results);
  if (!rows.empty()) {
    out << "\nscaling: ns/call at N compartments over ns/call at 2 (the floor column is the cost at 2)\n";
    for (const ScalingRow& s : rows) {
      const std::optional<double> target = s.compartments == 1024 ? std::optional<double>(1.2) : std::nullopt;
      line(s.backend, s.case_name + " scaling", std::to_string(s.compartments) + " / 2", s.ns, s.base_ns,
           s.ns / s.base_ns, target);
    }
  }
  if (!skipped.empty()) out << '\n';
  for (const Skip& s : skipped) out << std::left << std::setw(10) << s.backend << ' ' << s.reason << '\n';
}

}  // namespace

int bench_gates(const GateBenchOptions& options, std::ostream& out, std::ostream& err) {
  const std::filesystem::path dir = options.images_dir.empty() ? FLEXCAP_GATE_BENCH_DIR : options.images_dir;
  if (dir.empty()) {
    err << "flexcap bench gates: this flexcap was built without the benchmarks. Fix: configure with "
           "-DFLEXCAP_BENCHMARKS=ON, or pass --images-dir\n";
    return 2;
  }
  const std::vector<std::string> drivers = split(FLEXCAP_GATE_BENCH_DRIVERS, ',');
  std::vector<int> built_counts;
  for (const std::string& c : split(FLEXCAP_GATE_BENCH_COUNTS, ',')) built_counts.push_back(std::stoi(c));
  std::vector<int> counts = options.compartments.empty() ? built_counts : options.compartments;
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  for (const int n : counts) {
    if (std::find(built_counts.begin(), built_counts.end(), n) == built_counts.end()) {
      err << "flexcap bench gates: no images with " << n << " compartments. Fix: use --compartments with some of "
          << FLEXCAP_GATE_BENCH_COUNTS << '\n';
      return 2;
    }
  }

  std::vector<Measurement> results;
  std::vector<Skip> skipped;
  bool ok = true;
  for (const BackendEntry& entry : kBackends) {
    const std::string name(rt::to_string(entry.backend));
    const rt::BackendSupport support = rt::backend_support(entry.backend);
    if (!support.available) {
      skipped.push_back({name, "not available: " + support.reason});
      continue;
    }
    if (std::find(drivers.begin(), drivers.end(), entry.driver) == drivers.end()) {
      skipped.push_back({name, "not implemented yet"});
      continue;
    }
    std::string prefix = "gate_bench_" + std::string(entry.driver) + "_";
    std::replace(prefix.begin(), prefix.end(), '-', '_');  // as bench/gates/CMakeLists.txt names them
    for (const int n : counts) ok &= run_image(dir / (prefix + std::to_string(n)), options.quick, results, err);
    if (std::find(counts.begin(), counts.end(), 2) != counts.end()) {
      ok &= run_image(dir / (prefix + "2_copy"), options.quick, results, err);
    }
  }
  ok &= run_image(dir / "gate_bench_colocated", options.quick, results, err);

  std::stable_sort(results.begin(), results.end(),
                   [](const Measurement& a, const Measurement& b) { return sort_key(a) < sort_key(b); });
  if (options.json) {
    print_json(results, skipped, out);
  } else {
    print_table(results, skipped, out);
  }
  return ok ? 0 : 1;
}

}  // namespace flexcap::tools
