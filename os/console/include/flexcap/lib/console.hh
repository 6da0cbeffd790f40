// console — the image's standard output and error streams.
#pragma once

#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::console {
FLEXCAP_LIBRARY(console);

class Exports {
  static std::int64_t write_impl(cap::Cap<const char> text);
  static std::int64_t write_error_impl(cap::Cap<const char> text);

 public:
  FLEXCAP_EXPORT(write, write_impl);              // to standard output; bytes written
  FLEXCAP_EXPORT(write_error, write_error_impl);  // to standard error
};

}  // namespace flexcap::lib::console
