// The SQLite image's program: `flexcap run examples/sqlite/<config>.yaml -- [--db PATH]
// [SQLFILE]`. Reads SQL from the file (or standard input), runs it against a database
// on ramfs, and prints what `sqlite3 -batch` prints, byte for byte (batch_shell.hh):
// rows in list mode on standard output, errors on standard error; the next statement
// runs anyway, and the exit status is 1 if any statement failed. When the file system
// fails (a gate refused, its compartment faulted), a `flexcap:` line says why before
// SQLite's own "disk I/O error". `--bench` runs the FlexOS/Morello workload instead
// (flexcap bench sqlite); `--speedtest1 ARGS...` runs SQLite's own benchmark,
// speedtest1, with ARGS (its database file on ramfs: flexcap bench sqlite --workload
// speedtest1).
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>

#include "batch_shell.hh"
#include "flexcap/cc/hybrid_runtime.hh"
#include "flexcap/lib/console.hh"
#include "flexcap/lib/sqlite_text.hh"
#include "flexcap/lib/sqlite_vfs.hh"
#include "flexcap/rt/call.hh"

namespace {

using flexcap::lib::sqlite::SqliteText;

// Output goes to the console library, in blocks: rows are gathered here and handed over
// as read-only capabilities to exactly the gathered bytes, in the shared region.
class Output {
 public:
  void add(std::string_view text) {
    pending_.append(text);
    if (pending_.size() >= 16 * 1024) flush();
  }
  // Hands everything gathered to the console. If the console cannot take it, says so
  // on standard error (the bytes are then lost, and the image exits with status 1).
  void flush() {
    if (pending_.empty()) return;
    const std::string text = std::exchange(pending_, {});
    auto block = flexcap::rt::shared_alloc(text.size());
    flexcap::rt::check(
        block.copy_in(0, std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size())));
    const flexcap::cap::Cap<const char> all(
        block.capability().restrict_permissions(flexcap::cap::Permission::Load | flexcap::cap::Permission::Global),
        block.memory());
    // A block padded by the allocator is longer than the text: send exact windows.
    for (std::size_t sent = 0; sent < text.size();) {
      const std::size_t n = all.exact_count(sent, text.size() - sent);
      const auto r = flexcap::rt::call<flexcap::lib::console::Exports::write>(flexcap::rt::check(all.slice(sent, n)));
      if (!r || r->unsafe_unverified() != static_cast<std::int64_t>(n)) {
        std::fprintf(stderr, "flexcap: %zu bytes of output were lost: %s\n", text.size() - sent,
                     r ? "the console wrote fewer bytes than it was given" : r.error().describe().c_str());
        lost_ = true;
        break;
      }
      sent += n;
    }
    flexcap::rt::shared_free(block);
  }
  bool lost() const { return lost_; }

 private:
  std::string pending_;
  bool lost_ = false;
};

Output& output() {
  static Output out;
  return out;
}

// Before anything goes to standard error: the rows printed so far go out first, then
// the file system's own account of a failure, if SQLite's message is about to hide one.
void before_error() {
  output().flush();
  if (const std::string why = flexcap::lib::sqlite::io_failure(); !why.empty()) {
    std::fprintf(stderr, "flexcap: %s\n", why.c_str());
  }
}

// The FlexOS / Morello workload: a table, then 5,000 single-row INSERTs, each in its
// own implicit transaction (so each commits through the rollback journal on ramfs).
// Prints one JSON line with the seconds it took, the gate crossings it made and, in an
// image whose SQLite counts its checks (sqlite_cheri_count), the checks the INSERTs made.
int run_benchmark(sqlite3* db) {
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t crossings_before = flexcap::rt::gate_crossings();
  char* error = nullptr;
  const SqliteText create("CREATE TABLE tab (id INTEGER PRIMARY KEY, text TEXT NOT NULL);");
  const SqliteText insert("INSERT INTO tab VALUES (null, 'value');");
  if (sqlite3_exec(db, create.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::fprintf(stderr, "benchmark: %s\n", error);
    return 1;
  }
  const std::uint64_t checks_before = flexcap::cc::hybrid_checks_made();
  for (int i = 0; i < 5000; ++i) {
    if (sqlite3_exec(db, insert.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::fprintf(stderr, "benchmark: insert %d: %s\n", i, error);
      return 1;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::uint64_t checks = flexcap::cc::hybrid_checks_made() - checks_before;  // 0 unless compiled to count
  std::printf(
      "{\"config\": \"%s\", \"backend\": \"%s\", \"compartments\": %zu, \"seconds\": %.6f, "
      "\"gate_crossings\": %llu, \"inserts\": 5000, \"checks\": %llu}\n",
      std::string(flexcap::image::kConfigPath).c_str(), std::string(to_string(flexcap::image::Backend::kKind)).c_str(),
      std::size(flexcap::image::kCompartments), seconds,
      static_cast<unsigned long long>(flexcap::rt::gate_crossings() - crossings_before),
      static_cast<unsigned long long>(checks));
  return 0;
}

}  // namespace

extern "C" int speedtest1_main(int argc, char** argv);  // speedtest1.c, as compiled in source/

int run_image(int argc, char** argv) {
  std::string db_path = "/flexcap.db";
  const char* sql_file = nullptr;
  bool benchmark = false;
  int speedtest1_at = 0;  // where --speedtest1 is (what follows is speedtest1's)
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--speedtest1") == 0) {
      speedtest1_at = i;
      break;
    }
    if (std::strcmp(argv[i], "--bench") == 0) {
      benchmark = true;
    } else if (std::strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db_path = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      std::fprintf(stderr, "usage: [--db PATH] [--bench] [SQLFILE] | --speedtest1 [ARGS...]  (unknown option %s)\n",
                   argv[i]);
      return 2;
    } else {
      sql_file = argv[i];
    }
  }
  if (flexcap::lib::sqlite::register_flexcap_vfs() != SQLITE_OK) {
    std::fprintf(stderr, "cannot register the flexcap VFS\n");
    return 1;
  }
  if (speedtest1_at > 0) {  // its arguments are in the compartment already (run_main)
    const std::uint64_t crossings_before = flexcap::rt::gate_crossings();
    const int status = speedtest1_main(argc - speedtest1_at, argv + speedtest1_at);
    std::fflush(stdout);
    std::fprintf(stderr, "backend %s\ncompartments %zu\ngate_crossings %llu\n",
                 std::string(to_string(flexcap::image::Backend::kKind)).c_str(),
                 std::size(flexcap::image::kCompartments),
                 static_cast<unsigned long long>(flexcap::rt::gate_crossings() - crossings_before));
    return status;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(SqliteText(db_path).c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::fprintf(stderr, "cannot open database %s on ramfs: %s\n", db_path.c_str(), sqlite3_errmsg(db));
    return 1;
  }
  if (benchmark) {
    const int status = run_benchmark(db);
    sqlite3_close(db);
    return status;
  }
  std::ifstream file;
  if (sql_file != nullptr) {
    file.open(sql_file);
    if (!file) {
      std::fprintf(stderr, "cannot read %s: check the path\n", sql_file);
      return 1;
    }
  }
  flexcap::apps::sqlite::BatchShell shell(
      db, [](std::string_view text) { output().add(text); }, before_error);
  shell.run(sql_file != nullptr ? static_cast<std::istream&>(file) : std::cin);
  output().flush();
  sqlite3_close(db);
  const bool failed = shell.errors() > 0 || output().lost();
  return failed ? 1 : 0;
}

// Nothing ends the image with an uncaught exception: a fault in this compartment, where
// no gate contains it, is reported after the output gathered so far.
int run_contained(int argc, char** argv) {
  std::string why;
  try {
    return run_image(argc, argv);
  } catch (const flexcap::rt::CompartmentFault& fault) {
    why = "fault in the SQLite image's own compartment: " + fault.cause;
  } catch (const std::exception& e) {
    why = e.what();
  }
  try {
    output().flush();
  } catch (...) {  // the output's own failure must not hide the first one
  }
  std::fprintf(stderr, "flexcap: %s\n", why.c_str());
  return 1;
}

// The program runs in SQLite's compartment, on its stack (run_main): in cheri images,
// hybrid SQLite reaches the locals it is handed (`&db`) through its DDC.
int main(int argc, char** argv) { return flexcap::image::run_main(argc, argv, run_contained); }
