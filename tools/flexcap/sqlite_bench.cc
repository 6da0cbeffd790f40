// `flexcap bench sqlite`: the FlexOS / Morello SQLite experiment on every configuration
// built in this tree, each beside `none` (no isolation) measured in the same invocation.
// `--workload speedtest1` runs SQLite's own benchmark in the same images instead.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "image_commands.hh"

namespace flexcap::tools {
namespace {

namespace fs = std::filesystem;

struct Run {
  std::string config;
  std::string backend;
  int compartments = 0;
  double seconds = 0;
  unsigned long long crossings = 0;
  unsigned long long checks = 0;  // made by SQLite, in an image compiled to count them
  unsigned long long inserts = 0;
};

fs::path image_path(const std::string& name) { return fs::path(FLEXCAP_SQLITE_IMAGES_DIR) / ("sqlite_" + name); }

// The INSERT workload: the image prints one JSON line.
bool run_insert(const std::string& image, Run* run) {
  int status = 0;
  const std::vector<std::string> lines = output_lines(shell_quote(image) + " --bench", &status);
  if (status != 0 || lines.empty()) return false;
  const std::string& line = lines.front();
  run->config = json_field(line, "config");
  run->backend = json_field(line, "backend");
  run->compartments = std::stoi(json_field(line, "compartments"));
  run->seconds = std::stod(json_field(line, "seconds"));
  run->crossings = std::stoull(json_field(line, "gate_crossings"));
  run->checks = std::stoull(json_field(line, "checks"));
  run->inserts = std::stoull(json_field(line, "inserts"));
  return true;
}

// speedtest1, its database a file on ramfs (through SQLite's VFS adaptor, so every I/O
// crosses into the file system's compartment). The image prints speedtest1's report on
// standard output, then its backend, compartments and gate crossings on standard error.
bool run_speedtest1(const std::string& image, int size, Run* run) {
  const std::string command = shell_quote(image) + " --speedtest1 --size " + std::to_string(size) +
                              " /flexcap-speedtest1.db 2>&1";
  const auto value = [](const std::string& line, const std::string& key) -> const char* {
    return line.rfind(key + " ", 0) == 0 ? line.c_str() + key.size() + 1 : nullptr;
  };
  return speedtest1_seconds(command, &run->seconds, [&](const std::string& line) {
    if (const char* v = value(line, "gate_crossings")) run->crossings = std::strtoull(v, nullptr, 10);
    if (const char* v = value(line, "compartments")) run->compartments = std::atoi(v);
    if (const char* v = value(line, "backend")) run->backend = v;
  });
}

// Whether the backend confines SQLite's own accesses (not only what crosses a gate):
// page protections and processes do, in hardware; cheri does since SQLite is compiled
// hybrid in its images (every access checked against its compartment's DDC).
bool legacy_confined(const std::string& backend) {
  return backend == "mprotect" || backend == "process" || backend == "intel-pku" || backend == "cheri";
}

}  // namespace

int bench_sqlite(bool json, int rounds, const std::string& workload, int size, std::ostream& out, std::ostream& err) {
  const bool speedtest1 = workload == "speedtest1";
  if (!speedtest1 && workload != "insert") {
    err << "flexcap bench sqlite: unknown workload '" << workload << "'. Fix: --workload insert or speedtest1\n";
    return 2;
  }
  const std::vector<std::string> names = {"none",     "fcalls",     "mprotect",  "process", "cheri", "cheri_overlap",
                                          "intel_pku", "fcalls_3",  "mprotect_3", "process_3", "cheri_3", "intel_pku_3"};
  std::vector<std::string> present;
  for (const std::string& n : names) {
    if (fs::exists(image_path(n))) present.push_back(n);
  }
  if (present.empty() || present.front() != "none") {
    err << "flexcap bench sqlite: the sqlite images are not built (cmake --build --preset release --target "
           "sqlite_images)\n";
    return 1;
  }
  // Rounds interleave the configurations, so that a drift of this machine affects all,
  // and run on one CPU (image_commands.hh), but for the process backend's, whose
  // compartments' processes need the others.
  std::map<std::string, std::vector<Run>> runs;
  const PinnedToOneCpu pinned;
  for (int round = 0; round < rounds; ++round) {
    for (const std::string& n : present) {
      std::optional<PinnedToOneCpu::Lifted> lifted;
      if (n.rfind("process", 0) == 0) lifted.emplace(pinned);
      Run run;
      const bool ran = speedtest1 ? run_speedtest1(image_path(n).string(), size, &run)
                                  : run_insert(image_path(n).string(), &run);
      if (!ran) {
        err << "flexcap bench sqlite: the " << n << " image failed (" << workload << ")\n";
        return 1;
      }
      runs[n].push_back(run);
    }
  }
  const auto median_run = [](const std::vector<Run>& v) {
    return median(v, [](const Run& a, const Run& b) { return a.seconds < b.seconds; });
  };
  const double baseline = median_run(runs["none"]).seconds;
  struct Result {
    std::string name;
    Run run;
    std::optional<double> checks_per_insert;  // unknown where no counting image is built
  };
  std::vector<Result> results;
  for (const std::string& n : present) {
    Result r{n, median_run(runs[n]), std::nullopt};
    if (r.run.backend != "cheri") {
      r.checks_per_insert = 0.0;  // SQLite is compiled plain: it makes no checks
    } else if (!speedtest1) {
      Run counted;  // the same layout, its SQLite counting its checks (never timed)
      if (fs::exists(image_path(n + "_count")) && run_insert(image_path(n + "_count").string(), &counted) &&
          counted.inserts > 0) {
        r.checks_per_insert = static_cast<double>(counted.checks) / static_cast<double>(counted.inserts);
      }
    }
    results.push_back(r);
  }

  if (json) {
    out << "{\"workload\": \"" << workload << "\", \"results\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const Run& r = results[i].run;
      out << "  {\"config\": \"" << results[i].name << "\", \"backend\": \"" << r.backend
          << "\", \"compartments\": " << r.compartments << ", \"seconds\": " << r.seconds
          << ", \"gate_crossings\": " << r.crossings << ", \"ratio\": " << r.seconds / baseline
          << ", \"legacy_confined\": " << (legacy_confined(r.backend) ? "true" : "false") << ", \"checks_per_insert\": ";
      if (speedtest1 || !results[i].checks_per_insert) {
        out << "null";
      } else {
        out << *results[i].checks_per_insert;
      }
      out << "}" << (i + 1 < results.size() ? ",\n" : "\n");
    }
    out << "]}\n";
    return 0;
  }
  const std::map<std::string, std::string> targets = {{"cheri", "<= 1.35x"},
                                                      {"process", "<= 3.0x"},
                                                      {"intel_pku", "<= 1.5x"},
                                                      {"mprotect", "measured"},
                                                      {"mprotect_3", "measured"}};
  if (speedtest1) {
    out << "SQLite's speedtest1 --size " << size << ", database on ramfs.\n";
  } else {
    out << "SQLite: CREATE TABLE, then 5,000 INSERTs each in its own transaction, database on ramfs.\n";
  }
  out << "Median of " << rounds << " interleaved runs; ratio to `none` (one compartment, no isolation).\n"
      << "confined: the backend confines SQLite's own accesses (cheri: SQLite compiled hybrid, checked against its\n"
      << "DDC). cheri runs on the software model of Morello: its time is of this x86 machine, not Morello.\n\n";
  char row[200];
  std::snprintf(row, sizeof(row), "%-13s %-9s %6s %10s %9s %12s %9s %12s  %s\n", "config", "backend", "comps",
                "seconds", "ratio", "crossings", "confined", speedtest1 ? "" : "checks/ins", "target");
  out << row;
  for (const Result& result : results) {
    const Run& r = result.run;
    const auto target = targets.find(result.name);
    char checks[32] = "";
    if (!speedtest1) {
      if (result.checks_per_insert) {
        std::snprintf(checks, sizeof(checks), "%.0f", *result.checks_per_insert);
      } else {
        std::snprintf(checks, sizeof(checks), "?");
      }
    }
    std::snprintf(row, sizeof(row), "%-13s %-9s %6d %10.4f %8.2fx %12llu %9s %12s  %s\n", result.name.c_str(),
                  r.backend.c_str(), r.compartments, r.seconds, r.seconds / baseline, r.crossings,
                  legacy_confined(r.backend) ? "yes" : "no", checks,
                  target == targets.end() || speedtest1 ? "" : target->second.c_str());
    out << row;
  }
  if (!speedtest1) {
    out << "\nPublished: FlexOS on x86 2.0x (MPK, 3 compartments), 3.2x (EPT, 2); FlexOS on Morello 2.2x (2,\n"
        << "overlapping DDCs, PLOS'23).\n";
  }
  return 0;
}

}  // namespace flexcap::tools
