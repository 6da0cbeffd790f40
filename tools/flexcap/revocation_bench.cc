// `flexcap bench revocation`: what temporal safety costs. Runs bench/revocation's
// program, which measures each case against its baseline in the same process, then
// SQLite's INSERTs on cheri with each policy against none (unless --quick), and prints the
// rows as a table or as {"results": [...]} (docs/revocation.md).

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "image_commands.hh"

namespace flexcap::tools {
namespace {

// A field of one of the program's rows (flat JSON: strings and numbers).
std::string field(const std::string& line, const std::string& name) {
  const std::string key = "\"" + name + "\": ";
  const auto at = line.find(key);
  if (at == std::string::npos) return "";
  std::size_t begin = at + key.size();
  if (line[begin] == '"') {
    ++begin;
    return line.substr(begin, line.find('"', begin) - begin);
  }
  return line.substr(begin, line.find_first_of(",}", begin) - begin);
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// SQLite's 5,000 INSERTs (apps/sqlite --bench) on the cheri layout, without revocation and
// with each policy: SQLite compiled hybrid allocates from its compartment's heap, whose
// frees then wait in quarantine. The three images are built with `flexcap build` (in
// build/images) if they are not yet. Rows as the program's.
bool sqlite_rows(int rounds, std::vector<std::string>& rows, std::ostream& err) {
  const std::filesystem::path examples = std::filesystem::path(FLEXCAP_SOURCE_DIR) / "examples" / "sqlite";
  const std::vector<std::pair<std::string, std::string>> configs = {
      {"off", "cheri.yaml"}, {"sweep", "cheri-revocation-sweep.yaml"}, {"load-filter", "cheri-revocation-load-filter.yaml"}};
  std::vector<std::string> binaries;
  for (const auto& [policy, file] : configs) {
    std::string binary;
    if (build_image((examples / file).string(), "sqlite", BuildOutput::Quiet, &binary, err) != 0) return false;
    binaries.push_back(binary);
  }
  std::vector<std::vector<double>> seconds(configs.size());
  const PinnedToOneCpu pinned;  // every image on one CPU (image_commands.hh)
  for (int round = 0; round < rounds; ++round) {  // interleaved
    for (std::size_t i = 0; i < configs.size(); ++i) {
      int status = 0;
      const std::vector<std::string> lines = output_lines(shell_quote(binaries[i]) + " --bench", &status);
      if (status != 0 || lines.empty()) {
        err << "flexcap bench revocation: " << binaries[i] << " --bench failed\n";
        return false;
      }
      seconds[i].push_back(std::stod(json_field(lines.front(), "seconds")));
    }
  }
  const double base = median_of(seconds[0]);
  for (std::size_t i = 1; i < configs.size(); ++i) {
    const double value = median_of(seconds[i]);
    char line[256];
    std::snprintf(line, sizeof line,
                  "{\"case\": \"sqlite-%s\", \"value\": %.6g, \"unit\": \"s\", \"baseline\": %.6g, \"ratio\": %.6g}",
                  configs[i].first.c_str(), value, base, value / base);
    rows.emplace_back(line);
  }
  return true;
}

}  // namespace

int bench_revocation(bool json, int rounds, bool quick, std::ostream& out, std::ostream& err) {
  const std::string program = std::string(FLEXCAP_REVOCATION_BENCH_DIR) + "/revocation_bench";
  if (!std::filesystem::exists(program)) {
    err << "flexcap bench revocation: " << program << " is not built. Fix: cmake --build the tree (target "
        << "revocation_bench)\n";
    return 2;
  }
  int status = 0;
  std::vector<std::string> rows =
      output_lines(shell_quote(program) + " --rounds " + std::to_string(rounds) + (quick ? " --quick" : ""), &status);
  if (status != 0 || rows.empty()) {
    err << "flexcap bench revocation: " << program << " failed (exit status " << status << ")\n";
    return 1;
  }
  if (!quick) {
    std::vector<std::string> sqlite;
    if (!sqlite_rows(rounds, sqlite, err)) return 1;
    rows.insert(rows.end(), sqlite.begin(), sqlite.end());
  }
  if (json) {
    out << "{\"results\": [";
    for (std::size_t i = 0; i < rows.size(); ++i) out << (i == 0 ? "\n  " : ",\n  ") << rows[i];
    out << "\n]}\n";
    return 0;
  }
  out << "Revocation: each case against its baseline, measured in the same run (docs/revocation.md)\n";
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, "  %-24s %14s %-8s %14s %8s\n", "case", "value", "unit", "baseline", "ratio");
  out << buffer;
  for (const std::string& line : rows) {
    std::snprintf(buffer, sizeof buffer, "  %-24s %14s %-8s %14s %8s\n", field(line, "case").c_str(),
                  field(line, "value").c_str(), field(line, "unit").c_str(), field(line, "baseline").c_str(),
                  field(line, "ratio").c_str());
    out << buffer;
  }
  return 0;
}

}  // namespace flexcap::tools
