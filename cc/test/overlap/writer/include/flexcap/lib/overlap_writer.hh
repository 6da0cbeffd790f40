// overlap_writer — hybrid C that keeps data for its neighbour (cc/test/overlap): one
// global marked FLEXCAP_OVERLAP_SHARED, one ordinary global, written and read through
// plain pointers by src/writer.c.
#pragma once

#include <cstdint>

#include "flexcap/rt/export.hh"

namespace flexcap::lib::overlap_writer {
FLEXCAP_LIBRARY(overlap_writer);

class Exports {
  static std::uint64_t publish_impl(std::uint64_t value);
  static std::uint64_t read_shared_impl();
  static std::uint64_t private_address_impl();

 public:
  // Stores `value` in the shared global and in the private one; returns the shared one's
  // address.
  FLEXCAP_EXPORT(publish, publish_impl);
  // The shared global's value, read through a plain pointer.
  FLEXCAP_EXPORT(read_shared, read_shared_impl);
  // The address of the ordinary (private) global.
  FLEXCAP_EXPORT(private_address, private_address_impl);
};

}  // namespace flexcap::lib::overlap_writer
