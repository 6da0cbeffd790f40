#include "flexcap/lib/sqlite_service.hh"

#include <sqlite3.h>

#include <string>

#include "flexcap/lib/sqlite_vfs.hh"
#include "flexcap/rt/memory_access.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::sqlite_service {
namespace {
struct State {
  sqlite3* db = nullptr;
};
State& state() { return rt::library_state<Library, State>(); }

std::string text_of(const cap::Cap<const char>& text) {
  std::string s(text.size(), '\0');
  rt::check(text.copy_out(0, std::span<char>(s.data(), s.size())));
  return s;
}
}  // namespace

std::int32_t Exports::open_impl(cap::Cap<const char> path) {
  static const int registered = lib::sqlite::register_flexcap_vfs();
  if (registered != SQLITE_OK) return registered;
  // After a restart the state is new: the old connection is gone with the compartment.
  return sqlite3_open_v2(text_of(path).c_str(), &state().db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "flexcap");
}

std::int32_t Exports::exec_impl(cap::Cap<const char> sql) {
  if (state().db == nullptr) return SQLITE_MISUSE;
  return sqlite3_exec(state().db, text_of(sql).c_str(), nullptr, nullptr, nullptr);
}

std::int64_t Exports::count_impl(cap::Cap<const char> sql) {
  if (state().db == nullptr) return -1;
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(state().db, text_of(sql).c_str(), -1, &statement, nullptr) != SQLITE_OK) return -1;
  const std::int64_t value = sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : -1;
  sqlite3_finalize(statement);
  return value;
}

void Exports::crash_impl() {
  volatile std::uint64_t wild = 8;  // a near-null pointer, as a use of a freed struct would make
  volatile std::uint64_t sink = rt::hybrid_load<std::uint64_t>(wild);  // volatile: the read must happen
  (void)sink;
}

}  // namespace flexcap::lib::sqlite_service
