#include "flexcap/lib/overlap_neighbour.hh"

extern "C" {
std::uint64_t neighbour_raw_read(const std::uint64_t* address);
void neighbour_raw_write(std::uint64_t* address, std::uint64_t value);
}

namespace flexcap::lib::overlap_neighbour {
std::uint64_t Exports::raw_read_impl(std::uint64_t address) {
  return neighbour_raw_read(reinterpret_cast<const std::uint64_t*>(address));
}
std::int32_t Exports::raw_write_impl(std::uint64_t address, std::uint64_t value) {
  neighbour_raw_write(reinterpret_cast<std::uint64_t*>(address), value);
  return 0;
}
}  // namespace flexcap::lib::overlap_neighbour
