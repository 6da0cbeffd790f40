#include "flexcap/lib/ramfs.hh"

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::ramfs {
namespace {

constexpr std::size_t kMaxFiles = 64;
constexpr std::size_t kMaxOpen = 64;

// A file's bytes are one block of the compartment's heap, grown by doubling.
struct File {
  std::array<char, kMaxPath + 1> name{};
  std::byte* data = nullptr;
  std::uint64_t size = 0;
  std::uint64_t capacity = 0;
  bool used = false;
};

struct State {
  std::array<File, kMaxFiles> files;
  std::array<int, kMaxOpen> open;  // descriptor -> file index, -1 when free
  State() { open.fill(-1); }
};

State& state() { return rt::library_state<Library, State>(); }

// The path, read through its capability: at most kMaxPath characters.
std::string_view path_of(const cap::Cap<const char>& path, std::array<char, kMaxPath + 1>& buffer) {
  const std::size_t n = std::min(path.size(), kMaxPath);
  rt::check(path.copy_out(0, std::span<char>(buffer.data(), n)));
  buffer[n] = '\0';
  return {buffer.data(), std::strlen(buffer.data())};
}

int find(std::string_view name) {
  for (std::size_t i = 0; i < kMaxFiles; ++i) {
    const File& f = state().files[i];
    if (f.used && name == f.name.data()) return static_cast<int>(i);
  }
  return -1;
}

File* file_of(std::int32_t fd) {
  if (fd < 0 || static_cast<std::size_t>(fd) >= kMaxOpen) return nullptr;
  const int index = state().open[static_cast<std::size_t>(fd)];
  return index < 0 ? nullptr : &state().files[static_cast<std::size_t>(index)];
}

bool reserve(File& f, std::uint64_t bytes) {
  if (bytes <= f.capacity) return true;
  const std::uint64_t capacity = std::max<std::uint64_t>(bytes, std::max<std::uint64_t>(4096, f.capacity * 2));
  auto grown = rt::private_alloc(capacity);  // faults the compartment if the heap is full
  auto* data = reinterpret_cast<std::byte*>(grown.capability().address());
  if (f.size > 0) std::memcpy(data, f.data, f.size);
  if (f.data != nullptr) rt::Runtime::get().compartment(rt::Runtime::current()).heap().free(f.data);
  f.data = data;
  f.capacity = capacity;
  return true;
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
  if (file_of(fd) == nullptr) return static_cast<std::int32_t>(kBadDescriptor);
  state().open[static_cast<std::size_t>(fd)] = -1;
  return 0;
}

std::int64_t Exports::read_impl(std::int32_t fd, cap::Cap<std::byte> out, std::uint64_t offset) {
  File* f = file_of(fd);
  if (f == nullptr) return kBadDescriptor;
  if (offset >= f->size) return 0;
  const std::uint64_t n = std::min<std::uint64_t>(out.size(), f->size - offset);
  rt::check(out.copy_in(0, std::span<const std::byte>(f->data + offset, n)));
  return static_cast<std::int64_t>(n);
}

std::int64_t Exports::write_impl(std::int32_t fd, cap::Cap<const std::byte> in, std::uint64_t offset) {
  File* f = file_of(fd);
  if (f == nullptr) return kBadDescriptor;
  const std::uint64_t n = in.size();
  reserve(*f, offset + n);
  if (offset > f->size) std::memset(f->data + f->size, 0, offset - f->size);
  rt::check(in.copy_out(0, std::span<std::byte>(f->data + offset, n)));
  f->size = std::max(f->size, offset + n);
  return static_cast<std::int64_t>(n);
}

std::int32_t Exports::truncate_impl(std::int32_t fd, std::uint64_t new_size) {
  File* f = file_of(fd);
  if (f == nullptr) return static_cast<std::int32_t>(kBadDescriptor);
  reserve(*f, new_size);
  if (new_size > f->size) std::memset(f->data + f->size, 0, new_size - f->size);
  f->size = new_size;
  return 0;
}

std::int64_t Exports::size_impl(std::int32_t fd) {
  File* f = file_of(fd);
  return f == nullptr ? kBadDescriptor : static_cast<std::int64_t>(f->size);
}

std::int32_t Exports::remove_impl(cap::Cap<const char> path) {
  std::array<char, kMaxPath + 1> buffer;
  const int index = find(path_of(path, buffer));
  if (index < 0) return static_cast<std::int32_t>(kNotFound);
  File& f = state().files[static_cast<std::size_t>(index)];
  for (int& slot : state().open) {
    if (slot == index) slot = -1;
  }
  if (f.data != nullptr) rt::Runtime::get().compartment(rt::Runtime::current()).heap().free(f.data);
  f = File{};
  return 0;
}

std::int32_t Exports::exists_impl(cap::Cap<const char> path) {
  std::array<char, kMaxPath + 1> buffer;
  return find(path_of(path, buffer)) >= 0 ? 1 : 0;
}

}  // namespace flexcap::lib::ramfs
