// The injected-crash test: a driver in `app` uses SQLite in compartment `sqlite`, whose
// files are in ramfs in compartment `fs`. It commits rows, leaves a transaction open,
// then crashes SQLite's compartment. The crash comes back as an error; ramfs still holds
// the database; the restarted SQLite compartment reopens it and finds exactly the
// committed rows (the open transaction rolled back from its journal). Then the file
// system's compartment faults in the middle of a statement: that statement fails with
// SQLite's I/O error, and SQLite's compartment keeps running.
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
}  // namespace

int main() {
  flexcap::image::start();
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
  std::printf("file system faulted: the statement failed with \"%s\" (%d)\n",
              sqlite3_errstr(failed->unsafe_unverified()), failed->unsafe_unverified());
  auto answer = call<db::Exports::count>(text("SELECT 41 + 1;"));
  if (!answer || answer->unsafe_unverified() != 42) return fail("SQLite's compartment stopped answering");
  std::printf("SQLite's compartment still runs statements: 41 + 1 = 42\n");
  std::printf("ok\n");
  return 0;
}
