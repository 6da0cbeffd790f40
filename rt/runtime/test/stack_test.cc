// Running code on a stack of the runtime's choosing (rt::run_on_stack).
#include "flexcap/rt/stack.hh"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace flexcap::rt {
namespace {

TEST(RunOnStack, TheBodyRunsOnTheGivenStack) {
  std::vector<std::byte> stack(64 * 1024);
  std::uintptr_t local_address = 0;
  run_on_stack(stack, [&] {
    volatile int local = 0;
    local_address = reinterpret_cast<std::uintptr_t>(&local);
  });
  EXPECT_GE(local_address, reinterpret_cast<std::uintptr_t>(stack.data()));
  EXPECT_LT(local_address, reinterpret_cast<std::uintptr_t>(stack.data() + stack.size()));
}

TEST(RunOnStack, AnExceptionUnwindsBackToTheCallersStack) {
  std::vector<std::byte> stack(64 * 1024);
  int after = 0;
  try {
    run_on_stack(stack, [] { throw std::runtime_error("thrown on the other stack"); });
  } catch (const std::runtime_error& e) {
    after = 1;
    EXPECT_STREQ(e.what(), "thrown on the other stack");
  }
  EXPECT_EQ(after, 1);
  // And the switch still works afterwards.
  int ran = 0;
  run_on_stack(stack, [&] { ran = 1; });
  EXPECT_EQ(ran, 1);
}

TEST(RunOnStack, Nests) {
  std::vector<std::byte> outer(64 * 1024), inner(64 * 1024);
  int depth = 0;
  run_on_stack(outer, [&] { run_on_stack(inner, [&] { depth = 2; }); });
  EXPECT_EQ(depth, 2);
}

TEST(RunOnStack, RefusesAStackTooSmall) {
  std::vector<std::byte> tiny(256);
  EXPECT_THROW(run_on_stack(tiny, [] {}), std::invalid_argument);
}

}  // namespace
}  // namespace flexcap::rt
