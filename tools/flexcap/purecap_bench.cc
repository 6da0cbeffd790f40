// `flexcap bench purecap`: what compiling unmodified C purecap costs. libsodium from
// Debian's source, built plain and purecap, on the PLOS'23 workloads (ChaCha20 over
// 64 MiB, hex encoding and decoding of 16 MiB, in 4 KiB pieces):
// apps/sodium/purecap/purecap_bench.sh builds both and runs them interleaved.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "image_commands.hh"

namespace flexcap::tools {

int bench_purecap(bool json, int rounds, std::ostream& out, std::ostream& err) {
  const std::string script = std::string(FLEXCAP_SOURCE_DIR) + "/apps/sodium/purecap/purecap_bench.sh";
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  const std::string command = "bash " + shell_quote(script) + " " + shell_quote(ec ? "flexcap" : self) + " " +
                              shell_quote(FLEXCAP_SOURCE_DIR) + " " + shell_quote(FLEXCAP_SODIUM_PURECAP_DIR) + " " +
                              std::to_string(rounds) + " 2>&1";
  struct Result {
    std::string workload;
    double plain = 0, purecap = 0;
  };
  std::vector<Result> results;
  int status = 0;
  std::vector<std::string> lines = output_lines(command, &status);
  for (const std::string& line : lines) {
    std::istringstream in(line);
    Result r;
    if (in >> r.workload >> r.plain >> r.purecap && r.plain > 0 && r.purecap > 0) results.push_back(r);
  }
  if (status != 0 || results.size() != 3) {
    err << "flexcap bench purecap: building or running libsodium failed:\n";
    for (const std::string& line : lines) err << "  " << line << '\n';
    return 1;
  }
  if (json) {
    // checks_executed: the purecap pass does not count its checks at run time yet.
    out << "{\"results\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      out << "  {\"workload\": \"" << r.workload << "\", \"plain_seconds\": " << r.plain
          << ", \"purecap_seconds\": " << r.purecap << ", \"ratio\": " << r.purecap / r.plain
          << ", \"checks_executed\": null}" << (i + 1 < results.size() ? ",\n" : "\n");
    }
    out << "]}\n";
    return 0;
  }
  out << "libsodium 1.0.18 (Debian's source, --disable-asm) built plain and purecap; PLOS'23 workloads: ChaCha20 over\n"
      << "64 MiB, hex encoding and decoding of 16 MiB, 4 KiB at a time. Median of " << rounds
      << " interleaved runs.\npurecap runs on the software model of Morello: its time is of this x86 machine.\n\n";
  char row[160];
  std::snprintf(row, sizeof(row), "%-9s %12s %14s %8s  %s\n", "workload", "plain (s)", "purecap (s)", "ratio", "target");
  out << row;
  for (const Result& r : results) {
    std::snprintf(row, sizeof(row), "%-9s %12.4f %14.4f %7.2fx  %s\n", r.workload.c_str(), r.plain, r.purecap,
                  r.purecap / r.plain, "<= 1.5x");
    out << row;
  }
  out << "\nNot measured yet: speedtest1 (SQLite compiled purecap does not run yet: cc/README.md, \"Purecap\").\n"
      << "Published: SoftBound 1.67x on SPEC; purecap on Morello silicon 1.0-1.65x.\n";
  return 0;
}

}  // namespace flexcap::tools
