// purecap_table — purecap C in an image (cc/test/purecap_image): a global table read
// through its own capability, and a sum over a pointer that C++ code hands it.
#pragma once

#include <cstdint>

#include "flexcap/rt/export.hh"

namespace flexcap::lib::purecap_table {
FLEXCAP_LIBRARY(purecap_table);

class Exports {
  static std::int64_t at_impl(std::uint64_t index);
  static std::int64_t sum_impl(std::uint64_t count);

 public:
  FLEXCAP_EXPORT(at, at_impl);
  FLEXCAP_EXPORT(sum, sum_impl);
};

}  // namespace flexcap::lib::purecap_table
