// The SQLite image's program: `flexcap run examples/sqlite/<config>.yaml -- [--db PATH]
// [SQLFILE]`. Reads SQL from the file (or standard input), runs it against a database
// on ramfs, and prints rows exactly as `sqlite3 -batch` does in its default list mode:
// columns separated by `|`, NULL as nothing, no headers. Errors go to standard error,
// the next statement runs anyway, and the exit status is 1 if any statement failed.
// `--bench` runs the FlexOS/Morello workload instead (flexcap bench sqlite).
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "flexcap/lib/console.hh"
#include "flexcap/lib/sqlite_vfs.hh"
#include "flexcap/rt/call.hh"

namespace {

// Output goes to the console library, in blocks: rows are gathered here and handed over
// as a read-only capability to exactly the gathered bytes, in the shared region.
class Output {
 public:
  void add(const char* text, std::size_t n) {
    pending_.append(text, n);
    if (pending_.size() >= 16 * 1024) flush();
  }
  void add(char c) { add(&c, 1); }
  void flush() {
    if (pending_.empty()) return;
    auto block = flexcap::rt::shared_alloc(pending_.size());
    flexcap::rt::check(block.copy_in(
        0, std::span<const std::byte>(reinterpret_cast<const std::byte*>(pending_.data()), pending_.size())));
    const flexcap::cap::Cap<const char> text(
        block.capability().restrict_permissions(flexcap::cap::Permission::Load | flexcap::cap::Permission::Global),
        block.memory());
    (void)flexcap::rt::call<flexcap::lib::console::Exports::write>(text);
    flexcap::rt::shared_free(block);
    pending_.clear();
  }

 private:
  std::string pending_;
};

Output& output() {
  static Output out;
  return out;
}

void print_row(sqlite3_stmt* statement) {
  const int columns = sqlite3_column_count(statement);
  for (int i = 0; i < columns; ++i) {
    if (i > 0) output().add('|');
    // As the CLI does in list mode: every value through sqlite3_column_text.
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, i));
    if (text != nullptr) output().add(text, std::strlen(text));
  }
  output().add('\n');
}

// Runs every statement of one complete chunk, as the CLI's shell_exec does: an error
// stops the rest of the chunk.
bool run_chunk(sqlite3* db, const std::string& sql, int line) {
  const char* tail = sql.c_str();
  while (*tail != '\0') {
    sqlite3_stmt* statement = nullptr;
    const char* next = nullptr;
    if (sqlite3_prepare_v2(db, tail, -1, &statement, &next) != SQLITE_OK) {
      output().flush();
      std::fprintf(stderr, "Parse error near line %d: %s\n", line, sqlite3_errmsg(db));
      return false;
    }
    tail = next;
    if (statement == nullptr) continue;  // whitespace or a comment
    int rc;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) print_row(statement);
    if (rc != SQLITE_DONE) {
      output().flush();
      std::fprintf(stderr, "Runtime error near line %d: %s\n", line, sqlite3_errmsg(db));
      sqlite3_finalize(statement);
      return false;
    }
    sqlite3_finalize(statement);
  }
  return true;
}

// The FlexOS / Morello workload: a table, then 5,000 single-row INSERTs, each in its
// own implicit transaction (so each commits through the rollback journal on ramfs).
// Prints one JSON line with the seconds it took and the gate crossings it made.
int run_benchmark(sqlite3* db) {
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t crossings_before = flexcap::rt::gate_crossings();
  char* error = nullptr;
  if (sqlite3_exec(db, "CREATE TABLE tab (id INTEGER PRIMARY KEY, text TEXT NOT NULL);", nullptr, nullptr, &error) !=
      SQLITE_OK) {
    std::fprintf(stderr, "benchmark: %s\n", error);
    return 1;
  }
  for (int i = 0; i < 5000; ++i) {
    if (sqlite3_exec(db, "INSERT INTO tab VALUES (null, 'value');", nullptr, nullptr, &error) != SQLITE_OK) {
      std::fprintf(stderr, "benchmark: insert %d: %s\n", i, error);
      return 1;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"config\": \"%s\", \"backend\": \"%s\", \"compartments\": %zu, \"seconds\": %.6f, "
      "\"gate_crossings\": %llu}\n",
      std::string(flexcap::image::kConfigPath).c_str(), std::string(to_string(flexcap::image::Backend::kKind)).c_str(),
      std::size(flexcap::image::kCompartments), seconds,
      static_cast<unsigned long long>(flexcap::rt::gate_crossings() - crossings_before));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db_path = "/flexcap.db";
  const char* sql_file = nullptr;
  bool benchmark = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--bench") == 0) {
      benchmark = true;
    } else if (std::strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db_path = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      std::fprintf(stderr, "usage: [--db PATH] [--bench] [SQLFILE]  (unknown option %s)\n", argv[i]);
      return 2;
    } else {
      sql_file = argv[i];
    }
  }
  flexcap::image::start();
  if (flexcap::lib::sqlite::register_flexcap_vfs() != SQLITE_OK) {
    std::fprintf(stderr, "cannot register the flexcap VFS\n");
    return 1;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "flexcap") != SQLITE_OK) {
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
  std::istream& in = sql_file != nullptr ? file : std::cin;
  // Lines accumulate until they form complete statements, as in the CLI.
  std::string chunk;
  std::string line;
  int line_number = 0;
  int chunk_start = 1;
  bool failed = false;
  while (std::getline(in, line)) {
    ++line_number;
    if (chunk.empty()) chunk_start = line_number;
    chunk += line;
    chunk += '\n';
    if (sqlite3_complete(chunk.c_str()) != 0) {
      failed |= !run_chunk(db, chunk, chunk_start);
      chunk.clear();
    }
  }
  if (chunk.find_first_not_of(" \t\r\n") != std::string::npos) failed |= !run_chunk(db, chunk, chunk_start);
  output().flush();
  sqlite3_close(db);
  return failed ? 1 : 0;
}
