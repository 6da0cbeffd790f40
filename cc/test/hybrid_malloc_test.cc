// malloc and friends in hybrid code (allocation.c): served from the running
// compartment's heap, inside its DDC; a compartment frees only its own blocks.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <span>
#include <string>

#include "flexcap/cc/hybrid_runtime.hh"
#include "flexcap/rt/runtime.hh"
#include "flexcap/rt/stack.hh"
#include "hybrid_test_support.hh"

extern "C" {
void* c_allocate(std::size_t);
void* c_zeroed(std::size_t, std::size_t);
void* c_grow(void*, std::size_t);
void c_release(void*);
char* c_copy_string(const char*);
}

namespace flexcap::cc {
namespace {

// An image of two compartments, mapped by hand; the hybrid code runs in `mine`.
rt::Runtime& runtime() {
  static const rt::CompartmentSpec compartments[] = {
      {"mine", 4ull << 20, rt::Sharing::Capability, rt::RestartPolicy::Never},
      {"other", 4ull << 20, rt::Sharing::Capability, rt::RestartPolicy::Never}};
  static const rt::LibrarySpec libraries[] = {{"test", 0}};
  static rt::Runtime& rt =
      rt::Runtime::start(rt::ImageSpec{"hybrid_malloc_test", rt::Backend::Cheri, compartments, libraries, 0});
  return rt;
}

class HybridMalloc : public ::testing::Test {
 protected:
  void SetUp() override {
    rt::Compartment& mine = runtime().compartment(0);
    state_ = hybrid_state(mine.data_capability(), executable_text());
    stack_ = static_cast<std::byte*>(mine.heap().allocate(128 * 1024));
  }
  void TearDown() override { runtime().compartment(0).heap().free(stack_); }

  std::string run(const std::function<void()>& body) {
    return test::run_as_hybrid(state_, std::span<std::byte>(stack_, 128 * 1024), body);
  }
  bool mine(const void* p, std::size_t n) {
    return runtime().compartment(0).owns(reinterpret_cast<std::uint64_t>(p), n);
  }

  HybridState state_;
  std::byte* stack_ = nullptr;
};

TEST_F(HybridMalloc, BlocksComeFromTheCompartmentsHeap) {
  const std::size_t before = runtime().compartment(0).heap().bytes_in_use();
  void* p = nullptr;
  EXPECT_EQ(run([&] { p = c_allocate(1000); }), "");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(mine(p, 1000));
  EXPECT_GT(runtime().compartment(0).heap().bytes_in_use(), before);
  EXPECT_EQ(run([&] { c_release(p); }), "");
  EXPECT_EQ(runtime().compartment(0).heap().bytes_in_use(), before);
}

TEST_F(HybridMalloc, CallocZeroesAndReallocKeepsTheBytes) {
  char* p = nullptr;
  EXPECT_EQ(run([&] { p = static_cast<char*>(c_zeroed(10, 10)); }), "");
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(p[i], 0);
  std::memcpy(p, "kept", 5);
  EXPECT_EQ(run([&] { p = static_cast<char*>(c_grow(p, 100000)); }), "");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(mine(p, 100000));
  EXPECT_STREQ(p, "kept");
  EXPECT_EQ(run([&] { c_release(p); }), "");
  // calloc's size overflow is refused, as the C library refuses it.
  void* huge = &huge;
  EXPECT_EQ(run([&] { huge = c_zeroed(~std::size_t{0} / 2, 4); }), "");
  EXPECT_EQ(huge, nullptr);
}

TEST_F(HybridMalloc, StrdupCopiesIntoTheCompartment) {
  char* source = static_cast<char*>(runtime().compartment(0).heap().allocate(16));
  std::memcpy(source, "hybrid", 7);
  char* copy = nullptr;
  EXPECT_EQ(run([&] { copy = c_copy_string(source); }), "");
  ASSERT_NE(copy, nullptr);
  EXPECT_STREQ(copy, "hybrid");
  EXPECT_TRUE(mine(copy, 7));
  EXPECT_EQ(run([&] { c_release(copy); }), "");
  runtime().compartment(0).heap().free(source);
}

TEST_F(HybridMalloc, FreeingAnotherCompartmentsBlockFaults) {
  void* theirs = runtime().compartment(1).heap().allocate(64);
  const std::string fault = run([&] { c_release(theirs); });
  EXPECT_NE(fault.find("free of memory in compartment 'other''s private memory"), std::string::npos) << fault;
  runtime().compartment(1).heap().free(theirs);
}

TEST_F(HybridMalloc, AFullHeapIsNullAsFromMalloc) {
  void* p = &p;
  EXPECT_EQ(run([&] { p = c_allocate(64ull << 20); }), "");
  EXPECT_EQ(p, nullptr);
}

}  // namespace
}  // namespace flexcap::cc
