// conformance_b — the callee of the backend conformance suite (compartment `b`). Each
// export exercises one thing a gate must get right.
#pragma once

#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::conformance_b {
FLEXCAP_LIBRARY(conformance_b);

class Exports {
  static std::int64_t add_impl(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d);
  static std::int64_t sum_impl(cap::Cap<const std::int64_t> values);
  static void fill_impl(cap::Cap<std::uint8_t> buffer, std::uint8_t value);
  static std::int64_t nested_impl(std::int64_t x);
  static std::int64_t callback_impl(std::int64_t x);
  static std::int32_t divide_impl(std::int32_t a, std::int32_t b);
  static std::uint64_t load_impl(std::uint64_t address);
  static void store_impl(std::uint64_t address, std::uint64_t value);
  static std::int64_t overrun_impl(std::uint32_t index);
  static void remember_impl(std::int64_t value);
  static std::int64_t recall_impl();
  static std::int64_t remembers_impl();
  static void empty_impl();
  static void die_impl();
  static void release_impl(cap::Cap<std::uint8_t> block);
  static std::int64_t wait_for_wake_impl(cap::Cap<std::uint32_t> word, std::int32_t milliseconds);
  static std::int64_t sleep_in_kernel_impl(std::int32_t milliseconds, std::int32_t into_own_memory);

 public:
  FLEXCAP_EXPORT(add, add_impl);            // four scalars in, one out
  FLEXCAP_EXPORT(sum, sum_impl);            // a buffer the callee reads
  FLEXCAP_EXPORT(fill, fill_impl);          // a buffer the callee writes
  FLEXCAP_EXPORT(nested, nested_impl);      // B calls C: A -> B -> C
  FLEXCAP_EXPORT(callback, callback_impl);  // B calls A back during A -> B
  FLEXCAP_EXPORT(divide, divide_impl);      // an error code travels back (-1 for b == 0)
  FLEXCAP_EXPORT(load, load_impl);          // reads memory at an address, as unported code would
  FLEXCAP_EXPORT(store, store_impl);        // writes it
  FLEXCAP_EXPORT(overrun, overrun_impl);    // reads past its own 4-element buffer (capability fault)
  FLEXCAP_EXPORT(remember, remember_impl);  // state kept in B's memory
  FLEXCAP_EXPORT(recall, recall_impl);
  FLEXCAP_EXPORT(remembers, remembers_impl);  // how many times remember ran: a second state object
  FLEXCAP_EXPORT(empty, empty_impl);  // nothing at all (gate cost)
  FLEXCAP_EXPORT(die, die_impl);      // kills its own process: called only on the process backend
  FLEXCAP_EXPORT(release, release_impl);  // frees a shared block it was handed (rt::shared_free)
  // Waits in the kernel (rt::wait_in_kernel, a futex) until another thread sets the shared
  // word and wakes it: 0, or -ETIMEDOUT.
  FLEXCAP_EXPORT(wait_for_wake, wait_for_wake_impl);
  // Waits in poll (rt::wait_in_kernel), with its pollfd on the stack or in B's own memory:
  // poll's result, or -errno.
  FLEXCAP_EXPORT(sleep_in_kernel, sleep_in_kernel_impl);
};

}  // namespace flexcap::lib::conformance_b
