// The hybrid pass on each kind of access (access_kinds.c, compiled with the plugin):
// one byte inside the DDC succeeds, one byte outside raises the capability fault that
// Cap<T> raises, with the same text. The code runs on a stack inside its DDC, as the
// runtime runs hybrid code.
#include <gtest/gtest.h>
#include <pthread.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <span>
#include <string>

#include "flexcap/cap/access.hh"
#include "flexcap/cc/hybrid_runtime.hh"
#include "flexcap/rt/runtime.hh"
#include "flexcap/rt/stack.hh"
#include "hybrid_test_support.hh"

extern "C" {
typedef std::uint8_t v16 __attribute__((vector_size(16)));
typedef std::uint8_t v32 __attribute__((vector_size(32)));
std::uint8_t load_1(const std::uint8_t*);
std::uint16_t load_2(const std::uint16_t*);
std::uint32_t load_4(const std::uint32_t*);
std::uint64_t load_8(const std::uint64_t*);
std::uint8_t load_16(const v16*);
std::uint8_t load_32(const v32*);
void store_1(std::uint8_t*);
void store_2(std::uint16_t*);
void store_4(std::uint32_t*);
void store_8(std::uint64_t*);
void store_16(v16*);
void store_32(v32*);
int atomic_add(int*);
int atomic_compare_exchange(int*);
void copy(char*, const char*, std::size_t);
void move(char*, const char*, std::size_t);
void fill(char*, std::size_t);
struct record {
  char bytes[48];
};
void copy_struct(record*, const record*);
int pass_by_value(const record*);
int read_variadic(int, ...);
int call_indirect(int (*)(int), int);
int call_direct(int);
int flexcap_test_elsewhere(int x) { return 3 * x; }
int twice(int);
int frame_only(int);
std::size_t string_length(const char*);
const void* find_byte(const void*, int, std::size_t);
int format_number(char*, std::size_t, const char*, int);
int compare_strings(const char*, const char*);
int compare_prefix(const char*, const char*, std::size_t);
std::size_t span_until(const char*, const char*);
std::size_t span_of(const char*, const char*);
const char* find_char(const char*, int);
const char* find_string(const char*, const char*);
// masked_access.ll: lanes 0 up to `active` enabled.
int masked_load_4(const int* p, int active);
void masked_store_4(int* p, int active);
int gather_4(const int* a, const int* b, const int* c, const int* d, int active);
long two_words(const long*);
long words_around(const long*, const long*);
long store_then_load(long*, long);
long load_call_load(const long*, int*);
int dominated(volatile int*, int);
long share_window(long*);
long past_window(long*);
long store_below(long*);
void copy_forward(long*);
int same_bytes(const void*, const void*, std::size_t);
int file_status(int, struct stat*);
int lock_and_unlock(pthread_mutex_t*);
void increment(long*);
long counted_sum(volatile const long*, int);
}

namespace flexcap::cc {
namespace {

// A compartment's region: its stack at the bottom, its data above, and one more page
// mapped beyond the DDC so that an unchecked access would not fault by itself.
class HybridAccess : public ::testing::Test {
 protected:
  static constexpr std::size_t kBytes = 1 << 20;
  void SetUp() override {
    void* p = mmap(nullptr, kBytes + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    base_ = static_cast<std::byte*>(p);
    ddc_ = unconfined_ddc().set_value(reinterpret_cast<std::uint64_t>(base_)).set_bounds_exact(kBytes);
    ASSERT_TRUE(ddc_.tag());
    state_ = hybrid_state(ddc_, executable_text());
  }
  void TearDown() override { munmap(base_, kBytes + 4096); }

  std::byte* top() const { return base_ + kBytes; }

  // Runs `body` as hybrid code of this region: its DDC installed, on its stack. Returns
  // the fault's text, or "" if it ran without one.
  std::string run(const std::function<void()>& body) {
    return test::run_as_hybrid(state_, std::span<std::byte>(base_, 256 * 1024), body);
  }

  // What Cap<T> says of the same access through the same DDC.
  std::string expected(cap::Access access, const void* at, std::size_t size) const {
    auto r = cap::check_access(ddc_, access, reinterpret_cast<std::uint64_t>(at), size);
    return r ? "" : r.error().describe();
  }

  // The access of `size` bytes at the top of the DDC, then one byte further on.
  template <class T>
  void inside_then_outside(cap::Access access, std::size_t size, const std::function<void(T*)>& access_at) {
    auto* inside = reinterpret_cast<T*>(top() - size);
    auto* outside = reinterpret_cast<T*>(top() - size + 1);
    EXPECT_EQ(run([&] { access_at(inside); }), "") << size << " bytes ending at the DDC's top";
    const std::string fault = run([&] { access_at(outside); });
    EXPECT_EQ(fault, expected(access, outside, size)) << size << " bytes, one past the DDC";
    EXPECT_NE(fault.find("capability bounds fault"), std::string::npos) << fault;
  }

  std::byte* base_ = nullptr;
  cap::Capability ddc_;
  HybridState state_;
};

// The counting build counts every check it makes, and only those.
TEST_F(HybridAccess, TheCountingBuildCountsEveryCheckItMakes) {
  auto* words = reinterpret_cast<volatile long*>(top() - 1000 * sizeof(long));
  for (int i = 0; i < 1000; ++i) words[i] = i;
  long sum = 0;
  const std::uint64_t before = hybrid_checks_made();
  EXPECT_EQ(run([&] { sum = counted_sum(words, 1000); }), "");
  EXPECT_EQ(sum, 999 * 1000 / 2);
  EXPECT_EQ(hybrid_checks_made() - before, 1000u);
  EXPECT_EQ(run([&] { sum = counted_sum(words, 0); }), "");
  EXPECT_EQ(hybrid_checks_made() - before, 1000u);
}

TEST_F(HybridAccess, LoadsOfEverySize) {
  using cap::Access;
  inside_then_outside<std::uint8_t>(Access::Load, 1, [](std::uint8_t* p) { (void)load_1(p); });
  inside_then_outside<std::uint16_t>(Access::Load, 2, [](std::uint16_t* p) { (void)load_2(p); });
  inside_then_outside<std::uint32_t>(Access::Load, 4, [](std::uint32_t* p) { (void)load_4(p); });
  inside_then_outside<std::uint64_t>(Access::Load, 8, [](std::uint64_t* p) { (void)load_8(p); });
  inside_then_outside<v16>(Access::Load, 16, [](v16* p) { (void)load_16(p); });
  inside_then_outside<v32>(Access::Load, 32, [](v32* p) { (void)load_32(p); });
}

TEST_F(HybridAccess, StoresOfEverySize) {
  using cap::Access;
  inside_then_outside<std::uint8_t>(Access::Store, 1, [](std::uint8_t* p) { store_1(p); });
  inside_then_outside<std::uint16_t>(Access::Store, 2, [](std::uint16_t* p) { store_2(p); });
  inside_then_outside<std::uint32_t>(Access::Store, 4, [](std::uint32_t* p) { store_4(p); });
  inside_then_outside<std::uint64_t>(Access::Store, 8, [](std::uint64_t* p) { store_8(p); });
  inside_then_outside<v16>(Access::Store, 16, [](v16* p) { store_16(p); });
  inside_then_outside<v32>(Access::Store, 32, [](v32* p) { store_32(p); });
}

TEST_F(HybridAccess, MaskedAndGatheredLanesAreCheckedOnlyWhereEnabled) {
  // Each enabled lane is an access of one element; a disabled lane touches nothing, so
  // it may point anywhere. Four i32 lanes, the last one just past the DDC.
  using cap::Access;
  auto* lanes = reinterpret_cast<int*>(top() - 12);
  for (int i = 0; i < 3; ++i) lanes[i] = 10 * (i + 1);
  int sum = 0;
  EXPECT_EQ(run([&] { sum = masked_load_4(lanes, 3); }), "");
  EXPECT_EQ(sum, 60);
  EXPECT_EQ(run([&] { (void)masked_load_4(lanes, 4); }), expected(Access::Load, top(), 4));
  EXPECT_EQ(run([&] { masked_store_4(lanes, 3); }), "");
  EXPECT_EQ(lanes[0] + lanes[1] + lanes[2], 1 + 2 + 3);
  EXPECT_EQ(run([&] { masked_store_4(lanes, 4); }), expected(Access::Store, top(), 4));
  static const int outside = 7;
  EXPECT_EQ(run([&] { sum = masked_load_4(&outside, 0); }), "") << "no lane enabled: nothing is read";
  EXPECT_EQ(sum, 0);
  // A gather: each lane its own pointer.
  const auto* past = reinterpret_cast<const int*>(top());
  EXPECT_EQ(run([&] { sum = gather_4(&lanes[2], &lanes[0], past, nullptr, 2); }), "");
  EXPECT_EQ(sum, 3 + 1);
  EXPECT_EQ(run([&] { (void)gather_4(&lanes[2], &lanes[0], past, nullptr, 3); }), expected(Access::Load, top(), 4));
  EXPECT_EQ(run([&] { (void)gather_4(&outside, &lanes[0], past, nullptr, 1); }), expected(Access::Load, &outside, 4));
}

TEST_F(HybridAccess, AtomicsNeedTheWholeRange) {
  inside_then_outside<int>(cap::Access::Load, 4, [](int* p) { (void)atomic_add(p); });
  inside_then_outside<int>(cap::Access::Load, 4, [](int* p) { (void)atomic_compare_exchange(p); });
}

TEST_F(HybridAccess, MemoryIntrinsicsCheckBothRanges) {
  char* middle = reinterpret_cast<char*>(top() - 4096);
  inside_then_outside<char>(cap::Access::Store, 100, [&](char* p) { copy(p, middle, 100); });
  inside_then_outside<char>(cap::Access::Load, 100, [&](char* p) { copy(middle, p, 100); });
  inside_then_outside<char>(cap::Access::Store, 100, [&](char* p) { move(p, middle, 100); });
  inside_then_outside<char>(cap::Access::Store, 5000, [&](char* p) { fill(p, 5000); });
  // A length of zero touches nothing, wherever it points.
  EXPECT_EQ(run([&] { copy(reinterpret_cast<char*>(top() + 64), middle, 0); }), "");
  // A length larger than the whole DDC, from inside it: the check cannot wrap around.
  const std::string fault = run([&] { fill(middle, ~std::size_t{0} - 100); });
  EXPECT_NE(fault.find("capability bounds fault"), std::string::npos) << fault;
}

TEST_F(HybridAccess, StructCopyAndByValueArguments) {
  const auto record_at_top = [&](std::size_t shift) {
    return reinterpret_cast<record*>(top() - sizeof(record) + shift);
  };
  const record* source = reinterpret_cast<const record*>(top() - 8192);
  EXPECT_EQ(run([&] { copy_struct(record_at_top(0), source); }), "");
  EXPECT_EQ(run([&] { copy_struct(record_at_top(1), source); }),
            expected(cap::Access::Store, record_at_top(1), sizeof(record)));
  EXPECT_EQ(run([&] { (void)pass_by_value(record_at_top(0)); }), "");
  EXPECT_EQ(run([&] { (void)pass_by_value(record_at_top(1)); }),
            expected(cap::Access::Load, record_at_top(1), sizeof(record)));
}

TEST_F(HybridAccess, VariadicArguments) {
  const auto* last = reinterpret_cast<const std::uint8_t*>(top() - 1);
  const auto* beyond = reinterpret_cast<const std::uint8_t*>(top());
  EXPECT_EQ(run([&] { (void)read_variadic(2, last, last); }), "");
  EXPECT_EQ(run([&] { (void)read_variadic(2, last, beyond); }), expected(cap::Access::Load, beyond, 1));
}

TEST_F(HybridAccess, IndirectCallsStayInThePcc) {
  int result = 0;
  EXPECT_EQ(run([&] { result = call_indirect(twice, 21); }), "");
  EXPECT_EQ(result, 42);
  // A "function" in the data region: refused before the branch, as PCC refuses it.
  auto* data = reinterpret_cast<int (*)(int)>(top() - 64);
  const std::string fault = run([&] { (void)call_indirect(data, 1); });
  EXPECT_NE(fault.find("capability bounds fault: execute"), std::string::npos) << fault;
}

// A direct call out of the module faults only when its target is another compartment's
// code: outside the PCC, inside the range of every compartment's code. Elsewhere (the C
// library, the runtime) it is a call every compartment may make.
TEST_F(HybridAccess, DirectCallsIntoOtherCompartmentsCodeFault) {
  const auto target = reinterpret_cast<std::uint64_t>(&flexcap_test_elsewhere);
  const cap::Capability below = unconfined_pcc().set_value(target - 4096).set_bounds_exact(4096);  // ends at it
  const cap::Capability from = unconfined_pcc().set_value(target).set_bounds_exact(4096);          // starts at it
  ASSERT_TRUE(below.tag() && from.tag());
  int result = 0;
  // Before the switcher publishes compartments' code: nothing is anyone else's.
  state_ = hybrid_state(ddc_, below);
  EXPECT_EQ(run([&] { result = call_direct(2); }), "");
  EXPECT_EQ(result, 7);

  set_compartment_code(target - 4096, target + 4096);
  const std::string fault = run([&] { result = call_direct(3); });
  auto refused = cap::check_access(below, cap::Access::Execute, target, 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(fault, refused.error().describe());
  EXPECT_NE(fault.find("capability bounds fault: execute"), std::string::npos) << fault;

  state_ = hybrid_state(ddc_, from);  // the target is the PCC's first byte
  EXPECT_EQ(run([&] { result = call_direct(4); }), "");
  EXPECT_EQ(result, 13);

  // Outside every compartment's code (as the C library is): allowed under any PCC.
  set_compartment_code(target + 1, target + 4096);
  state_ = hybrid_state(ddc_, below);
  EXPECT_EQ(run([&] { result = call_direct(5); }), "");
  EXPECT_EQ(result, 16);
  set_compartment_code(0, 0);
}

TEST_F(HybridAccess, BelowTheDdcToo) {
  auto* below = reinterpret_cast<std::uint64_t*>(base_ - 8);
  EXPECT_EQ(run([&] { (void)load_8(below); }), expected(cap::Access::Load, below, 8));
}

TEST_F(HybridAccess, AReadOnlyDdcRefusesStores) {
  state_ = hybrid_state(ddc_.restrict_permissions(cap::Permission::Load | cap::Permission::Global), executable_text());
  // Far from the DDC's top and at it: loads and stores are decided exactly, on the cold
  // path, since the fast window covers only a DDC that allows both.
  for (std::size_t from_top : {std::size_t{64}, std::size_t{1} << 19}) {
    auto* at = reinterpret_cast<std::uint64_t*>(top() - from_top);
    EXPECT_EQ(run([&] { (void)load_8(at); }), "") << from_top;
    const std::string fault = run([&] { store_8(at); });
    EXPECT_NE(fault.find("capability permission fault"), std::string::npos) << fault;
    // The load's check passing does not let the store of the same bytes through.
    auto* word = reinterpret_cast<long*>(at);
    *word = 41;
    const std::string read_then_write = run([&] { increment(word); });
    EXPECT_NE(read_then_write.find("capability permission fault: store"), std::string::npos) << read_then_write;
    EXPECT_EQ(*word, 41);
  }
}

// A DDC that allows stores only: loads fault, stores pass.
TEST_F(HybridAccess, AWriteOnlyDdcRefusesLoads) {
  state_ = hybrid_state(ddc_.restrict_permissions(cap::Permission::Store | cap::Permission::Global), executable_text());
  auto* at = reinterpret_cast<std::uint64_t*>(top() - (std::size_t{1} << 19));
  EXPECT_EQ(run([&] { store_8(at); }), "");
  const std::string fault = run([&] { (void)load_8(at); });
  EXPECT_NE(fault.find("capability permission fault: load"), std::string::npos) << fault;
}

// pthread_mutex_lock and unlock, memcmp and memchr are checked in line and called
// directly: the whole object, before the call, with the wrapper's fault.
TEST_F(HybridAccess, MutexCallsCheckTheWholeObjectFirst) {
  auto* inside = reinterpret_cast<pthread_mutex_t*>(top() - sizeof(pthread_mutex_t));
  new (inside) pthread_mutex_t(PTHREAD_MUTEX_INITIALIZER);
  int result = -1;
  EXPECT_EQ(run([&] { result = lock_and_unlock(inside); }), "");
  EXPECT_EQ(result, 0);
  auto* past = reinterpret_cast<pthread_mutex_t*>(top() - sizeof(pthread_mutex_t) + 1);
  EXPECT_EQ(run([&] { (void)lock_and_unlock(past); }), expected(cap::Access::Load, past, sizeof(pthread_mutex_t)));
}

// The calls the optimizer makes up (bcmp for memcmp == 0) and the system calls that fill
// in a caller's structure go through the same checks.
TEST_F(HybridAccess, MoreCallsIntoTheCLibraryAreCheckedFirst) {
  auto* a = reinterpret_cast<const char*>(top() - 64);
  auto* b = reinterpret_cast<const char*>(top() - 8);
  int same = 0;
  EXPECT_EQ(run([&] { same = same_bytes(a, b, 8); }), "");
  EXPECT_EQ(same, 1);  // both zero
  EXPECT_EQ(run([&] { (void)same_bytes(a, b, 9); }), expected(cap::Access::Load, b, 9));
  auto* status = reinterpret_cast<struct stat*>(top() - sizeof(struct stat));
  const int fd = open("/", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  int r = -1;
  EXPECT_EQ(run([&] { r = file_status(fd, status); }), "");
  EXPECT_EQ(r, 0);
  EXPECT_TRUE(S_ISDIR(status->st_mode));
  auto* past = reinterpret_cast<struct stat*>(top() - sizeof(struct stat) + 1);
  EXPECT_EQ(run([&] { (void)file_status(fd, past); }), expected(cap::Access::Store, past, sizeof(struct stat)));
  close(fd);
}

TEST_F(HybridAccess, CallsIntoTheCLibraryAreCheckedFirst) {
  // A string that ends in the DDC's last byte is fine; one whose NUL would be the first
  // byte past it faults there, before strlen reads beyond.
  char* tail = reinterpret_cast<char*>(top() - 8);
  std::memcpy(tail, "abcdefg", 8);
  std::size_t length = 0;
  EXPECT_EQ(run([&] { length = string_length(tail); }), "");
  EXPECT_EQ(length, 7u);
  std::memcpy(tail, "abcdefgh", 8);  // no NUL before the DDC ends
  EXPECT_EQ(run([&] { (void)string_length(tail); }), expected(cap::Access::Load, top(), 1));
  // memchr reads exactly its range; snprintf writes its whole buffer's length at most.
  EXPECT_EQ(run([&] { (void)find_byte(tail, 'z', 8); }), "");
  EXPECT_EQ(run([&] { (void)find_byte(tail, 'z', 9); }), expected(cap::Access::Load, tail, 9));
  char* buffer = reinterpret_cast<char*>(top() - 16);
  char* format = reinterpret_cast<char*>(top() - 32);
  std::memcpy(format, "%d", 3);
  EXPECT_EQ(run([&] { (void)format_number(buffer, 16, format, 42); }), "");
  EXPECT_STREQ(buffer, "42");
  EXPECT_EQ(run([&] { (void)format_number(buffer, 17, format, 42); }), expected(cap::Access::Store, buffer, 17));
  // The format itself is read by the C library: outside the DDC, it faults.
  static const char outside_format[] = "%d";
  EXPECT_EQ(run([&] { (void)format_number(buffer, 16, outside_format, 42); }),
            expected(cap::Access::Load, outside_format, 1));  // at its first byte
}

TEST_F(HybridAccess, StringSpansCheckOnlyTheBytesTheyRead) {
  // strcspn reads its string up to the first byte of the set: an unterminated buffer
  // that ends with the DDC holds a span ending before it without a fault, and faults at
  // the first byte past the DDC where no byte of the set comes first. strspn alike.
  char* tail = reinterpret_cast<char*>(top() - 8);
  std::memcpy(tail, "abcdefgh", 8);  // no NUL before the DDC ends
  char* set = reinterpret_cast<char*>(top() - 64);
  std::memcpy(set, "fx", 3);
  std::size_t n = 0;
  EXPECT_EQ(run([&] { n = span_until(tail, set); }), "");
  EXPECT_EQ(n, 5u);
  std::memcpy(set, "yz", 3);
  EXPECT_EQ(run([&] { (void)span_until(tail, set); }), expected(cap::Access::Load, top(), 1));
  std::memcpy(set, "abc", 4);
  EXPECT_EQ(run([&] { n = span_of(tail, set); }), "");
  EXPECT_EQ(n, 3u);
  std::memcpy(set, "abcdefgh", 9);
  EXPECT_EQ(run([&] { (void)span_of(tail, set); }), expected(cap::Access::Load, top(), 1));
  // A terminated string: the span stops at its NUL, as the C library's does.
  std::memcpy(tail, "abc", 4);
  EXPECT_EQ(run([&] { n = span_until(tail, set + 8); }), "");
  EXPECT_EQ(n, 3u);
  // The set is read whole: outside the DDC, it faults at its first byte.
  static const char outside_set[] = "x";
  EXPECT_EQ(run([&] { (void)span_until(tail, outside_set); }), expected(cap::Access::Load, outside_set, 1));
}

TEST_F(HybridAccess, StrchrChecksOnlyTheBytesItReads) {
  // strchr reads its string up to the byte it looks for: found before the end of an
  // unterminated buffer that ends with the DDC, no fault; not found, a fault at the first
  // byte past the DDC. In a terminated string it stops at the NUL (and finds it).
  char* tail = reinterpret_cast<char*>(top() - 8);
  std::memcpy(tail, "abcdefgh", 8);  // no NUL before the DDC ends
  const char* found = nullptr;
  EXPECT_EQ(run([&] { found = find_char(tail, 'f'); }), "");
  EXPECT_EQ(found, tail + 5);
  EXPECT_EQ(run([&] { (void)find_char(tail, 'z'); }), expected(cap::Access::Load, top(), 1));
  std::memcpy(tail, "abc", 4);
  EXPECT_EQ(run([&] { found = find_char(tail, 'z'); }), "");
  EXPECT_EQ(found, nullptr);
  EXPECT_EQ(run([&] { found = find_char(tail, '\0'); }), "");
  EXPECT_EQ(found, tail + 3);
  static const char outside[] = "abc";
  EXPECT_EQ(run([&] { (void)find_char(outside, 'b'); }), expected(cap::Access::Load, outside, 1));
}

TEST_F(HybridAccess, StrstrChecksOnlyTheBytesItReads) {
  // strstr reads its needle whole, and its haystack up to the end of the first match: a
  // match that ends inside the DDC is found in an unterminated buffer that ends with the
  // DDC; a match that would need the byte past it, or none, faults at that byte.
  char* tail = reinterpret_cast<char*>(top() - 8);
  std::memcpy(tail, "abcdefgh", 8);  // no NUL before the DDC ends
  char* needle = reinterpret_cast<char*>(top() - 64);  // inside the DDC, as the needles must be
  const auto find = [&](const char* what) {
    std::strcpy(needle, what);
    return find_string(tail, needle);
  };
  const char* found = nullptr;
  EXPECT_EQ(run([&] { found = find("def"); }), "");
  EXPECT_EQ(found, tail + 3);
  EXPECT_EQ(run([&] { found = find("gh"); }), "");
  EXPECT_EQ(found, tail + 6);
  EXPECT_EQ(run([&] { found = find(""); }), "");
  EXPECT_EQ(found, tail);
  EXPECT_EQ(run([&] { (void)find("ghi"); }), expected(cap::Access::Load, top(), 1));
  EXPECT_EQ(run([&] { (void)find("xyz"); }), expected(cap::Access::Load, top(), 1));
  // Terminated inside the DDC: the C library's own, no fault either way.
  std::memcpy(tail, "abc", 4);
  EXPECT_EQ(run([&] { found = find("xyz"); }), "");
  EXPECT_EQ(found, nullptr);
  EXPECT_EQ(run([&] { found = find("bc"); }), "");
  EXPECT_EQ(found, tail + 1);
  // The needle is read whole, even where the match comes first.
  std::memcpy(tail + 6, "ab", 2);  // an unterminated needle at the DDC's end
  EXPECT_EQ(run([&] { (void)find_string(tail, tail + 6); }), expected(cap::Access::Load, top(), 1));
  static const char outside[] = "abc";
  std::strcpy(needle, "b");
  EXPECT_EQ(run([&] { (void)find_string(outside, needle); }), expected(cap::Access::Load, outside, 1));
}

TEST_F(HybridAccess, StringComparisonsCheckOnlyTheBytesTheyRead) {
  // strcmp reads both strings up to their first difference: an unterminated buffer that
  // ends with the DDC compares with a string that differs before its end without a
  // fault, and faults at the first byte past the DDC against one equal up to there.
  char* tail = reinterpret_cast<char*>(top() - 8);
  std::memcpy(tail, "abcdefgh", 8);  // no NUL before the DDC ends
  char* other = reinterpret_cast<char*>(top() - 64);
  std::memcpy(other, "abcx", 5);
  int r = 0;
  EXPECT_EQ(run([&] { r = compare_strings(other, tail); }), "");
  EXPECT_GT(r, 0) << "'x' sorts after 'd'";
  std::memcpy(other, "abcdefghi", 10);
  EXPECT_EQ(run([&] { (void)compare_strings(other, tail); }), expected(cap::Access::Load, top(), 1));
  // strncmp reads n bytes at most.
  EXPECT_EQ(run([&] { r = compare_prefix(other, tail, 8); }), "");
  EXPECT_EQ(r, 0);
  EXPECT_EQ(run([&] { (void)compare_prefix(other, tail, 9); }), expected(cap::Access::Load, top(), 1));
  // Two strings that end inside the DDC compare as the C library compares them.
  char* same = reinterpret_cast<char*>(top() - 32);
  std::memcpy(same, "abcdefghi", 10);
  EXPECT_EQ(run([&] { r = compare_strings(other, same); }), "");
  EXPECT_EQ(r, 0);
  // A string outside the DDC faults at its first byte.
  static const char outside[] = "abc";
  EXPECT_EQ(run([&] { (void)compare_strings(outside, other); }), expected(cap::Access::Load, outside, 1));
}

TEST_F(HybridAccess, MergedChecksStillFaultAtTheLoadOutOfBounds) {
  auto* both_inside = reinterpret_cast<const long*>(top() - 16);
  auto* second_outside = reinterpret_cast<const long*>(top() - 8);
  EXPECT_EQ(run([&] { (void)two_words(both_inside); }), "");
  EXPECT_EQ(run([&] { (void)two_words(second_outside); }), expected(cap::Access::Load, top(), 8));
  auto* first_outside = reinterpret_cast<const long*>(base_ - 8);
  EXPECT_EQ(run([&] { (void)two_words(first_outside); }), expected(cap::Access::Load, first_outside, 8));
  // Between the two loads of p, a load of q: when both q and p[1] are outside, Morello
  // faults at q, which comes first.
  auto* q_outside = reinterpret_cast<const long*>(top() + 64);
  EXPECT_EQ(run([&] { (void)words_around(second_outside, q_outside); }), expected(cap::Access::Load, q_outside, 8));
}

// A store and a load, or two loads with a call between, from one base: one check covers
// them (a versioned group); when it fails, a checked copy of the code runs, so the fault
// comes at the access out of bounds, after what came before it happened.
TEST_F(HybridAccess, AGroupWithAStoreOrACallFaultsAfterWhatCameBeforeTheAccessOutOfBounds) {
  auto* both_inside = reinterpret_cast<long*>(top() - 16);
  long r = 0;
  EXPECT_EQ(run([&] { r = store_then_load(both_inside, 7); }), "");
  EXPECT_EQ(both_inside[0], 7);
  EXPECT_EQ(r, both_inside[1]);
  auto* second_outside = reinterpret_cast<long*>(top() - 8);
  *second_outside = 0;
  EXPECT_EQ(run([&] { (void)store_then_load(second_outside, 9); }), expected(cap::Access::Load, top(), 8));
  EXPECT_EQ(*second_outside, 9) << "the store before the fault happened";
  auto* first_outside = reinterpret_cast<long*>(top());
  EXPECT_EQ(run([&] { (void)store_then_load(first_outside, 9); }), expected(cap::Access::Store, top(), 8));

  int* calls = reinterpret_cast<int*>(top() - 64);
  *calls = 0;
  both_inside[0] = 1;
  both_inside[1] = 2;
  EXPECT_EQ(run([&] { r = load_call_load(both_inside, calls); }), "");
  EXPECT_EQ(r, 3);
  EXPECT_EQ(*calls, 1);
  EXPECT_EQ(run([&] { (void)load_call_load(second_outside, calls); }), expected(cap::Access::Load, top(), 8));
  EXPECT_EQ(*calls, 2) << "the call before the fault ran";
}

TEST_F(HybridAccess, ChecksProvedByEarlierOnesAreDroppedOnlyWhereTheyCouldNotFail) {
  // p[4], between p[0] and p[8] which were checked before it, needs no check of its own;
  // p[10] does, whether or not p[12] (only read when asked) ran.
  auto* all_inside = reinterpret_cast<volatile int*>(top() - 13 * sizeof(int));
  EXPECT_EQ(run([&] { (void)dominated(all_inside, 1); }), "");
  auto* tenth_outside = reinterpret_cast<volatile int*>(top() - 10 * sizeof(int));
  EXPECT_EQ(run([&] { (void)dominated(tenth_outside, 0); }), expected(cap::Access::Load, top(), 4));
  EXPECT_EQ(run([&] { (void)dominated(tenth_outside, 1); }),
            expected(cap::Access::Load, top() + 2 * sizeof(int), 4));
}

// An access through the same pointer as an earlier one, within 4096 bytes of the
// pointer, is covered by the earlier one's fast comparison when it passed; when it
// failed, each is decided exactly where it runs, after what came before it.
TEST_F(HybridAccess, ASharedFastComparisonStillFaultsAtTheAccessOutOfBounds) {
  long r = 0;
  // [p, p + 4096) ends at the DDC's top: the fast comparison passes, and both are inside.
  auto* ends_at_top = reinterpret_cast<long*>(top() - 4096);
  ends_at_top[511] = 5;
  EXPECT_EQ(run([&] { r = share_window(ends_at_top); }), "");
  EXPECT_EQ(r, 5);
  // 8 bytes higher: p[511] is the first word past the DDC.
  auto* one_word_higher = ends_at_top + 1;
  one_word_higher[0] = 0;
  EXPECT_EQ(run([&] { (void)share_window(one_word_higher); }), expected(cap::Access::Load, top(), 8));
  EXPECT_EQ(one_word_higher[0], 1) << "the store before the fault happened";
  // p[512] lies past the bytes a passed comparison of p covers: checked on its own.
  EXPECT_EQ(run([&] { (void)past_window(ends_at_top); }), expected(cap::Access::Load, top(), 8));
  EXPECT_EQ(run([&] { (void)past_window(ends_at_top - 1); }), "");

  // The store to p[0] comes after the load of p[10]: with p below the DDC and p[10]
  // inside, the load runs and the store faults. (The DDC starts a page into the mapping
  // here, so that a store below it would not fault by itself.)
  std::byte* const raised_base = base_ + 4096;
  const cap::Capability raised =
      ddc_.set_value(reinterpret_cast<std::uint64_t>(raised_base)).set_bounds_exact(kBytes - 4096);
  state_ = hybrid_state(raised, executable_text());
  auto* straddles_base = reinterpret_cast<long*>(raised_base - 8);
  *straddles_base = 0;
  auto below = cap::check_access(raised, cap::Access::Store, reinterpret_cast<std::uint64_t>(straddles_base), 8);
  ASSERT_FALSE(below);
  EXPECT_EQ(run([&] { (void)store_below(straddles_base); }), below.error().describe());
  EXPECT_EQ(*straddles_base, 0);
  auto* at_base = reinterpret_cast<long*>(raised_base);
  at_base[10] = 3;
  EXPECT_EQ(run([&] { r = store_below(at_base); }), "");
  EXPECT_EQ(at_base[0], 3);

  // A DDC that allows loads only: the store shares the load's comparison and still faults.
  auto* far_from_top = reinterpret_cast<long*>(top() - (std::size_t{1} << 19));
  const cap::Capability read_only = ddc_.restrict_permissions(cap::Permission::Load | cap::Permission::Global);
  state_ = hybrid_state(read_only, executable_text());
  auto refused = cap::check_access(read_only, cap::Access::Store, reinterpret_cast<std::uint64_t>(far_from_top + 300), 8);
  ASSERT_FALSE(refused);
  EXPECT_EQ(run([&] { copy_forward(far_from_top); }), refused.error().describe());
}

TEST_F(HybridAccess, UnconfinedCodeRunsAnywhere) {
  // Before any switcher installs a DDC (and on backends without capabilities), hybrid
  // code is checked against a DDC that covers everything.
  std::uint64_t outside_any_region = 5;
  EXPECT_EQ(load_8(&outside_any_region), 5u);
  EXPECT_EQ(frame_only(4), 9);
}

}  // namespace
}  // namespace flexcap::cc
