// `flexcap bench sqlite`: the FlexOS / Morello SQLite experiment on every configuration
// built in this tree, each beside `none` (no isolation) measured in the same invocation.

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

struct Run {
  std::string config;
  std::string backend;
  int compartments = 0;
  double seconds = 0;
  unsigned long long crossings = 0;
};

bool run_once(const std::string& image, Run* run) {
  int status = 0;
  const std::vector<std::string> lines = output_lines(shell_quote(image) + " --bench", &status);
  if (status != 0 || lines.empty()) return false;
  const std::string& line = lines.front();
  run->config = json_field(line, "config");
  run->backend = json_field(line, "backend");
  run->compartments = std::stoi(json_field(line, "compartments"));
  run->seconds = std::stod(json_field(line, "seconds"));
  run->crossings = std::stoull(json_field(line, "gate_crossings"));
  return true;
}

}  // namespace

int bench_sqlite(bool json, int rounds, std::ostream& out, std::ostream& err) {
  namespace fs = std::filesystem;
  const std::vector<std::string> names = {"none",     "fcalls",     "mprotect",  "process", "cheri",      "intel_pku",
                                          "fcalls_3", "mprotect_3", "process_3", "cheri_3", "intel_pku_3"};
  std::vector<std::string> present;
  for (const std::string& n : names) {
    if (fs::exists(fs::path(FLEXCAP_SQLITE_IMAGES_DIR) / ("sqlite_" + n))) present.push_back(n);
  }
  if (present.empty() || present.front() != "none") {
    err << "flexcap bench sqlite: the sqlite images are not built (cmake --build --preset release)\n";
    return 1;
  }
  // Rounds interleave the configurations, so that a drift of this machine affects all.
  std::map<std::string, std::vector<Run>> runs;
  for (int round = 0; round < rounds; ++round) {
    for (const std::string& n : present) {
      Run run;
      if (!run_once((fs::path(FLEXCAP_SQLITE_IMAGES_DIR) / ("sqlite_" + n)).string(), &run)) {
        err << "flexcap bench sqlite: the " << n << " image failed\n";
        return 1;
      }
      runs[n].push_back(run);
    }
  }
  auto median = [](std::vector<Run> v) {
    std::sort(v.begin(), v.end(), [](const Run& a, const Run& b) { return a.seconds < b.seconds; });
    return v[v.size() / 2];
  };
  const double baseline = median(runs["none"]).seconds;
  std::vector<std::pair<std::string, Run>> results;
  for (const std::string& n : present) results.emplace_back(n, median(runs[n]));

  if (json) {
    out << "{\"results\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const Run& r = results[i].second;
      out << "  {\"config\": \"" << results[i].first << "\", \"backend\": \"" << r.backend
          << "\", \"compartments\": " << r.compartments << ", \"seconds\": " << r.seconds
          << ", \"gate_crossings\": " << r.crossings << ", \"ratio\": " << r.seconds / baseline << "}"
          << (i + 1 < results.size() ? ",\n" : "\n");
    }
    out << "]}\n";
    return 0;
  }
  const std::map<std::string, std::string> targets = {{"cheri", "<= 1.15x"},
                                                      {"process", "<= 3.0x"},
                                                      {"intel_pku", "<= 1.5x"},
                                                      {"mprotect", "measured"},
                                                      {"mprotect_3", "measured"}};
  out << "SQLite: CREATE TABLE, then 5,000 INSERTs each in its own transaction, database on ramfs.\n"
      << "Median of " << rounds << " interleaved runs; ratio to `none` (one compartment, no isolation).\n"
      << "cheri runs on the software model of Morello: its time is of this x86 machine, not Morello.\n\n";
  char row[160];
  std::snprintf(row, sizeof(row), "%-10s %-9s %6s %10s %9s %12s  %s\n", "config", "backend", "comps", "seconds",
                "ratio", "crossings", "target");
  out << row;
  for (const auto& [name, r] : results) {
    const auto target = targets.find(name);
    std::snprintf(row, sizeof(row), "%-10s %-9s %6d %10.4f %8.2fx %12llu  %s\n", name.c_str(), r.backend.c_str(),
                  r.compartments, r.seconds, r.seconds / baseline, r.crossings,
                  target == targets.end() ? "" : target->second.c_str());
    out << row;
  }
  out << "\nPublished: FlexOS on x86 2.0x (MPK, 3 compartments), 3.2x (EPT, 2); FlexOS on Morello 2.2x (2).\n";
  return 0;
}

}  // namespace flexcap::tools
