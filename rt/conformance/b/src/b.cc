#include <linux/futex.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "flexcap/lib/conformance_a.hh"
#include "flexcap/lib/conformance_b.hh"
#include "flexcap/lib/conformance_c.hh"
#include "flexcap/rt/call.hh"
#include "flexcap/rt/kernel_wait.hh"
#include "flexcap/rt/memory_access.hh"

namespace flexcap::lib::conformance_b {
namespace {
struct State {
  std::int64_t remembered = 0;
  std::int64_t four[4] = {1, 2, 3, 4};
  pollfd waiting{};
};
State& state() { return rt::library_state<Library, State>(); }
// A second state object of the same library (as code built into a library keeps).
struct Tally {
  std::int64_t remembers = 0;
};
Tally& tally() { return rt::library_state<Library, Tally>(); }
}  // namespace

std::int64_t Exports::add_impl(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) { return a + b + c + d; }

std::int64_t Exports::sum_impl(cap::Cap<const std::int64_t> values) {
  std::int64_t total = 0;
  for (std::int64_t v : rt::check(values.read_span(0, values.size()))) total += v;
  return total;
}

void Exports::fill_impl(cap::Cap<std::uint8_t> buffer, std::uint8_t value) {
  rt::check(buffer.fill(0, buffer.size(), value));
}

std::int64_t Exports::nested_impl(std::int64_t x) {
  auto r = rt::call<conformance_c::Exports::square>(x);
  if (!r) return -1;
  return r->unsafe_unverified() + 1;
}

std::int64_t Exports::callback_impl(std::int64_t x) {
  auto r = rt::call<conformance_a::Exports::twice>(x);
  if (!r) return -1;
  return r->unsafe_unverified() + 1;
}

void Exports::release_impl(cap::Cap<std::uint8_t> block) {
  rt::shared_free(cap::Cap<std::byte>(block.capability(), block.memory()));
}

std::int32_t Exports::divide_impl(std::int32_t a, std::int32_t b) { return b == 0 ? -1 : a / b; }

std::uint64_t Exports::load_impl(std::uint64_t address) { return rt::hybrid_load<std::uint64_t>(address); }

void Exports::store_impl(std::uint64_t address, std::uint64_t value) { rt::hybrid_store(address, value); }

std::int64_t Exports::overrun_impl(std::uint32_t index) {
  // A capability for exactly B's four-element array: element 4 is one past its end.
  const auto address = reinterpret_cast<std::uint64_t>(&state().four[0]);
  const cap::Cap<const std::int64_t> four(rt::ddc().set_value(address).set_bounds_exact(sizeof(State::four)));
  return rt::check(four.load(index));
}

void Exports::remember_impl(std::int64_t value) {
  state().remembered = value;
  ++tally().remembers;
}

std::int64_t Exports::recall_impl() { return state().remembered; }

std::int64_t Exports::remembers_impl() { return tally().remembers; }

void Exports::empty_impl() {}

std::int64_t Exports::wait_for_wake_impl(cap::Cap<std::uint32_t> word, std::int32_t milliseconds) {
  std::uint32_t* w = rt::check(word.write_span(0, 1)).data();
  const timespec timeout{.tv_sec = milliseconds / 1000, .tv_nsec = milliseconds % 1000 * 1'000'000L};
  // Shared across processes (the process backend): not a private futex.
  while (__atomic_load_n(w, __ATOMIC_ACQUIRE) == 0) {
    const long r = rt::wait_in_kernel({}, [&] { return syscall(SYS_futex, w, FUTEX_WAIT, 0, &timeout, nullptr, 0); });
    if (r != 0 && errno == ETIMEDOUT) return -ETIMEDOUT;
  }
  return 0;
}

std::int64_t Exports::sleep_in_kernel_impl(std::int32_t milliseconds, std::int32_t into_own_memory) {
  pollfd on_stack{};
  pollfd& entry = into_own_memory != 0 ? state().waiting : on_stack;
  entry = pollfd{.fd = -1, .events = POLLIN, .revents = 0};  // poll ignores it: a plain sleep
  const int r = rt::wait_in_kernel(std::as_bytes(std::span(&entry, 1)), [&] { return ::poll(&entry, 1, milliseconds); });
  return r < 0 ? -errno : r;
}

void Exports::die_impl() { raise(SIGKILL); }

}  // namespace flexcap::lib::conformance_b
