// attack_victim — the compartment the attack suite tries to subvert. It keeps a
// private secret and offers exports that take memory from its callers.
#pragma once

#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::attack_victim {
FLEXCAP_LIBRARY(attack_victim);

inline constexpr std::uint64_t kSecret = 0x5ec2e7;
// What the victim's code at code_address() writes over its secret when it runs.
inline constexpr std::uint64_t kOverwrittenByCall = 0xca11;

class Exports {
  static std::uint64_t secret_address_impl();
  static std::uint64_t secret_impl();
  static void fill_impl(cap::Cap<std::uint8_t> buffer, std::uint8_t value);
  static void keep_impl(cap::Cap<std::uint8_t> buffer);
  static void write_kept_impl(std::uint8_t value);
  static void keep_copies_impl(cap::Cap<std::uint8_t> buffer);
  static void use_copy_impl(std::int32_t which, std::uint8_t value);
  static std::uint64_t unexported_helper_impl();
  static std::uint64_t code_address_impl();

 public:
  FLEXCAP_EXPORT(secret_address, secret_address_impl);  // leaks where the secret is (attackers learn addresses)
  FLEXCAP_EXPORT(secret, secret_impl);
  FLEXCAP_EXPORT(fill, fill_impl);              // writes the buffer it is handed: a deputy
  FLEXCAP_EXPORT(keep, keep_impl);              // keeps a capability to the buffer for later
  FLEXCAP_EXPORT(write_kept, write_kept_impl);  // writes through the kept capability
  // Keeps the buffer three ways: in its memory, sealed in its memory, and as a local
  // (a Held<T>); use_copy writes through one of them (0, 1, 2).
  FLEXCAP_EXPORT(keep_copies, keep_copies_impl);
  FLEXCAP_EXPORT(use_copy, use_copy_impl);
  FLEXCAP_EXPORT(code_address, code_address_impl);  // leaks where a function of its own is
  // Exported by the library but called by no other compartment: no import grants it.
  FLEXCAP_EXPORT(unexported_helper, unexported_helper_impl);
};

}  // namespace flexcap::lib::attack_victim
