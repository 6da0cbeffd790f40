#include "flexcap/lib/time.hh"

#include <chrono>
#include <thread>

namespace flexcap::lib::time {

std::int64_t Exports::now_ms_impl() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t Exports::monotonic_ns_impl() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Exports::sleep_us_impl(std::int64_t microseconds) {
  if (microseconds > 0) std::this_thread::sleep_for(std::chrono::microseconds(microseconds));
}

}  // namespace flexcap::lib::time
