// The attack suite's harness: runs every attack on this image's backend and reports
// blocked, not-blocked or not-applicable, with the reason, one JSON object per line.
// With --check it compares each verdict with the expected one and fails on any
// difference, so a loss of isolation fails CI.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "flexcap/lib/attack_attacker.hh"
#include "flexcap/rt/call.hh"

namespace {

using flexcap::rt::Backend;
namespace attacker = flexcap::lib::attack_attacker;

enum class Outcome { Blocked, NotBlocked, NotApplicable };

const char* name_of(Outcome o) {
  switch (o) {
    case Outcome::Blocked: return "blocked";
    case Outcome::NotBlocked: return "not-blocked";
    case Outcome::NotApplicable: return "not-applicable";
  }
  return "?";
}

constexpr Backend kBackend = flexcap::image::Backend::kKind;

struct Attack {
  const char* name;
  flexcap::rt::GateResult<std::int32_t> (*run)();
  Outcome (*expected)(Backend);
  const char* why_it_gets_through;  // the detail when the verdict is not-blocked
};

Outcome blocked_unless_fcall(Backend b) { return b == Backend::Fcall ? Outcome::NotBlocked : Outcome::Blocked; }
Outcome blocked_everywhere(Backend) { return Outcome::Blocked; }
Outcome blocked_only_by_cheri(Backend b) { return b == Backend::Cheri ? Outcome::Blocked : Outcome::NotBlocked; }
Outcome cheri_only(Backend b) { return b == Backend::Cheri ? Outcome::Blocked : Outcome::NotApplicable; }
Outcome never_blocked(Backend) { return Outcome::NotBlocked; }

template <const auto& E>
flexcap::rt::GateResult<std::int32_t> run() {
  return flexcap::rt::call<E>();
}

// Use after reallocation. The attacker hands the victim a buffer and frees it; the
// harness, a third compartment, asks for the same size and gets that memory back (after
// a forced revocation, where the image has revocation: its quarantine would otherwise
// hold the memory back) and fills it; the victim then writes through what it kept.
flexcap::rt::GateResult<std::int32_t> use_after_reallocation() {
  namespace rt = flexcap::rt;
  auto freed = rt::call<attacker::Exports::hand_over_and_free>();
  if (!freed) return freed;
  rt::revoke();
  const flexcap::cap::Cap<std::byte> mine = rt::shared_alloc(64);
  const bool reissued = static_cast<std::int32_t>(mine.capability().base() & 0x7fffffff) == freed->unsafe_unverified();
  rt::check(mine.fill(0, 64, std::byte{0x11}));
  auto reached = rt::call<attacker::Exports::reach_reallocated>();
  const bool changed = rt::check(mine.load(0)) != std::byte{0x11};
  rt::shared_free(mine);
  if (!reached) return reached;
  if (!reissued) {
    return rt::GateResult<std::int32_t>(rt::Tainted<std::int32_t>(2));  // the memory never came back: no effect
  }
  return rt::GateResult<std::int32_t>(rt::Tainted<std::int32_t>(changed ? 0 : 1));
}

const std::vector<Attack> kAttacks = {
    {"read-private-memory", run<attacker::Exports::read_private>, blocked_unless_fcall,
     "fcall isolates nothing: every compartment reads all memory"},
    {"write-private-memory", run<attacker::Exports::write_private>, blocked_unless_fcall,
     "fcall isolates nothing: every compartment writes all memory"},
    {"call-unexported-function", run<attacker::Exports::call_unexported>, blocked_only_by_cheri,
     "page-based backends check memory, not entry points: a compromised compartment can enter another at any "
     "export (the build still rejects such a call in source: it does not compile)"},
    {"forge-capability", run<attacker::Exports::forge_capability>, blocked_everywhere, ""},
    {"access-beyond-bounds", run<attacker::Exports::beyond_bounds>, blocked_everywhere, ""},
    {"widen-permissions", run<attacker::Exports::widen_permissions>, blocked_everywhere, ""},
    {"invoke-ungranted-sealed-entry", run<attacker::Exports::forged_sealed_entry>, cheri_only, ""},
    {"confused-deputy", run<attacker::Exports::confused_deputy>, blocked_unless_fcall,
     "fcall checks no argument: the victim writes its own secret through the pointer it was handed"},
    {"use-after-free", run<attacker::Exports::use_after_free>, blocked_only_by_cheri,
     "only capabilities can be revoked (cheri, `revocation:`): the victim's kept capability still reaches the "
     "reused buffer"},
    {"use-after-free-shared", run<attacker::Exports::use_after_free_shared>, blocked_only_by_cheri,
     "only capabilities can be revoked (cheri, `revocation:`): the victim's copies of the freed buffer still "
     "write it"},
    {"use-after-reallocation", use_after_reallocation, blocked_only_by_cheri,
     "only capabilities can be revoked (cheri, `revocation:`): the victim's stale capability writes the data "
     "of the compartment the memory was reissued to"},
    {"double-free", run<attacker::Exports::double_free>, blocked_everywhere, ""},
    {"free-interior-pointer", run<attacker::Exports::free_interior_pointer>, blocked_everywhere, ""},
    {"raw-read-other-compartment", run<attacker::Exports::raw_read_other>, blocked_unless_fcall,
     "fcall isolates nothing: unported C reads all memory"},
    {"raw-write-other-compartment", run<attacker::Exports::raw_write_other>, blocked_unless_fcall,
     "fcall isolates nothing: unported C writes all memory"},
    {"raw-off-by-one-leaves-ddc", run<attacker::Exports::raw_off_by_one_leaves_ddc>, blocked_unless_fcall,
     "fcall isolates nothing: the byte past the attacker's region is written"},
    {"raw-call-other-compartment", run<attacker::Exports::raw_call_other>, blocked_unless_fcall,
     "fcall isolates nothing: unported C branches into any code, which then runs with all memory"},
    {"raw-direct-call-other-compartment", run<attacker::Exports::raw_direct_call_other>, blocked_unless_fcall,
     "fcall isolates nothing: a plain call from unported C into another compartment's code runs it with all "
     "memory"},
    {"raw-off-by-one-inside-ddc", run<attacker::Exports::raw_off_by_one_inside_ddc>, never_blocked,
     "hybrid code has one bound, its DDC: an overflow from one of the compartment's objects into the next stays "
     "inside it, and Morello allows it too (purecap code would fault: each pointer has its object's bounds)"},
};

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const bool check = argc > 1 && std::strcmp(argv[1], "--check") == 0;
  flexcap::image::start();
  int mismatches = 0;
  for (const Attack& attack : kAttacks) {
    Outcome outcome;
    std::string detail;
    if (attack.expected(kBackend) == Outcome::NotApplicable) {
      outcome = Outcome::NotApplicable;
      detail = std::string(to_string(kBackend)) + " has no sealed entries";
    } else {
      auto r = attack.run();
      if (!r) {
        outcome = Outcome::Blocked;
        detail = r.error().describe();
      } else if (r->unsafe_unverified() == 0) {
        outcome = Outcome::NotBlocked;
        detail = attack.why_it_gets_through;
      } else {
        outcome = Outcome::Blocked;
        detail = "the attempt ran but had no effect";
      }
    }
    std::cout << "{\"name\": \"" << attack.name << "\", \"backend\": \"" << to_string(kBackend) << "\", \"outcome\": \""
              << name_of(outcome) << "\", \"detail\": \"" << json_escape(detail) << "\"}\n";
    if (outcome != attack.expected(kBackend)) {
      ++mismatches;
      std::cerr << "UNEXPECTED: " << attack.name << " on " << to_string(kBackend) << " was " << name_of(outcome)
                << ", expected " << name_of(attack.expected(kBackend)) << "\n";
    }
  }
  return check && mismatches > 0 ? 1 : 0;
}
