// malloc and friends in hybrid code (allocation.c): served from the running
// compartment's heap, inside its DDC; a compartment frees only its own blocks.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>

#include <cerrno>
#include <cstdint>
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
const char* c_getenv(const char*);
const char* c_strerror(int);
int c_first_address(const char*, const char*, void*, std::size_t, void**);
int c_print(char*, const char*, int);
int c_install_handler(int, volatile int*);
void c_raise(int);
void* c_identity_here();
void* c_identity_elsewhere();
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

// What the C library answers with a pointer into its own memory (a static string, its
// heap) is copied into the calling compartment, where hybrid code can read it.
TEST_F(HybridMalloc, TheCLibrarysAnswersAreCopiedIntoTheCompartment) {
  setenv("FLEXCAP_HYBRID_TEST", "in the environment", 1);
  char* name = static_cast<char*>(runtime().compartment(0).heap().allocate(32));
  std::strcpy(name, "FLEXCAP_HYBRID_TEST");
  const char* value = nullptr;
  EXPECT_EQ(run([&] { value = c_getenv(name); }), "");
  ASSERT_NE(value, nullptr);
  EXPECT_STREQ(value, "in the environment");
  EXPECT_TRUE(mine(value, std::strlen(value) + 1));
  const char* again = nullptr;
  EXPECT_EQ(run([&] { again = c_getenv(name); }), "");
  EXPECT_EQ(again, value);  // once per content: asking again does not grow the heap
  const char* message = nullptr;
  EXPECT_EQ(run([&] { message = c_strerror(ENOENT); }), "");
  ASSERT_NE(message, nullptr);
  EXPECT_STREQ(message, std::strerror(ENOENT));
  EXPECT_TRUE(mine(message, std::strlen(message) + 1));
  // getaddrinfo's list: in the compartment, read there, freed there.
  std::strcpy(name, "127.0.0.1");
  char* service = name + 16;  // (the strings hybrid code hands the C library are in its DDC)
  std::strcpy(service, "6379");
  auto* address = static_cast<sockaddr_in*>(runtime().compartment(0).heap().allocate(sizeof(sockaddr_in)));
  auto** where = static_cast<void**>(runtime().compartment(0).heap().allocate(sizeof(void*)));
  int length = 0;
  const std::size_t before = runtime().compartment(0).heap().bytes_in_use();
  EXPECT_EQ(run([&] { length = c_first_address(name, service, address, sizeof(sockaddr_in), where); }), "");
  ASSERT_EQ(length, static_cast<int>(sizeof(sockaddr_in)));
  EXPECT_TRUE(mine(*where, sizeof(sockaddr_in)));
  EXPECT_EQ(address->sin_port, htons(6379));
  EXPECT_EQ(address->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  EXPECT_EQ(runtime().compartment(0).heap().bytes_in_use(), before);  // freeaddrinfo freed the copy
  runtime().compartment(0).heap().free(where);
  runtime().compartment(0).heap().free(address);
  runtime().compartment(0).heap().free(name);
}

// sprintf has no bound: the length it would write is checked before it writes.
TEST_F(HybridMalloc, SprintfIsCheckedForTheLengthItWrites) {
  // A DDC of its own over one block of the heap, the code's stack in its lower half.
  constexpr std::size_t kBlock = 256 * 1024;
  rt::Compartment& c = runtime().compartment(0);
  auto* block = static_cast<std::byte*>(c.heap().allocate(kBlock, kBlock));
  ASSERT_NE(block, nullptr);
  const cap::Capability ddc =
      unconfined_ddc().set_value(reinterpret_cast<std::uint64_t>(block)).set_bounds_exact(kBlock);
  ASSERT_TRUE(ddc.tag());
  const HybridState narrow = hybrid_state(ddc, executable_text());
  const auto in_block = [&](const std::function<void()>& body) {
    return test::run_as_hybrid(narrow, std::span<std::byte>(block, kBlock / 2), body);
  };
  char* format = reinterpret_cast<char*>(block + kBlock / 2);
  std::strcpy(format, "%d");
  char* end = reinterpret_cast<char*>(block + kBlock);
  int n = 0;
  EXPECT_EQ(in_block([&] { n = c_print(end - 6, format, 12345); }), "");  // "12345" and its NUL: the last 6 bytes
  EXPECT_EQ(n, 5);
  EXPECT_STREQ(end - 6, "12345");
  const std::string fault = in_block([&] { (void)c_print(end - 6, format, 123456); });
  EXPECT_NE(fault.find("store of 7 bytes"), std::string::npos) << fault;
  EXPECT_STREQ(end - 6, "12345");  // nothing was written
  c.heap().free(block);
}

// A signal handler that hybrid code installs runs as that code: under its compartment's
// DDC, wherever the signal arrives (unconfined, or in another compartment's code).
TEST_F(HybridMalloc, ASignalHandlerRunsInTheCompartmentThatInstalledIt) {
  auto* slot = static_cast<volatile int*>(runtime().compartment(0).heap().allocate(sizeof(int)));
  *slot = 0;
  int r = -1;
  EXPECT_EQ(run([&] { r = c_install_handler(SIGUSR1, slot); }), "");
  ASSERT_EQ(r, 0);
  raise(SIGUSR1);  // unconfined here
  EXPECT_EQ(*slot, SIGUSR1);
  EXPECT_EQ(installed_hybrid_state(), nullptr);  // what the signal interrupted is back
  // Under the other compartment's DDC, which does not reach the slot.
  rt::Compartment& other = runtime().compartment(1);
  const HybridState theirs = hybrid_state(other.data_capability(), executable_text());
  auto* stack = static_cast<std::byte*>(other.heap().allocate(128 * 1024));
  *slot = 0;
  EXPECT_EQ(test::run_as_hybrid(theirs, std::span<std::byte>(stack, 128 * 1024), [] { c_raise(SIGUSR1); }), "");
  EXPECT_EQ(*slot, SIGUSR1);
  other.heap().free(stack);
  signal(SIGUSR1, SIG_DFL);
  runtime().compartment(0).heap().free(const_cast<int*>(slot));
}

// A function's address is the same wherever it is taken (Redis compares them).
TEST_F(HybridMalloc, AFunctionHasOneAddressInEveryFile) {
  EXPECT_EQ(c_identity_here(), c_identity_elsewhere());
}

}  // namespace
}  // namespace flexcap::cc
