#include "batch_shell.hh"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <utility>

#include "flexcap/lib/sqlite_text.hh"

namespace flexcap::apps::sqlite {
namespace {

using lib::sqlite::SqliteText;

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// What the shell knows of the text gathered so far, line by line: whether a quoted
// string, quoted identifier or block comment is still open (and the character that
// closes it), whether anything but blanks and comments was seen, and whether the last
// such thing was a `;`. (shell.c's QuickScanState.)
struct Scan {
  char closer = 0;            // ' " ` ] or * (for "*/"); 0 outside
  bool dark = false;          // text other than blanks, comments and `;`
  bool ends_in_semi = false;  // the last text outside quotes and comments was `;`

  bool plain() const { return closer == 0; }
  bool blank() const { return closer == 0 && !dark; }                   // QSS_PLAINWHITE
  bool semicolon_ended() const { return closer == 0 && ends_in_semi; }  // QSS_SEMITERM
  bool start() const { return closer == 0 && !dark && !ends_in_semi; }

  // Continues the scan over one line.
  void line(const char* z) {
    while (*z != 0) {
      if (closer != 0) {  // inside something: look for its end
        const char c = *z++;
        if (c != closer) continue;
        if (closer == '*') {
          if (*z == '/') {
            ++z;
            closer = 0;
          }
        } else if ((closer == '\'' || closer == '"' || closer == '`') && *z == closer) {
          ++z;  // a doubled quote stays inside
        } else {
          closer = 0;
        }
        continue;
      }
      const char c = *z++;
      if (is_space(c)) continue;
      if (c == '-' && *z == '-') return;  // a comment to the end of the line
      if (c == ';') {
        ends_in_semi = true;
        continue;
      }
      if (c == '/' && *z == '*') {
        ++z;
        closer = '*';
        continue;
      }
      if (c == '[' || c == '`' || c == '\'' || c == '"') {
        closer = c == '[' ? ']' : c;
        dark = true;
        ends_in_semi = false;
        continue;
      }
      dark = true;
      ends_in_semi = false;
    }
  }
};

// A line holding only `/` (Oracle) or `go` (SQL Server), which ends a statement.
bool is_terminator_line(const char* z) {
  while (is_space(*z)) ++z;
  if (*z == '/') {
    z += 1;
  } else if (std::tolower(static_cast<unsigned char>(z[0])) == 'g' &&
             std::tolower(static_cast<unsigned char>(z[1])) == 'o') {
    z += 2;
  } else {
    return false;
  }
  Scan rest;
  rest.line(z);
  return rest.start();
}

// The shell's pointer to where a statement went wrong: the statement from up to 50
// bytes before the error (never splitting a UTF-8 character), at most 78 bytes of it
// with blanks shown as spaces, and a marker under the error's offset.
std::string error_context(const char* sql, sqlite3* db) {
  int offset = sqlite3_error_offset(db);
  if (sql == nullptr || offset < 0) return "";
  while (offset > 50) {
    --offset;
    ++sql;
    while ((sql[0] & 0xc0) == 0x80) {
      ++sql;
      --offset;
    }
  }
  std::size_t length = std::strlen(sql);
  if (length > 78) {
    length = 78;
    while ((sql[length] & 0xc0) == 0x80) --length;
  }
  std::string code(sql, length);
  for (char& c : code) {
    if (is_space(c)) c = ' ';
  }
  // Built with append: GCC 12 misreads a chain of operator+ here (-Wrestrict).
  std::string context = "\n  ";
  context.append(code).append("\n  ");
  if (offset < 25) return context.append(static_cast<std::size_t>(offset), ' ').append("^--- error here");
  return context.append(static_cast<std::size_t>(std::max(offset - 14, 0)), ' ').append("error here ---^");
}

// "in prepare, MESSAGE (CODE)CONTEXT": the code only when it says more than SQLITE_ERROR.
std::string error_message(sqlite3* db, const char* phase, int code, const char* sql) {
  std::string message = std::string(phase) + ", " + sqlite3_errmsg(db);
  if (code > 1) message += " (" + std::to_string(code) + ")";
  return message + error_context(sql, db);
}

}  // namespace

BatchShell::BatchShell(sqlite3* db, std::function<void(std::string_view)> print, std::function<void()> before_error)
    : db_(db), print_(std::move(print)), before_error_(std::move(before_error)) {}

void BatchShell::report(const std::string& line) {
  before_error_();
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
  ++errors_;
}

void BatchShell::print_row(sqlite3_stmt* statement) {
  const int columns = sqlite3_column_count(statement);
  for (int i = 0; i < columns; ++i) {
    if (i > 0) print_("|");
    // As the shell does in list mode: every value through sqlite3_column_text, up to
    // its first NUL.
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, i));
    if (text != nullptr) print_(text);
  }
  print_("\n");
}

std::string BatchShell::execute(const char* sql) {
  while (sql[0] != 0) {
    sqlite3_stmt* statement = nullptr;
    const char* rest = nullptr;
    const int prepared = sqlite3_prepare_v2(db_, sql, -1, &statement, &rest);
    if (prepared != SQLITE_OK) return error_message(db_, "in prepare", prepared, sql);
    if (statement != nullptr) {  // nullptr: only blanks or comments were left
      while (sqlite3_step(statement) == SQLITE_ROW) print_row(statement);
      // The shell reports what finalize says (the statement's error, if any).
      const int finished = sqlite3_finalize(statement);
      if (finished != SQLITE_OK) return error_message(db_, "stepping", finished, nullptr);
    }
    sql = rest;
    while (is_space(sql[0])) ++sql;
  }
  return "";
}

bool BatchShell::run_group(const std::string& sql, long start_line) {
  const std::string message = execute(SqliteText(sql).c_str());  // in SQLite's memory (sqlite_text.hh)
  if (message.empty()) return true;
  std::string_view type = "Error";
  std::string_view tail = message;
  if (tail.starts_with("in prepare, ")) {
    type = "Parse error";
    tail.remove_prefix(12);
  } else if (tail.starts_with("stepping, ")) {
    type = "Runtime error";
    tail.remove_prefix(10);
  }
  report(std::string(type) + " near line " + std::to_string(start_line) + ": " + std::string(tail));
  return false;
}

void BatchShell::run(std::istream& in) {
  std::string sql;  // the statement text gathered so far
  long line_number = 0;
  long start_line = 0;
  Scan scan;
  std::string line;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    line.resize(std::strlen(line.c_str()));  // the shell reads lines as C strings
    if (scan.plain() && is_terminator_line(line.c_str()) && sqlite3_complete(SqliteText(sql + ";").c_str()) != 0) {
      line.assign(1, ';');  // (assign(1, c): GCC 12 warns wrongly on `line = ";"` here)
    }
    scan.line(line.c_str());
    if (scan.blank() && sql.empty()) {  // blank lines and comments between statements
      scan = {};
      continue;
    }
    if (sql.empty() && (line[0] == '.' || line[0] == '#')) {
      if (line[0] == '.') {
        report("Error: the FlexCap SQLite image runs SQL, not the shell's dot-commands: \"" + line + "\"");
      }
      scan = {};
      continue;
    }
    if (sql.empty()) {
      std::size_t first = 0;
      while (first < line.size() && is_space(line[first])) ++first;
      sql = line.substr(first);
      start_line = line_number;
    } else {
      sql += '\n';
      sql += line;
    }
    if (!sql.empty() && scan.semicolon_ended() && sqlite3_complete(SqliteText(sql).c_str()) != 0) {
      run_group(sql, start_line);
      sql.clear();
      scan = {};
    } else if (!sql.empty() && scan.blank()) {
      sql.clear();  // only comments were gathered
      scan = {};
    }
  }
  if (!sql.empty()) run_group(sql, start_line);  // perhaps incomplete: SQLite will say
}

}  // namespace flexcap::apps::sqlite
