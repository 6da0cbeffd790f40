// attack_attacker — a compromised compartment. Each export is one attack on the victim
// compartment; it returns 0 when the attack got through and something else when it
// was stopped without a fault (a fault comes back to the harness as a gate error).
#pragma once

#include <cstdint>

#include "flexcap/rt/export.hh"

namespace flexcap::lib::attack_attacker {
FLEXCAP_LIBRARY(attack_attacker);

class Exports {
  static std::int32_t read_private_impl();
  static std::int32_t write_private_impl();
  static std::int32_t call_unexported_impl();
  static std::int32_t forge_capability_impl();
  static std::int32_t beyond_bounds_impl();
  static std::int32_t widen_permissions_impl();
  static std::int32_t confused_deputy_impl();
  static std::int32_t use_after_free_impl();
  static std::int32_t forged_sealed_entry_impl();
  static std::int32_t use_after_free_shared_impl();
  static std::int32_t hand_over_and_free_impl();
  static std::int32_t reach_reallocated_impl();
  static std::int32_t double_free_impl();
  static std::int32_t free_interior_pointer_impl();
  static std::int32_t raw_read_other_impl();
  static std::int32_t raw_write_other_impl();
  static std::int32_t raw_off_by_one_leaves_ddc_impl();
  static std::int32_t raw_off_by_one_inside_ddc_impl();
  static std::int32_t raw_call_other_impl();
  static std::int32_t raw_direct_call_other_impl();

 public:
  FLEXCAP_EXPORT(read_private, read_private_impl);
  FLEXCAP_EXPORT(write_private, write_private_impl);
  FLEXCAP_EXPORT(call_unexported, call_unexported_impl);
  FLEXCAP_EXPORT(forge_capability, forge_capability_impl);
  FLEXCAP_EXPORT(beyond_bounds, beyond_bounds_impl);
  FLEXCAP_EXPORT(widen_permissions, widen_permissions_impl);
  FLEXCAP_EXPORT(confused_deputy, confused_deputy_impl);
  FLEXCAP_EXPORT(use_after_free, use_after_free_impl);
  FLEXCAP_EXPORT(forged_sealed_entry, forged_sealed_entry_impl);
  // Temporal safety (docs/revocation.md).
  FLEXCAP_EXPORT(use_after_free_shared, use_after_free_shared_impl);
  FLEXCAP_EXPORT(hand_over_and_free, hand_over_and_free_impl);  // use-after-reallocation, before the reissue
  FLEXCAP_EXPORT(reach_reallocated, reach_reallocated_impl);    // and after it
  FLEXCAP_EXPORT(double_free, double_free_impl);
  FLEXCAP_EXPORT(free_interior_pointer, free_interior_pointer_impl);
  // The same attacks from unported C, compiled hybrid (src/raw.c).
  FLEXCAP_EXPORT(raw_read_other, raw_read_other_impl);
  FLEXCAP_EXPORT(raw_write_other, raw_write_other_impl);
  FLEXCAP_EXPORT(raw_off_by_one_leaves_ddc, raw_off_by_one_leaves_ddc_impl);
  FLEXCAP_EXPORT(raw_off_by_one_inside_ddc, raw_off_by_one_inside_ddc_impl);
  FLEXCAP_EXPORT(raw_call_other, raw_call_other_impl);
  FLEXCAP_EXPORT(raw_direct_call_other, raw_direct_call_other_impl);
};

}  // namespace flexcap::lib::attack_attacker
