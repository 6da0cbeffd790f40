#include "writer.h"

#include "flexcap/lib/overlap_writer.hh"

namespace flexcap::lib::overlap_writer {
std::uint64_t Exports::publish_impl(std::uint64_t value) {
  return reinterpret_cast<std::uint64_t>(writer_publish(value));
}
std::uint64_t Exports::read_shared_impl() { return writer_read_shared(); }
std::uint64_t Exports::private_address_impl() { return reinterpret_cast<std::uint64_t>(writer_private()); }
}  // namespace flexcap::lib::overlap_writer
