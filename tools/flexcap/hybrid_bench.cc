// `flexcap bench hybrid`: what confining unmodified C costs. SQLite's own benchmark,
// speedtest1, with SQLite and speedtest1 compiled from Debian's source by flexcap cc,
// in one compartment: plain (the baseline) and hybrid (every access checked against
// the compartment's DDC, on the cheri backend), interleaved round by round; a third
// image, compiled to count its checks, says how many the hybrid run makes.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "image_commands.hh"

namespace flexcap::tools {

// speedtest1 prints its own total: "       TOTAL....   0.123s". The image's start-up is
// not part of it. Other lines are handed to `line` (nullptr: ignored).
bool speedtest1_seconds(const std::string& command, double* seconds, const std::function<void(const std::string&)>& line) {
  int status = 0;
  bool found = false;
  for (const std::string& l : output_lines(command, &status)) {
    const auto at = l.find("TOTAL");
    const auto number = at == std::string::npos ? std::string::npos : l.find_first_of("0123456789", at);
    if (number != std::string::npos && !found) {
      *seconds = std::strtod(l.c_str() + number, nullptr);
      found = true;
    } else if (line) {
      line(l);
    }
  }
  return found && status == 0;
}

namespace {

unsigned long long checks_executed(const std::string& command) {
  int status = 0;
  for (const std::string& line : output_lines("FLEXCAP_PRINT_CHECKS=1 " + command + " 2>&1 >/dev/null", &status)) {
    if (line.rfind("checks_executed ", 0) == 0) return std::strtoull(line.c_str() + 16, nullptr, 10);
  }
  return 0;
}

}  // namespace

int bench_hybrid(bool json, int rounds, int size, std::ostream& out, std::ostream& err) {
  namespace fs = std::filesystem;
  const fs::path dir = FLEXCAP_HYBRID_BENCH_DIR;
  for (const char* image : {"speedtest1_plain", "speedtest1_hybrid"}) {
    if (!fs::exists(dir / image)) {
      err << "flexcap bench hybrid: " << (dir / image).string()
          << " is not built. Fix: cmake --build --preset release --target speedtest1_images (it fetches SQLite's "
             "source package through apt)\n";
      return 1;
    }
  }
  // checks_executed comes from the counting image, which the default build leaves out
  // (one more compile of SQLite): without it the field is null and the report says why.
  const bool counted = fs::exists(dir / "speedtest1_count");
  // Two workloads: an in-memory database (all computation: every check counts), and a
  // file database in a fresh directory (SQLite's unix VFS; part of the time is the kernel's).
  std::error_code ec;
  const fs::path scratch = fs::temp_directory_path() / ("flexcap-bench-hybrid-" + std::to_string(getpid()));
  fs::create_directories(scratch, ec);
  struct Workload {
    std::string name;
    std::string arguments;
  };
  const std::string sizing = " --size " + std::to_string(size);
  const std::vector<Workload> workloads = {{"memdb", sizing + " --memdb"},
                                           {"file", sizing + " " + shell_quote((scratch / "speedtest1.db").string())}};
  struct Result {
    std::string workload;
    double plain = 0, hybrid = 0;
    std::optional<unsigned long long> checks;
  };
  std::vector<Result> results;
  const PinnedToOneCpu pinned;  // both variants on one CPU: the ratio is the checks', not the CPUs'
  for (const Workload& w : workloads) {
    std::vector<double> plain, hybrid;
    for (int round = 0; round < rounds; ++round) {
      for (const char* variant : {"speedtest1_plain", "speedtest1_hybrid"}) {
        fs::remove(scratch / "speedtest1.db", ec);
        double seconds = 0;
        if (!speedtest1_seconds(shell_quote((dir / variant).string()) + w.arguments, &seconds, nullptr)) {
          err << "flexcap bench hybrid: " << variant << w.arguments << " failed\n";
          fs::remove_all(scratch, ec);
          return 1;
        }
        (std::string(variant) == "speedtest1_plain" ? plain : hybrid).push_back(seconds);
      }
    }
    fs::remove(scratch / "speedtest1.db", ec);
    std::optional<unsigned long long> checks;
    if (counted) checks = checks_executed(shell_quote((dir / "speedtest1_count").string()) + w.arguments);
    results.push_back({w.name, median(plain), median(hybrid), checks});
  }
  fs::remove_all(scratch, ec);

  if (json) {
    if (!counted) {
      err << "flexcap bench hybrid: checks_executed is null: the counting image is not built (cmake --build --preset "
             "release --target speedtest1_count)\n";
    }
    out << "{\"results\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      out << "  {\"workload\": \"" << r.workload << "\", \"plain_seconds\": " << r.plain
          << ", \"hybrid_seconds\": " << r.hybrid << ", \"ratio\": " << r.hybrid / r.plain
          << ", \"checks_executed\": " << (r.checks ? std::to_string(*r.checks) : "null") << "}"
          << (i + 1 < results.size() ? ",\n" : "\n");
    }
    out << "]}\n";
    return 0;
  }
  out << "speedtest1 --size " << size << " (SQLite 3.40.1 from Debian's source), one compartment: plain vs hybrid\n"
      << "(every load, store and indirect call checked against the compartment's DDC). Median of " << rounds
      << " interleaved runs.\ncheri runs on the software model of Morello: its time is of this x86 machine.\n\n";
  char row[160];
  std::snprintf(row, sizeof(row), "%-9s %12s %13s %8s %16s  %s\n", "workload", "plain (s)", "hybrid (s)", "ratio",
                "checks made", "target");
  out << row;
  for (const Result& r : results) {
    std::snprintf(row, sizeof(row), "%-9s %12.3f %13.3f %7.2fx %16s  %s\n", r.workload.c_str(), r.plain, r.hybrid,
                  r.hybrid / r.plain, r.checks ? std::to_string(*r.checks).c_str() : "-", "<= 1.25x (stretch 1.10x)");
    out << row;
  }
  if (!counted) {
    out << "\nChecks made: not counted (cmake --build --preset release --target speedtest1_count builds the counting "
           "image: one more compile of SQLite).";
  }
  out << "\nPublished: LFI (software fault isolation of loads, stores and jumps) 7-10%.\n";
  return 0;
}

}  // namespace flexcap::tools
