#include "flexcap/lib/sqlite_service.hh"

#include <sqlite3.h>

#include <string>

#include "flexcap/lib/sqlite_text.hh"
#include "flexcap/lib/sqlite_vfs.hh"
#include "flexcap/rt/memory_access.hh"
#include "flexcap/rt/runtime.hh"
#include "raw_scan.h"

namespace flexcap::lib::sqlite_service {
namespace {
struct State {
  sqlite3* db = nullptr;
};
State& state() { return rt::library_state<Library, State>(); }

// The text a capability refers to, copied into SQLite's memory (sqlite_text.hh).
std::string text_of(const cap::Cap<const char>& text) {
  std::string s(text.size(), '\0');
  rt::check(text.copy_out(0, std::span<char>(s.data(), s.size())));
  return s;
}
using lib::sqlite::SqliteText;
}  // namespace

std::int32_t Exports::open_impl(cap::Cap<const char> path) {
  // After a restart the state is new: the old connection is gone with the compartment
  // (and the VFS registration with SQLite's globals).
  if (const int registered = lib::sqlite::register_flexcap_vfs(); registered != SQLITE_OK) return registered;
  return sqlite3_open_v2(SqliteText(text_of(path)).c_str(), &state().db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                         nullptr);
}

std::int32_t Exports::exec_impl(cap::Cap<const char> sql) {
  if (state().db == nullptr) return SQLITE_MISUSE;
  return sqlite3_exec(state().db, SqliteText(text_of(sql)).c_str(), nullptr, nullptr, nullptr);
}

std::int64_t Exports::count_impl(cap::Cap<const char> sql) {
  if (state().db == nullptr) return -1;
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(state().db, SqliteText(text_of(sql)).c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    return -1;
  }
  const std::int64_t value = sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : -1;
  sqlite3_finalize(statement);
  return value;
}

void Exports::crash_impl() {
  volatile std::uint64_t wild = 8;  // a near-null pointer, as a use of a freed struct would make
  volatile std::uint64_t sink = rt::hybrid_load<std::uint64_t>(wild);  // volatile: the read must happen
  (void)sink;
}

std::int64_t Exports::scan_file_system_impl(cap::Cap<const char> secret) {
  rt::Runtime& runtime = rt::Runtime::get();
  const int fs = runtime.spec().libraries[static_cast<std::size_t>(rt::library_slot("ramfs"))].compartment;
  const cap::TaggedMemory& memory = runtime.compartment(fs).memory();
  const SqliteText needle(text_of(secret));  // in this compartment's memory, where its C may read it
  return flexcap_raw_scan(memory.base(), memory.size(), needle.c_str(), secret.size());
}

}  // namespace flexcap::lib::sqlite_service
