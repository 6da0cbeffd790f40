// sqlite_service — SQLite behind exports, so that another compartment can drive it
// (and so that a crash of SQLite's compartment can be injected and survived).
#pragma once

#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::sqlite_service {
FLEXCAP_LIBRARY(sqlite_service);

class Exports {
  static std::int32_t open_impl(cap::Cap<const char> path);
  static std::int32_t exec_impl(cap::Cap<const char> sql);
  static std::int64_t count_impl(cap::Cap<const char> sql);
  static void crash_impl();
  static std::int64_t scan_file_system_impl(cap::Cap<const char> secret);

 public:
  FLEXCAP_EXPORT(open, open_impl);    // opens (or reopens) the database at path: 0 or an SQLite code
  FLEXCAP_EXPORT(exec, exec_impl);    // runs SQL, discarding rows: 0 or an SQLite code
  FLEXCAP_EXPORT(count, count_impl);  // the integer a one-value SELECT returns, -1 on error
  FLEXCAP_EXPORT(crash, crash_impl);  // the test switch: a wild read, as a memory bug would make
  // The test-only hook of the sqlite-reads-ramfs attack: SQLite's compartment scans the
  // file system's memory for `secret` through raw pointers. Its offset there if found
  // (the file system's data was read), -1 if not; a fault where it is confined.
  FLEXCAP_EXPORT(scan_file_system, scan_file_system_impl);
};

}  // namespace flexcap::lib::sqlite_service
