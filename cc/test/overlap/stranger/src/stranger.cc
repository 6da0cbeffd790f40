#include "flexcap/lib/overlap_stranger.hh"

extern "C" {
std::uint64_t stranger_raw_read(const std::uint64_t* address);
void stranger_raw_write(std::uint64_t* address, std::uint64_t value);
}

namespace flexcap::lib::overlap_stranger {
std::uint64_t Exports::raw_read_impl(std::uint64_t address) {
  return stranger_raw_read(reinterpret_cast<const std::uint64_t*>(address));
}
std::int32_t Exports::raw_write_impl(std::uint64_t address, std::uint64_t value) {
  stranger_raw_write(reinterpret_cast<std::uint64_t*>(address), value);
  return 0;
}
}  // namespace flexcap::lib::overlap_stranger
