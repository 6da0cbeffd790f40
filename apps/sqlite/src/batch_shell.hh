// The sqlite3 command-line shell's batch behaviour, for the SQLite image's program.
//
// The image promises output like `sqlite3 -batch`, byte for byte on stdout and stderr,
// so this follows the shell of the same SQLite release (3.40.1, shell.c.in's
// process_input, shell_exec and runOneSqlLine): how input lines become statements (a
// statement ends at a line whose `;` completes it; whitespace-only lines and `#` lines
// between statements are skipped; a line holding only `/` or `go` ends a statement),
// how rows print in list mode (`|` between columns, NULL as nothing, no headers), and
// how errors read:
//
//   Parse error near line 3: near "SELEKT": syntax error
//     SELEKT 1;
//     ^--- error here
//   Runtime error near line 5: UNIQUE constraint failed: p.name (19)
//
// Dot-commands are not supported: each is reported as an error and counted.
//
//   BatchShell shell(db, [&](std::string_view text) { out += text; }, [] { /* flush */ });
//   shell.run(std::cin);
//   return shell.errors() > 0 ? 1 : 0;
#pragma once

#include <sqlite3.h>

#include <functional>
#include <istream>
#include <string>
#include <string_view>

namespace flexcap::apps::sqlite {

class BatchShell {
 public:
  // `print` receives the rows' text; `before_error` runs before anything is written
  // to standard error (so that output printed before an error is out first).
  BatchShell(sqlite3* db, std::function<void(std::string_view)> print, std::function<void()> before_error);

  // Reads statements from `in` until its end, running each as the shell does.
  void run(std::istream& in);
  // Runs one group of complete statements that began on line `start_line`: what the
  // shell calls for each statement it has gathered. False if it reported an error.
  bool run_group(const std::string& sql, long start_line);

  int errors() const { return errors_; }

 private:
  // Runs the statements of `sql` until one fails; that one's error message, or "".
  std::string execute(const char* sql);
  void print_row(sqlite3_stmt* statement);
  void report(const std::string& line);

  sqlite3* db_;
  std::function<void(std::string_view)> print_;
  std::function<void()> before_error_;
  int errors_ = 0;
};

}  // namespace flexcap::apps::sqlite
