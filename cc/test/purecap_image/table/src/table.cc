#include <cstdint>

#include "flexcap/lib/purecap_table.hh"

extern "C" {
std::int64_t table_at(std::size_t i);
std::int64_t table_sum(const std::int64_t* values, std::size_t n);
}

namespace flexcap::lib::purecap_table {
std::int64_t Exports::at_impl(std::uint64_t index) { return table_at(index); }
// Hands purecap C a plain pointer to 8 values on this compartment's stack.
std::int64_t Exports::sum_impl(std::uint64_t count) {
  volatile std::int64_t values[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  return table_sum(const_cast<const std::int64_t*>(values), count);
}
}  // namespace flexcap::lib::purecap_table
