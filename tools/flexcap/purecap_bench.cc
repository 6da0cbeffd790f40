// `flexcap bench purecap`: what compiling unmodified C purecap costs.
//  - libsodium from Debian's source, built plain and purecap, on the PLOS'23 workloads
//    (ChaCha20 over 64 MiB, hex encoding and decoding of 16 MiB, in 4 KiB pieces):
//    apps/sodium/purecap/purecap_bench.sh builds both and runs them interleaved;
//  - SQLite's speedtest1 (--size 25 --memdb), compiled plain and purecap from the same
//    amalgamation by the build (apps/sqlite/source, target sqlite_purecap), run
//    interleaved here; its peak memory too, and what of it is the shadow's.
// Ratios are purecap over plain, medians of the same run's rounds.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "image_commands.hh"

namespace flexcap::tools {
namespace {

struct Row {
  std::string workload;
  double plain = 0, purecap = 0;
  std::optional<unsigned long long> checks;
};

// One run of a program: wall time, peak resident memory, and the purecap runtime's
// FLEXCAP_PURECAP_STATS line (checks executed, shadow resident) when it printed one.
struct Run {
  bool ok = false;
  double seconds = 0;
  long max_rss_kib = 0;
  unsigned long long checks = 0, shadow_kib = 0;
};

Run run_program(const std::vector<std::string>& argv) {
  Run r;
  char stats_path[] = "/tmp/flexcap-purecap-stats-XXXXXX";
  const int stats = mkstemp(stats_path);
  if (stats < 0) return r;
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(stats, STDERR_FILENO);
    setenv("FLEXCAP_PURECAP_STATS", "1", 1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  const bool waited = pid > 0 && wait4(pid, &status, 0, &usage) == pid;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.ok = waited && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  r.max_rss_kib = usage.ru_maxrss;
  std::ifstream in(stats_path);
  for (std::string line; std::getline(in, line);) {
    std::sscanf(line.c_str(), "flexcap purecap: checks_executed %llu shadow_resident_kib %llu", &r.checks,
                &r.shadow_kib);
  }
  close(stats);
  std::remove(stats_path);
  return r;
}

struct Memory {
  long plain_kib = 0, purecap_kib = 0;
  unsigned long long shadow_kib = 0;
};

// speedtest1 plain and purecap, interleaved; false (and why, in *missing) where the build
// has none (the sanitized build makes no purecap SQLite).
bool speedtest1(int rounds, Row& row, Memory& memory, std::string* missing, std::ostream& err) {
  const PinnedToOneCpu pinned;  // both binaries on one CPU (image_commands.hh)
  const std::string dir = FLEXCAP_SQLITE_PURECAP_DIR;
  const std::string plain = dir + "/speedtest1-plain", purecap = dir + "/speedtest1", count = dir + "/speedtest1-count";
  if (dir.empty() || !std::filesystem::exists(plain) || !std::filesystem::exists(purecap)) {
    *missing = "speedtest1: SQLite purecap is not built in this build tree (target sqlite_purecap; the sanitized "
               "build makes none)";
    return false;
  }
  const std::vector<std::string> args = {"--size", "25", "--memdb"};
  std::vector<double> plain_s, purecap_s;
  std::vector<long> plain_kib, purecap_kib;
  std::vector<unsigned long long> shadow_kib;
  for (int i = 0; i < rounds; ++i) {
    for (const std::string* program : {&plain, &purecap}) {
      std::vector<std::string> argv = {*program};
      argv.insert(argv.end(), args.begin(), args.end());
      const Run r = run_program(argv);
      if (!r.ok) {
        err << "flexcap bench purecap: " << *program << " failed (run it with --size 25 --memdb to see why)\n";
        return false;
      }
      (program == &plain ? plain_s : purecap_s).push_back(r.seconds);
      (program == &plain ? plain_kib : purecap_kib).push_back(r.max_rss_kib);
      if (program == &purecap) shadow_kib.push_back(r.shadow_kib);
    }
  }
  row = {"speedtest1", median(plain_s), median(purecap_s), std::nullopt};
  memory = {median(plain_kib), median(purecap_kib), median(shadow_kib)};
  if (std::filesystem::exists(count)) {
    std::vector<std::string> argv = {count};
    argv.insert(argv.end(), args.begin(), args.end());
    if (const Run r = run_program(argv); r.ok) row.checks = r.checks;
  } else {
    *missing = "checks_executed of speedtest1: build target sqlite_purecap_count first (one more compile of SQLite)";
  }
  return true;
}

}  // namespace

int bench_purecap(bool json, int rounds, std::ostream& out, std::ostream& err) {
  const std::string script = std::string(FLEXCAP_SOURCE_DIR) + "/apps/sodium/purecap/purecap_bench.sh";
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  const std::string command = "bash " + shell_quote(script) + " " + shell_quote(ec ? "flexcap" : self) + " " +
                              shell_quote(FLEXCAP_SOURCE_DIR) + " " + shell_quote(FLEXCAP_SODIUM_PURECAP_DIR) + " " +
                              std::to_string(rounds) + " 2>&1";
  std::vector<Row> rows;
  int status = 0;
  std::vector<std::string> lines = output_lines(command, &status);
  for (const std::string& line : lines) {
    std::istringstream in(line);
    Row r;
    unsigned long long checks = 0;
    if (in >> r.workload >> r.plain >> r.purecap && r.plain > 0 && r.purecap > 0) {
      if (in >> checks) r.checks = checks;
      rows.push_back(r);
    }
  }
  if (status != 0 || rows.size() != 3) {
    err << "flexcap bench purecap: building or running libsodium failed:\n";
    for (const std::string& line : lines) err << "  " << line << '\n';
    return 1;
  }
  Row sqlite;
  Memory memory;
  std::string missing;
  const bool have_sqlite = speedtest1(rounds, sqlite, memory, &missing, err);
  if (!have_sqlite && missing.empty()) return 1;  // it ran and failed
  if (have_sqlite) rows.push_back(sqlite);
  auto checks = [](const Row& r) { return r.checks ? std::to_string(*r.checks) : std::string("null"); };
  if (json) {
    out << "{\"results\": [\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      out << "  {\"workload\": \"" << r.workload << "\", \"plain_seconds\": " << r.plain
          << ", \"purecap_seconds\": " << r.purecap << ", \"ratio\": " << r.purecap / r.plain
          << ", \"checks_executed\": " << checks(r) << "}" << (i + 1 < rows.size() ? ",\n" : "\n");
    }
    out << "]";
    if (have_sqlite) {
      out << ", \"memory\": [{\"workload\": \"speedtest1\", \"plain_max_rss_kib\": " << memory.plain_kib
          << ", \"purecap_max_rss_kib\": " << memory.purecap_kib << ", \"ratio\": "
          << static_cast<double>(memory.purecap_kib) / static_cast<double>(memory.plain_kib)
          << ", \"shadow_resident_kib\": " << memory.shadow_kib << "}]";
    }
    out << "}\n";
    return 0;
  }
  out << "Unmodified C compiled plain (clang-14 -O2) and purecap (flexcap cc --abi purecap -O2), median of " << rounds
      << " interleaved runs.\n"
      << "  libsodium 1.0.18 (Debian's source, --disable-asm), PLOS'23 workloads: ChaCha20 over 64 MiB, hex encoding\n"
      << "  and decoding of 16 MiB, 4 KiB at a time.\n"
      << "  speedtest1: SQLite 3.40.1's own benchmark (Debian's source), --size 25 --memdb, whole runs.\n"
      << "purecap runs on the software model of Morello: its time is of this x86 machine.\n\n";
  char line[200];
  std::snprintf(line, sizeof(line), "%-11s %11s %13s %8s %8s %16s\n", "workload", "plain (s)", "purecap (s)", "ratio",
                "target", "checks executed");
  out << line;
  for (const Row& r : rows) {
    const bool is_sqlite = r.workload == "speedtest1";
    std::snprintf(line, sizeof(line), "%-11s %11.4f %13.4f %7.2fx %8s %16s\n", r.workload.c_str(), r.plain, r.purecap,
                  r.purecap / r.plain, is_sqlite ? "<= 2.0x" : "<= 1.5x", checks(r) == "null" ? "-" : checks(r).c_str());
    out << line;
  }
  if (have_sqlite) {
    std::snprintf(line, sizeof(line),
                  "\nMemory (speedtest1, peak resident): plain %ld KiB, purecap %ld KiB (%.2fx), of which the shadow "
                  "%llu KiB.\n",
                  memory.plain_kib, memory.purecap_kib,
                  static_cast<double>(memory.purecap_kib) / static_cast<double>(memory.plain_kib), memory.shadow_kib);
    out << line;
  }
  if (!missing.empty()) out << "Not measured: " << missing << ".\n";
  out << "Stretch target for speedtest1: <= 1.5x. Published: SoftBound 1.67x on SPEC; purecap on Morello silicon "
         "1.0-1.65x.\n";
  return 0;
}

}  // namespace flexcap::tools
