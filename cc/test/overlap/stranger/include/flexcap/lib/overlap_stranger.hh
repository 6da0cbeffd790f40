// overlap_stranger — hybrid C that reads and writes any address through a plain pointer
// (cc/test/overlap): on cheri, what its DDC allows and nothing else.
#pragma once

#include <cstdint>

#include "flexcap/rt/export.hh"

namespace flexcap::lib::overlap_stranger {
FLEXCAP_LIBRARY(overlap_stranger);

class Exports {
  static std::uint64_t raw_read_impl(std::uint64_t address);
  static std::int32_t raw_write_impl(std::uint64_t address, std::uint64_t value);

 public:
  FLEXCAP_EXPORT(raw_read, raw_read_impl);
  FLEXCAP_EXPORT(raw_write, raw_write_impl);
};

}  // namespace flexcap::lib::overlap_stranger
