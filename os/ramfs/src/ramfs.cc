#include "flexcap/lib/ramfs.hh"

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

#include "flexcap/rt/memory_access.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::ramfs {
namespace {

constexpr std::size_t kMaxFiles = 64;
constexpr std::size_t kMaxOpen = 64;

// A file's bytes live in fixed-size chunks of the compartment's heap, found through a
// table of chunk pointers. Growing a file never copies it (a file can use nearly all of
// the heap, not a third of it as with a doubled block), and a chunk that was never
// written is a hole that reads as zeros.
constexpr std::uint64_t kChunk = 32 * 1024;

struct File {
  std::array<char, kMaxPath + 1> name{};
  std::byte** chunks = nullptr;  // chunk_slots entries, nullptr for a hole
  std::uint64_t chunk_slots = 0;
  std::uint64_t size = 0;
  bool used = false;
  // Removed (unlink, or renamed over) while a descriptor was open on it: it has no name
  // and is released at its last close, as POSIX keeps an unlinked file. Freeing its
  // descriptors at once instead let a new open take one of their numbers, which the
  // holder's later close then closed (Redis closes such files on a background thread).
  bool unlinked = false;
};

struct State {
  std::array<File, kMaxFiles> files;
  std::array<int, kMaxOpen> open;         // descriptor -> file index, -1 when free
  std::int64_t writes_before_fault = -1;  // the fault_after test switch; -1 when off
  State() { open.fill(-1); }
};

State& state() { return rt::library_state<Library, State>(); }

rt::Heap& heap() { return rt::Runtime::get().compartment(rt::Runtime::current()).heap(); }

// The path, read through its capability: at most kMaxPath characters.
std::string_view path_of(const cap::Cap<const char>& path, std::array<char, kMaxPath + 1>& buffer) {
  const std::size_t n = std::min(path.size(), kMaxPath);
  rt::check(path.copy_out(0, std::span<char>(buffer.data(), n)));
  buffer[n] = '\0';
  return {buffer.data(), std::strlen(buffer.data())};
}

int find(std::string_view name) {
  const State& s = state();  // once: each lookup is a call (SQLite's every open and access comes here)
  for (std::size_t i = 0; i < kMaxFiles; ++i) {
    const File& f = s.files[i];
    if (f.used && !f.unlinked && name == f.name.data()) return static_cast<int>(i);
  }
  return -1;
}

File* file_of(std::int32_t fd) {
  if (fd < 0 || static_cast<std::size_t>(fd) >= kMaxOpen) return nullptr;
  const int index = state().open[static_cast<std::size_t>(fd)];
  return index < 0 ? nullptr : &state().files[static_cast<std::size_t>(index)];
}

std::uint64_t chunks_for(std::uint64_t bytes) { return (bytes + kChunk - 1) / kChunk; }

// Makes room in the table for a file of `bytes` bytes. False when the heap is full.
bool reserve_slots(File& f, std::uint64_t bytes) {
  const std::uint64_t needed = chunks_for(bytes);
  if (needed <= f.chunk_slots) return true;
  const std::uint64_t slots = std::max<std::uint64_t>(needed, std::max<std::uint64_t>(8, f.chunk_slots * 2));
  auto** table = static_cast<std::byte**>(heap().allocate(slots * sizeof(std::byte*)));
  if (table == nullptr) return false;
  std::fill(table, table + slots, nullptr);
  if (f.chunks != nullptr) {
    std::copy(f.chunks, f.chunks + f.chunk_slots, table);
    heap().free(f.chunks);
  }
  f.chunks = table;
  f.chunk_slots = slots;
  return true;
}

// Allocates every chunk that [offset, offset + n) touches, zeroed. All or nothing from
// the caller's point of view: on failure the chunks already made stay (as zeros, which
// is what the holes they fill read as), and the file's contents and size are unchanged.
bool materialise(File& f, std::uint64_t offset, std::uint64_t n) {
  if (n == 0) return true;
  if (!reserve_slots(f, offset + n)) return false;
  for (std::uint64_t c = offset / kChunk; c <= (offset + n - 1) / kChunk; ++c) {
    if (f.chunks[c] != nullptr) continue;
    auto* chunk = static_cast<std::byte*>(heap().allocate(kChunk));
    if (chunk == nullptr) return false;
    std::memset(chunk, 0, kChunk);
    f.chunks[c] = chunk;
  }
  return true;
}

// Frees every chunk wholly past `bytes`, and zeroes the rest of the last one, so that
// growing the file again reads zeros there.
void release_after(File& f, std::uint64_t bytes) {
  for (std::uint64_t c = chunks_for(bytes); c < f.chunk_slots; ++c) {
    if (f.chunks[c] != nullptr) heap().free(f.chunks[c]);
    f.chunks[c] = nullptr;
  }
  if (bytes % kChunk != 0 && f.chunks != nullptr && f.chunks[bytes / kChunk] != nullptr) {
    std::memset(f.chunks[bytes / kChunk] + bytes % kChunk, 0, kChunk - bytes % kChunk);
  }
}

// Whether a descriptor is open on file `index`.
bool is_open(int index) {
  const auto& open = state().open;
  return std::find(open.begin(), open.end(), index) != open.end();
}

void release(File& f) {
  release_after(f, 0);
  if (f.chunks != nullptr) heap().free(f.chunks);
  f = File{};
}

// The test switch: a wild read, as a memory bug in the file system would make.
void fault_if_armed() {
  std::int64_t& left = state().writes_before_fault;
  if (left < 0) return;
  if (left-- > 0) return;
  left = -1;
  volatile std::uint64_t wild = 8;
  volatile std::uint64_t sink = rt::hybrid_load<std::uint64_t>(wild);
  (void)sink;
}

}  // namespace

std::int32_t Exports::open_impl(cap::Cap<const char> path, std::int32_t create) {
  std::array<char, kMaxPath + 1> buffer;
  const std::string_view name = path_of(path, buffer);
  if (name.empty()) return static_cast<std::int32_t>(kInvalid);
  int index = find(name);
  if (index < 0) {
    if (create == 0) return static_cast<std::int32_t>(kNotFound);
    for (std::size_t i = 0; i < kMaxFiles && index < 0; ++i) {
      if (!state().files[i].used) index = static_cast<int>(i);
    }
    if (index < 0) return static_cast<std::int32_t>(kNoSpace);
    File& f = state().files[static_cast<std::size_t>(index)];
    f = File{};
    f.used = true;
    std::memcpy(f.name.data(), name.data(), name.size());
  }
  for (std::size_t fd = 0; fd < kMaxOpen; ++fd) {
    if (state().open[fd] < 0) {
      state().open[fd] = index;
      return static_cast<std::int32_t>(fd);
    }
  }
  return static_cast<std::int32_t>(kNoSpace);
}

std::int32_t Exports::close_impl(std::int32_t fd) {
  File* f = file_of(fd);
  if (f == nullptr) return static_cast<std::int32_t>(kBadDescriptor);
  int& slot = state().open[static_cast<std::size_t>(fd)];
  const int index = slot;
  slot = -1;
  if (f->unlinked && !is_open(index)) release(*f);
  return 0;
}

std::int64_t Exports::read_impl(std::int32_t fd, cap::Cap<std::byte> out, std::uint64_t offset) {
  const File* f = file_of(fd);
  if (f == nullptr) return kBadDescriptor;
  if (offset >= f->size) return 0;
  const std::uint64_t n = std::min<std::uint64_t>(out.size(), f->size - offset);
  static constexpr std::array<std::byte, kChunk> kZeros{};
  for (std::uint64_t done = 0; done < n;) {
    const std::uint64_t at = offset + done;
    const std::uint64_t piece = std::min(n - done, kChunk - at % kChunk);
    const std::byte* chunk = f->chunks[at / kChunk];
    const std::byte* from = chunk != nullptr ? chunk + at % kChunk : kZeros.data();
    rt::check(out.copy_in(done, std::span<const std::byte>(from, piece)));
    done += piece;
  }
  return static_cast<std::int64_t>(n);
}

std::int64_t Exports::write_impl(std::int32_t fd, cap::Cap<const std::byte> in, std::uint64_t offset) {
  File* f = file_of(fd);
  if (f == nullptr) return kBadDescriptor;
  fault_if_armed();
  const std::uint64_t n = in.size();
  if (offset + n < offset) return kInvalid;
  if (!materialise(*f, offset, n)) return kNoSpace;
  for (std::uint64_t done = 0; done < n;) {
    const std::uint64_t at = offset + done;
    const std::uint64_t piece = std::min(n - done, kChunk - at % kChunk);
    rt::check(in.copy_out(done, std::span<std::byte>(f->chunks[at / kChunk] + at % kChunk, piece)));
    done += piece;
  }
  f->size = std::max(f->size, offset + n);
  return static_cast<std::int64_t>(n);
}

std::int32_t Exports::truncate_impl(std::int32_t fd, std::uint64_t new_size) {
  File* f = file_of(fd);
  if (f == nullptr) return static_cast<std::int32_t>(kBadDescriptor);
  // Growing leaves holes (zeros, no memory); only the table must have room.
  if (new_size > f->size) {
    if (!reserve_slots(*f, new_size)) return static_cast<std::int32_t>(kNoSpace);
  } else {
    release_after(*f, new_size);
  }
  f->size = new_size;
  return 0;
}

std::int64_t Exports::size_impl(std::int32_t fd) {
  const File* f = file_of(fd);
  return f == nullptr ? kBadDescriptor : static_cast<std::int64_t>(f->size);
}

namespace {

// The name goes now; the contents when no descriptor is open on it any more.
void remove_file(int index) {
  File& f = state().files[static_cast<std::size_t>(index)];
  if (is_open(index)) {
    f.unlinked = true;
    f.name.fill('\0');
  } else {
    release(f);
  }
}

}  // namespace

std::int32_t Exports::remove_impl(cap::Cap<const char> path) {
  std::array<char, kMaxPath + 1> buffer;
  const int index = find(path_of(path, buffer));
  if (index < 0) return static_cast<std::int32_t>(kNotFound);
  remove_file(index);
  return 0;
}

std::int32_t Exports::rename_impl(cap::Cap<const char> from, cap::Cap<const char> to) {
  std::array<char, kMaxPath + 1> from_buffer, to_buffer;
  const int source = find(path_of(from, from_buffer));
  const std::string_view name = path_of(to, to_buffer);
  if (source < 0) return static_cast<std::int32_t>(kNotFound);
  if (name.empty()) return static_cast<std::int32_t>(kInvalid);
  const int target = find(name);
  if (target == source) return 0;
  if (target >= 0) remove_file(target);
  File& f = state().files[static_cast<std::size_t>(source)];
  f.name.fill('\0');
  std::memcpy(f.name.data(), name.data(), name.size());
  return 0;
}

std::int32_t Exports::exists_impl(cap::Cap<const char> path) {
  std::array<char, kMaxPath + 1> buffer;
  return find(path_of(path, buffer)) >= 0 ? 1 : 0;
}

std::int32_t Exports::fault_after_impl(std::int32_t writes) {
  state().writes_before_fault = writes < 0 ? -1 : writes;
  return 0;
}

}  // namespace flexcap::lib::ramfs
