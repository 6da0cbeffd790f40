#include "flexcap/lib/conformance_a.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::conformance_a {
namespace {
struct State {
  std::uint64_t secret = 0x5ec2e7;
};
}  // namespace

std::int64_t Exports::twice_impl(std::int64_t x) { return 2 * x; }

std::uint64_t Exports::secret_address_impl() {
  return reinterpret_cast<std::uint64_t>(&rt::library_state<Library, State>().secret);
}

}  // namespace flexcap::lib::conformance_a
