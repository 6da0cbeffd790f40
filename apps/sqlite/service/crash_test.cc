// The injected-crash test: a driver in `app` uses SQLite in compartment `sqlite`, whose
// files are in ramfs in compartment `fs`. It commits rows, leaves a transaction open,
// then crashes SQLite's compartment. The crash comes back as an error; ramfs still holds
// the database; the restarted SQLite compartment reopens it and finds exactly the
// committed rows (the open transaction rolled back from its journal). Then the file
// system's compartment faults in the middle of a statement: that statement fails with
// SQLite's I/O error, and SQLite's compartment keeps running.
//
// With --attack [--check], it runs flexcap attack's `sqlite-reads-ramfs` instead: SQLite
// commits a secret row, then its compartment's test-only hook looks for that secret in
// the file system's memory through raw pointers. One JSON verdict line, as the attack
// images print; --check fails unless it is blocked on every backend but fcall.
#include <sqlite3.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "flexcap/lib/ramfs.hh"
#include "flexcap/lib/sqlite_service.hh"
#include "flexcap/rt/call.hh"

namespace {
namespace db = flexcap::lib::sqlite_service;

// A read-only capability to exactly the text, in the shared region.
flexcap::cap::Cap<const char> text(const std::string& s) {
  auto block = flexcap::rt::shared_alloc(s.size());
  flexcap::rt::check(
      block.copy_in(0, std::span<const std::byte>(reinterpret_cast<const std::byte*>(s.data()), s.size())));
  return flexcap::cap::Cap<const char>(
      block.capability().restrict_permissions(flexcap::cap::Permission::Load | flexcap::cap::Permission::Global),
      block.memory());
}

int fail(const char* what) {
  std::fprintf(stderr, "FAIL: %s\n", what);
  return 1;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

int attack(bool check) {
  using flexcap::rt::call;
  constexpr flexcap::rt::Backend kBackend = flexcap::image::Backend::kKind;
  const std::string secret = "flexcap-secret-7f3a9c";  // what only the database holds
  if (auto r = call<db::Exports::open>(text("/attack.db")); !r || r->unsafe_unverified() != 0) return fail("open");
  if (auto r = call<db::Exports::exec>(text("CREATE TABLE s (v TEXT); INSERT INTO s VALUES ('" + secret + "');"));
      !r || r->unsafe_unverified() != 0) {
    return fail("insert the secret");
  }
  const auto found = call<db::Exports::scan_file_system>(text(secret));
  std::string outcome = "blocked", detail;
  if (!found) {
    detail = found.error().describe();
  } else if (found->unsafe_unverified() >= 0) {
    outcome = "not-blocked";
    detail = "fcall isolates nothing: SQLite's C read the database's bytes in the file system's memory";
  } else {
    detail = "the scan ran but did not find the secret";
  }
  std::printf("{\"name\": \"sqlite-reads-ramfs\", \"backend\": \"%s\", \"outcome\": \"%s\", \"detail\": \"%s\"}\n",
              std::string(to_string(kBackend)).c_str(), outcome.c_str(), json_escape(detail).c_str());
  const std::string expected = kBackend == flexcap::rt::Backend::Fcall ? "not-blocked" : "blocked";
  if (outcome != expected) {
    std::fprintf(stderr, "UNEXPECTED: sqlite-reads-ramfs on %s was %s, expected %s\n",
                 std::string(to_string(kBackend)).c_str(), outcome.c_str(), expected.c_str());
    return check ? 1 : 0;
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  flexcap::image::start();
  if (argc > 1 && std::strcmp(argv[1], "--attack") == 0) {
    return attack(argc > 2 && std::strcmp(argv[2], "--check") == 0);
  }
  using flexcap::rt::call;
  if (auto r = call<db::Exports::open>(text("/crash.db")); !r || r->unsafe_unverified() != 0) return fail("open");
  if (auto r = call<db::Exports::exec>(text("CREATE TABLE t (v INTEGER);")); !r || r->unsafe_unverified() != 0) {
    return fail("create");
  }
  for (int i = 0; i < 100; ++i) {
    auto r = call<db::Exports::exec>(text("INSERT INTO t VALUES (" + std::to_string(i) + ");"));
    if (!r || r->unsafe_unverified() != 0) return fail("insert");
  }
  // An open transaction with rows that must not survive the crash.
  (void)call<db::Exports::exec>(text("BEGIN; INSERT INTO t VALUES (-1); INSERT INTO t VALUES (-2);"));
  auto crashed = call<db::Exports::crash>();
  if (crashed) return fail("the injected crash did not fault");
  std::printf("crash contained: %s\n", crashed.error().describe().c_str());
  // The sqlite compartment restarts on the next call (restart: on-fault) and reopens.
  if (auto r = call<db::Exports::open>(text("/crash.db")); !r || r->unsafe_unverified() != 0) return fail("reopen");
  auto count = call<db::Exports::count>(text("SELECT count(*) FROM t;"));
  auto negative = call<db::Exports::count>(text("SELECT count(*) FROM t WHERE v < 0;"));
  if (!count || !negative) return fail("count after restart");
  std::printf("after restart: %lld rows, %lld from the uncommitted transaction\n",
              static_cast<long long>(count->unsafe_unverified()),
              static_cast<long long>(negative->unsafe_unverified()));
  if (count->unsafe_unverified() != 100 || negative->unsafe_unverified() != 0) {
    return fail("the committed rows did not survive exactly");
  }
  // The file system faults on its next write: the INSERT's commit reaches it.
  if (!call<flexcap::lib::ramfs::Exports::fault_after>(0)) return fail("arming the file system's fault");
  auto failed = call<db::Exports::exec>(text("INSERT INTO t VALUES (1000);"));
  if (!failed) return fail("SQLite's compartment did not survive the file system's fault");
  if ((failed->unsafe_unverified() & 0xff) != SQLITE_IOERR) return fail("the statement did not fail with SQLITE_IOERR");
  // (The code only: SQLite's text for it lives in SQLite's compartment, not this one.)
  std::printf("file system faulted: the statement failed with SQLITE_IOERR (extended code %d)\n",
              failed->unsafe_unverified());
  auto answer = call<db::Exports::count>(text("SELECT 41 + 1;"));
  if (!answer || answer->unsafe_unverified() != 42) return fail("SQLite's compartment stopped answering");
  std::printf("SQLite's compartment still runs statements: 41 + 1 = 42\n");
  std::printf("ok\n");
  return 0;
}
