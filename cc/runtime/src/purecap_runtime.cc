// The purecap runtime: the slots that carry bounds across calls, the shadow that keeps
// them in memory, the slow path of the in-line checks, and the C library as purecap code
// meets it (allocation with Morello's bounds; the checked string and memory functions).
// Compiled by the project's C++ compiler, never with the pass (purecap_abi.h).
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "flexcap/cap/access.hh"
#include "flexcap/cap/capability.hh"
#include "flexcap/cc/hybrid_abi.h"
#include "flexcap/cc/purecap_abi.h"
#include "flexcap/rt/runtime.hh"

__thread struct flexcap_purecap_slot flexcap_purecap_arguments[FLEXCAP_PURECAP_ARGUMENT_SLOTS];
__thread struct flexcap_purecap_slot flexcap_purecap_return;
__thread std::uint64_t flexcap_purecap_checks;
__thread struct flexcap_purecap_slot flexcap_purecap_variadic[FLEXCAP_PURECAP_ARGUMENT_SLOTS];
__thread std::uint64_t flexcap_purecap_variadic_count;
struct flexcap_purecap_slot* flexcap_purecap_shadow[FLEXCAP_PURECAP_SHADOW_CHUNKS];
int flexcap_purecap_trace;

// The hybrid runtime's allocation from the running compartment's heap (hybrid_libc.cc).
extern "C" {
void* flexcap_hybrid_aligned_alloc(std::size_t alignment, std::size_t bytes);
void flexcap_hybrid_free(void* p);
std::size_t flexcap_hybrid_malloc_usable_size(void* p);
}

namespace {

using flexcap::cap::Access;
using flexcap::cap::Capability;

constexpr flexcap_purecap_bounds kUntagged = {0, 0};

// --- the shadow: one entry per 8-byte slot, in chunks of 64 MiB of address space -------
// (The table is zero-initialized .bss, so instrumented code can read it before any
// constructor has run; a chunk's pages are committed as its entries are first written.)

constexpr unsigned kChunkShift = FLEXCAP_PURECAP_SHADOW_CHUNK_SHIFT;
constexpr std::uint64_t kSlotsPerChunk = std::uint64_t{1} << (kChunkShift - 3);
constexpr std::uint64_t kChunks = FLEXCAP_PURECAP_SHADOW_CHUNKS;

std::mutex& chunk_lock() {
  static std::mutex m;
  return m;
}

flexcap_purecap_slot* chunk_of(std::uint64_t address, bool create) {
  const std::uint64_t index = address >> kChunkShift;
  if (index >= kChunks) return nullptr;  // outside user space: no pointer is stored there
  flexcap_purecap_slot* chunk = __atomic_load_n(&flexcap_purecap_shadow[index], __ATOMIC_ACQUIRE);
  if (chunk != nullptr || !create) return chunk;
  std::lock_guard lock(chunk_lock());
  chunk = __atomic_load_n(&flexcap_purecap_shadow[index], __ATOMIC_RELAXED);
  if (chunk == nullptr) {
    void* p = mmap(nullptr, kSlotsPerChunk * sizeof(flexcap_purecap_slot), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      std::fputs("flexcap purecap runtime: out of memory for the shadow\n", stderr);
      std::abort();
    }
    chunk = static_cast<flexcap_purecap_slot*>(p);
    __atomic_store_n(&flexcap_purecap_shadow[index], chunk, __ATOMIC_RELEASE);
  }
  return chunk;
}

flexcap_purecap_slot* entry(std::uint64_t address, bool create) {
  flexcap_purecap_slot* chunk = chunk_of(address, create);
  return chunk == nullptr ? nullptr : &chunk[(address >> 3) & (kSlotsPerChunk - 1)];
}

// --- bounds as Morello sets them -------------------------------------------------------

// The capability with these bounds (untagged for [0, 0)), its value at `address`: what
// the hardware would hold, for the fault's text.
Capability capability_of(std::uint64_t base, std::uint64_t top, std::uint64_t address) {
  const Capability data = Capability::root().restrict_permissions(flexcap::cap::Permissions::data());
  if (base == 0 && top == 0) return data.set_value(address).clear_tag();
  Capability c = data.set_value(base).set_bounds_exact(top - base);
  if (!c.tag()) c = data.set_value(base).set_bounds(top - base).capability;
  return c.set_value(address);
}

[[noreturn]] void fault(std::uint64_t address, std::uint64_t size, Access access, flexcap_purecap_bounds b) {
  const Capability c = capability_of(b.base, b.top, address);
  if (auto refused = flexcap::cap::check_access(c, access, address, size); !refused) {
    throw flexcap::rt::CompartmentFault{address, refused.error().describe()};
  }
  throw flexcap::rt::CompartmentFault{address, "purecap access the model allows failed FlexCap's in-line check "
                                               "(a FlexCap bug: please report it)"};
}

bool inside(flexcap_purecap_bounds b, std::uint64_t address, std::uint64_t size) {
  const std::uint64_t length = b.top - b.base;
  return size <= length && address - b.base <= length - size;
}

void check(const void* p, std::uint64_t size, Access access, flexcap_purecap_bounds b) {
  const auto address = reinterpret_cast<std::uint64_t>(p);
  if (size != 0 && !inside(b, address, size)) fault(address, size, access, b);
}

// A foreign pointer's bounds (from code that is not purecap): derived from the running
// compartment's DDC, as the pass derives them (the whole address space outside images).
flexcap_purecap_bounds foreign() {
  const flexcap_hybrid_window& ddc = flexcap_hybrid_registers.load;
  return {ddc.base, ddc.base + ddc.length};
}
bool is_foreign(flexcap_purecap_bounds b) {
  const flexcap_purecap_bounds f = foreign();
  return (b.base == f.base && b.top == f.top) || (b.base == 0 && b.top == ~std::uint64_t{0});
}

// The bounds the caller passed with argument `i`, whose value is `p`: a foreign
// pointer's if the caller was not instrumented.
flexcap_purecap_bounds argument(unsigned i, const void* p) {
  const flexcap_purecap_slot& s = flexcap_purecap_arguments[i];
  if (s.value != reinterpret_cast<std::uint64_t>(p)) return foreign();
  return {s.base, s.top};
}

template <class T>
T* give(T* p, flexcap_purecap_bounds b) {
  flexcap_purecap_return = {reinterpret_cast<std::uint64_t>(p), b.base, b.top};
  return p;
}

// A string's length, looked for only inside its bounds: one that has no NUL before its
// capability ends faults at the first byte past it.
std::size_t string_length(const char* s, flexcap_purecap_bounds b) {
  const auto address = reinterpret_cast<std::uint64_t>(s);
  if (!inside(b, address, 1)) fault(address, 1, Access::Load, b);
  const std::uint64_t room = b.top - address;
  const std::size_t n = strnlen(s, room);
  if (n == room) fault(b.top, 1, Access::Load, b);
  return n;
}

// Lengths below this are exact at any base (no internal exponent): most allocations, which
// then skip the model's rounding.
std::uint64_t exact_below() {
  static const std::uint64_t limit = [] {
    std::uint64_t low = 1, high = std::uint64_t{1} << 40;  // the mask is all ones at low, not at high
    while (high - low > 1) {
      const std::uint64_t mid = low + (high - low) / 2;
      (flexcap::cap::representable_alignment_mask(mid) == ~std::uint64_t{0} ? low : high) = mid;
    }
    return high;
  }();
  return limit;
}

// Morello's bounds for an allocation of `bytes`: the length rounded up and the base
// aligned as the compressed format needs, so that the capability is exact.
void* allocate(std::size_t bytes, std::size_t alignment, flexcap_purecap_bounds& bounds) {
  const bool exact = bytes < exact_below();
  const std::uint64_t length = exact ? bytes : flexcap::cap::representable_length(bytes);
  const std::uint64_t needed = exact ? 1 : ~flexcap::cap::representable_alignment_mask(bytes) + 1;
  void* p = flexcap_hybrid_aligned_alloc(std::max<std::size_t>({alignment, needed, 16}), std::max<std::size_t>(length, 1));
  const auto base = reinterpret_cast<std::uint64_t>(p);
  bounds = p == nullptr ? kUntagged : flexcap_purecap_bounds{base, base + length};
  return p;
}

}  // namespace

extern "C" {

// FLEXCAP_PURECAP_TRACE=1: say on stderr where each non-null pointer loaded untagged
// came from (porting aid: the first such line is usually the cause of a tag fault).
// FLEXCAP_PURECAP_TRACE=2 also names the code that stored a non-null pointer untagged
// (its return address, for addr2line): where the tag was lost.
static int trace_level() {
  static const int level = [] {
    const char* v = std::getenv("FLEXCAP_PURECAP_TRACE");
    return v == nullptr ? 0 : std::atoi(v);
  }();
  return level;
}
// Turns the in-line paths' tracing test on before main (constructors that run earlier
// are not traced).
__attribute__((constructor)) static void start_tracing() { flexcap_purecap_trace = trace_level(); }
static bool tracing() { return trace_level() > 0; }

static flexcap_purecap_bounds untagged_load(std::uint64_t address, std::uint64_t value, const char* why) {
  if (value != 0 && tracing()) {
    std::fprintf(stderr, "flexcap purecap: pointer 0x%llx loaded untagged from 0x%llx: %s\n",
                 static_cast<unsigned long long>(value), static_cast<unsigned long long>(address), why);
  }
  return kUntagged;
}

flexcap_purecap_bounds flexcap_purecap_load_meta(std::uint64_t address, std::uint64_t value) {
  if ((address & 7) != 0) return untagged_load(address, value, "misaligned slot");
  const flexcap_purecap_slot* e = entry(address, false);
  if (e == nullptr || (e->value | e->base | e->top) == 0) return untagged_load(address, value, "no pointer was stored there");
  if (e->value != value) return untagged_load(address, value, "the pointer stored there was overwritten by data");
  return {e->base, e->top};
}

std::uint64_t flexcap_purecap_shadow_resident_bytes(void) {
  const std::uint64_t page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  const std::uint64_t bytes = kSlotsPerChunk * sizeof(flexcap_purecap_slot);
  std::vector<unsigned char> in_memory((bytes + page - 1) / page);
  std::uint64_t resident = 0;
  for (std::uint64_t i = 0; i < kChunks; ++i) {
    flexcap_purecap_slot* chunk = __atomic_load_n(&flexcap_purecap_shadow[i], __ATOMIC_ACQUIRE);
    if (chunk == nullptr || mincore(chunk, bytes, in_memory.data()) != 0) continue;
    for (unsigned char v : in_memory) resident += (v & 1) != 0 ? page : 0;
  }
  return resident;
}

flexcap_purecap_bounds flexcap_purecap_variadic_meta(std::uint64_t value) {
  const std::uint64_t n = std::min<std::uint64_t>(flexcap_purecap_variadic_count, FLEXCAP_PURECAP_ARGUMENT_SLOTS);
  for (std::uint64_t i = 0; i < n; ++i) {
    const flexcap_purecap_slot& s = flexcap_purecap_variadic[i];
    if (s.value == value) return {s.base, s.top};
  }
  return foreign();  // from a caller that was not instrumented (or past the slots)
}

void flexcap_purecap_store_meta(std::uint64_t address, std::uint64_t value, std::uint64_t base, std::uint64_t top) {
  if ((address & 7) != 0) return;  // stored as data: its tag is lost, as a misaligned capability store's would be
  if ((base | top) == 0) {
    if (value != 0 && trace_level() >= 2) {
      std::fprintf(stderr, "flexcap purecap: pointer 0x%llx stored untagged at 0x%llx by code at %p\n",
                   static_cast<unsigned long long>(value), static_cast<unsigned long long>(address),
                   __builtin_return_address(0));
    }
    // Untagged: only an entry already there needs to say so (no shadow for plain data).
    if (flexcap_purecap_slot* e = entry(address, false); e != nullptr && (e->value | e->base | e->top) != 0) {
      *e = {value, 0, 0};
    }
    return;
  }
  *entry(address, true) = {value, base, top};
}

void flexcap_purecap_copy_meta(std::uint64_t to, std::uint64_t from, std::uint64_t bytes) {
  if (((to ^ from) & 7) != 0 || bytes < 8) return;  // no slot is copied whole onto a slot
  const std::uint64_t skip = (8 - (from & 7)) & 7;
  std::uint64_t offset = skip;
  while (offset + 8 <= bytes) {
    // A run of slots that stays in one chunk on both sides: its entries are copied with
    // one lookup of each chunk (most copies: a structure, a row).
    const std::uint64_t source = from + offset, target = to + offset;
    auto slots_left_in_chunk = [](std::uint64_t address) {
      return ((((address >> kChunkShift) + 1) << kChunkShift) - address) / 8;
    };
    const std::uint64_t run =
        std::min({(bytes - offset) / 8, slots_left_in_chunk(source), slots_left_in_chunk(target)});
    const flexcap_purecap_slot* in = entry(source, false);
    flexcap_purecap_slot* out = entry(target, false);
    for (std::uint64_t i = 0; i < run; ++i) {
      const bool pointer = in != nullptr && (in[i].base | in[i].top | in[i].value) != 0;
      if (pointer) {
        if (out == nullptr) out = entry(target, true);
        out[i] = in[i];
      } else if (out != nullptr) {
        out[i] = {0, 0, 0};  // data over a pointer: its tag goes
      }
    }
    offset += run * 8;
  }
}

void flexcap_purecap_fault(std::uint64_t address, std::uint64_t size, std::uint32_t access, std::uint64_t base,
                           std::uint64_t top) {
  const Access kind = access == 1 ? Access::Store : access == 3 ? Access::Execute : Access::Load;
  fault(address, size, kind, {base, top});
}

// --- allocation ---------------------------------------------------------------------------

void* flexcap_purecap_malloc(std::size_t bytes) {
  flexcap_purecap_bounds b;
  void* p = allocate(bytes, 16, b);
  return give(p, b);
}

void* flexcap_purecap_calloc(std::size_t count, std::size_t size) {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) return give<void>(nullptr, kUntagged);
  flexcap_purecap_bounds b;
  void* p = allocate(bytes, 16, b);
  if (p != nullptr) std::memset(p, 0, b.top - b.base);
  return give(p, b);
}

void* flexcap_purecap_aligned_alloc(std::size_t alignment, std::size_t bytes) {
  flexcap_purecap_bounds b;
  void* p = allocate(bytes, alignment, b);
  return give(p, b);
}

int flexcap_purecap_posix_memalign(void** out, std::size_t alignment, std::size_t bytes) {
  const flexcap_purecap_bounds where = argument(0, out);
  check(out, sizeof(void*), Access::Store, where);
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  flexcap_purecap_bounds b;
  void* p = allocate(bytes, alignment, b);
  if (p == nullptr) return ENOMEM;
  *out = p;
  flexcap_purecap_store_meta(reinterpret_cast<std::uint64_t>(out), reinterpret_cast<std::uint64_t>(p), b.base, b.top);
  return 0;
}

void flexcap_purecap_free(void* p) { flexcap_hybrid_free(p); }

// What the capability allows from p on: a purecap allocator's usable size is its
// capability's length (SQLite sizes its arrays by it).
std::size_t flexcap_purecap_malloc_usable_size(void* p) {
  if (p == nullptr) return 0;
  const flexcap_purecap_bounds b = argument(0, p);
  const auto address = reinterpret_cast<std::uint64_t>(p);
  if (is_foreign(b)) return flexcap_hybrid_malloc_usable_size(p);  // from uninstrumented code
  return address < b.top ? b.top - address : 0;
}

void* flexcap_purecap_realloc(void* p, std::size_t bytes) {
  const flexcap_purecap_bounds old = argument(0, p);
  flexcap_purecap_bounds b;
  void* grown = allocate(bytes, 16, b);
  if (grown == nullptr) return give<void>(nullptr, kUntagged);
  if (p != nullptr) {
    // What the old capability reaches from p on, and no more than the new one holds; a
    // pointer from uninstrumented code (all of memory) reaches what its allocation holds.
    const std::uint64_t reach = is_foreign(old) ? flexcap_hybrid_malloc_usable_size(p)
                                    : old.top - reinterpret_cast<std::uint64_t>(p);
    const std::uint64_t kept = std::min<std::uint64_t>(reach, bytes);
    std::memcpy(grown, p, kept);
    flexcap_purecap_copy_meta(reinterpret_cast<std::uint64_t>(grown), reinterpret_cast<std::uint64_t>(p), kept);
    flexcap_hybrid_free(p);
  }
  return give(grown, b);
}

// --- memory and strings: every range checked against the bounds of the capability it is
// reached through; a returned pointer derived from the argument it points into ----------

// memmove serves memcpy too: the checks and the tags carried are the same, and an
// overlapping memcpy (undefined in C) then does what memmove does.
void* flexcap_purecap_memmove(void* to, const void* from, std::size_t n) {
  check(from, n, Access::Load, argument(1, from));
  const flexcap_purecap_bounds b = argument(0, to);
  check(to, n, Access::Store, b);
  std::memmove(to, from, n);
  flexcap_purecap_copy_meta(reinterpret_cast<std::uint64_t>(to), reinterpret_cast<std::uint64_t>(from), n);
  return give(to, b);
}
void* flexcap_purecap_memcpy(void* to, const void* from, std::size_t n) { return flexcap_purecap_memmove(to, from, n); }

void* flexcap_purecap_memset(void* to, int value, std::size_t n) {
  const flexcap_purecap_bounds b = argument(0, to);
  check(to, n, Access::Store, b);
  return give(std::memset(to, value, n), b);
}

int flexcap_purecap_memcmp(const void* a, const void* b, std::size_t n) {
  check(a, n, Access::Load, argument(0, a));
  check(b, n, Access::Load, argument(1, b));
  return std::memcmp(a, b, n);
}
int flexcap_purecap_bcmp(const void* a, const void* b, std::size_t n) { return flexcap_purecap_memcmp(a, b, n); }

void* flexcap_purecap_memchr(const void* s, int c, std::size_t n) {
  const flexcap_purecap_bounds b = argument(0, s);
  check(s, n, Access::Load, b);
  return give(const_cast<void*>(std::memchr(s, c, n)), b);
}

std::size_t flexcap_purecap_strlen(const char* s) { return string_length(s, argument(0, s)); }

int flexcap_purecap_strcmp(const char* a, const char* b) {
  string_length(a, argument(0, a));
  string_length(b, argument(1, b));
  return std::strcmp(a, b);
}

int flexcap_purecap_strncmp(const char* a, const char* b, std::size_t n) {
  const flexcap_purecap_bounds ba = argument(0, a), bb = argument(1, b);
  const std::size_t la = strnlen(a, std::min<std::uint64_t>(n, ba.top - reinterpret_cast<std::uint64_t>(a)));
  const std::size_t lb = strnlen(b, std::min<std::uint64_t>(n, bb.top - reinterpret_cast<std::uint64_t>(b)));
  check(a, std::min<std::size_t>(la + 1, n), Access::Load, ba);
  check(b, std::min<std::size_t>(lb + 1, n), Access::Load, bb);
  return std::strncmp(a, b, n);
}

char* flexcap_purecap_strcpy(char* to, const char* from) {
  const std::size_t n = string_length(from, argument(1, from));
  const flexcap_purecap_bounds b = argument(0, to);
  check(to, n + 1, Access::Store, b);
  std::memcpy(to, from, n + 1);
  return give(to, b);
}

char* flexcap_purecap_strchr(const char* s, int c) {
  const flexcap_purecap_bounds b = argument(0, s);
  string_length(s, b);
  return give(const_cast<char*>(std::strchr(s, c)), b);
}

char* flexcap_purecap_strrchr(const char* s, int c) {
  const flexcap_purecap_bounds b = argument(0, s);
  string_length(s, b);
  return give(const_cast<char*>(std::strrchr(s, c)), b);
}

char* flexcap_purecap_strstr(const char* haystack, const char* needle) {
  const flexcap_purecap_bounds b = argument(0, haystack);
  string_length(haystack, b);
  string_length(needle, argument(1, needle));
  return give(const_cast<char*>(std::strstr(haystack, needle)), b);
}

char* flexcap_purecap_strdup(const char* s) {
  const std::size_t n = string_length(s, argument(0, s));
  flexcap_purecap_bounds b;
  auto* copy = static_cast<char*>(allocate(n + 1, 16, b));
  if (copy != nullptr) std::memcpy(copy, s, n + 1);
  return give(copy, b);
}

int flexcap_purecap_puts(const char* s) {
  string_length(s, argument(0, s));
  return std::puts(s);
}

// The format and the output buffer are checked; the arguments a format consumes are not
// (a %s argument arrives through varargs, where no bounds travel yet).
int flexcap_purecap_vsnprintf(char* to, std::size_t n, const char* format, va_list arguments) {
  string_length(format, argument(2, format));
  check(to, n, Access::Store, argument(0, to));
  return std::vsnprintf(to, n, format, arguments);
}
int flexcap_purecap_snprintf(char* to, std::size_t n, const char* format, ...) {
  string_length(format, argument(2, format));
  check(to, n, Access::Store, argument(0, to));
  va_list arguments;
  va_start(arguments, format);
  const int r = std::vsnprintf(to, n, format, arguments);
  va_end(arguments);
  return r;
}
int flexcap_purecap_printf(const char* format, ...) {
  string_length(format, argument(0, format));
  va_list arguments;
  va_start(arguments, format);
  const int r = std::vprintf(format, arguments);
  va_end(arguments);
  return r;
}

}  // extern "C"
