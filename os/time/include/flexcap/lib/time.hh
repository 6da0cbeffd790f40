// time — the clock: what SQLite's VFS asks for the current time.
#pragma once

#include <cstdint>

#include "flexcap/rt/export.hh"

namespace flexcap::lib::time {
FLEXCAP_LIBRARY(time);

class Exports {
  static std::int64_t now_ms_impl();
  static std::int64_t monotonic_ns_impl();
  static void sleep_us_impl(std::int64_t microseconds);

 public:
  FLEXCAP_EXPORT(now_ms, now_ms_impl);              // milliseconds since the Unix epoch
  FLEXCAP_EXPORT(monotonic_ns, monotonic_ns_impl);  // a clock that never goes back
  FLEXCAP_EXPORT(sleep_us, sleep_us_impl);
};

}  // namespace flexcap::lib::time
