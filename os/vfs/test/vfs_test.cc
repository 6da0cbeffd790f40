// vfs over ramfs, through the gate, as its callers (SQLite's adaptor, Redis's files)
// use it: descriptors, reads and writes at offsets, and rename with rename(2)'s meaning.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>

#include "flexcap/lib/ramfs.hh"
#include "flexcap/lib/vfs.hh"
#include "flexcap/rt/call.hh"

namespace flexcap {
namespace {

namespace vfs = lib::vfs;
namespace ramfs = lib::ramfs;

// Paths and data cross through one shared buffer: a path at `offset`, bounded to exactly
// its characters.
cap::Cap<std::byte>& buffer() {
  static cap::Cap<std::byte> b = rt::shared_alloc(4096);
  return b;
}

cap::Cap<const char> path(std::string_view p, std::size_t offset = 0) {
  const cap::Cap<char> all(buffer().capability(), buffer().memory());
  const cap::Cap<char> w = rt::check(all.slice(offset, p.size()));
  rt::check(w.copy_in(0, std::span<const char>(p.data(), p.size())));
  return w.read_only();
}

template <class R>
std::int64_t value(const R& r) {
  EXPECT_TRUE(r) << r.error().describe();
  return r ? static_cast<std::int64_t>(r->unsafe_unverified()) : -1000;
}

std::int32_t open(std::string_view p, bool create = true) {
  return static_cast<std::int32_t>(value(rt::call<vfs::Exports::open>(path(p), create ? 1 : 0)));
}

void write(std::int32_t fd, std::string_view text, std::uint64_t offset = 0) {
  const cap::Cap<std::byte> w = rt::check(buffer().slice(1024, text.size()));
  rt::check(w.copy_in(0, std::as_bytes(std::span<const char>(text.data(), text.size()))));
  ASSERT_EQ(value(rt::call<vfs::Exports::write>(fd, w.read_only(), offset)), static_cast<std::int64_t>(text.size()));
}

// The whole file, or the error code as text.
std::string read(std::int32_t fd) {
  const cap::Cap<std::byte> w = rt::check(buffer().slice(2048, 1024));
  const std::int64_t n = value(rt::call<vfs::Exports::read>(fd, w, 0));
  if (n < 0) return "error " + std::to_string(n);
  std::string out(static_cast<std::size_t>(n), '\0');
  rt::check(w.copy_out(0, std::as_writable_bytes(std::span<char>(out.data(), out.size()))));
  return out;
}

std::int64_t rename(std::string_view from, std::string_view to) {
  return value(rt::call<vfs::Exports::rename>(path(from, 0), path(to, 512)));
}

bool exists(std::string_view p) { return value(rt::call<vfs::Exports::access>(path(p))) == 1; }

void close(std::int32_t fd) { EXPECT_EQ(value(rt::call<vfs::Exports::close>(fd)), 0); }

TEST(Vfs, WritesAndReadsBackAtOffsets) {
  const std::int32_t fd = open("/round-trip");
  ASSERT_GE(fd, 0);
  write(fd, "hello, compartments");
  write(fd, "C", 7);
  EXPECT_EQ(read(fd), "hello, Compartments");
  EXPECT_EQ(value(rt::call<vfs::Exports::size>(fd)), 19);
  close(fd);
  EXPECT_EQ(value(rt::call<vfs::Exports::unlink>(path("/round-trip"))), 0);
  EXPECT_FALSE(exists("/round-trip"));
}

TEST(Vfs, RenameGivesTheFileItsNewName) {
  const std::int32_t fd = open("/temp-1.rdb");
  write(fd, "snapshot");
  ASSERT_EQ(rename("/temp-1.rdb", "/dump.rdb"), 0);
  EXPECT_FALSE(exists("/temp-1.rdb"));
  EXPECT_TRUE(exists("/dump.rdb"));
  EXPECT_EQ(read(fd), "snapshot") << "a descriptor open on the file stays open on it";
  close(fd);
  const std::int32_t again = open("/dump.rdb", false);
  EXPECT_EQ(read(again), "snapshot");
  close(again);
  value(rt::call<vfs::Exports::unlink>(path("/dump.rdb")));
}

TEST(Vfs, RenameReplacesTheTargetAsRename2Does) {
  const std::int32_t fresh = open("/dir/new");
  write(fresh, "new");
  const std::int32_t old = open("/dir/old");
  write(old, "old contents");
  ASSERT_EQ(rename("/dir/new", "/dir/old"), 0);
  const std::int32_t now = open("/dir/old", false);
  EXPECT_NE(now, old);
  EXPECT_EQ(read(now), "new");
  EXPECT_EQ(read(old), "old contents") << "the replaced file stays readable through what was open on it";
  EXPECT_FALSE(exists("/dir/new"));
  close(old);
  EXPECT_EQ(read(now), "new");
  close(fresh);
  close(now);
  value(rt::call<vfs::Exports::unlink>(path("/dir/old")));
}

// As unlink(2): the name goes at once, the file at its last close. (A file's descriptors
// used to close with its name, so the next open took one of their numbers, and the
// holder's own close, later, closed the new file: Redis closes its unlinked AOF files
// on a background thread.)
TEST(Vfs, UnlinkedFileLivesUntilItsLastClose) {
  const std::int32_t kept = open("/history.aof");
  write(kept, "old");
  ASSERT_EQ(value(rt::call<vfs::Exports::unlink>(path("/history.aof"))), 0);
  EXPECT_FALSE(exists("/history.aof"));
  const std::int32_t fresh = open("/base.aof");
  EXPECT_NE(fresh, kept);
  write(fresh, "new");
  EXPECT_EQ(read(kept), "old");
  close(kept);
  EXPECT_EQ(read(fresh), "new") << "closing the unlinked file closed another";
  EXPECT_EQ(read(kept), "error " + std::to_string(ramfs::kBadDescriptor));
  const std::int32_t again = open("/history.aof");
  EXPECT_EQ(read(again), "") << "a new file of the old name starts empty";
  close(again);
  close(fresh);
  value(rt::call<vfs::Exports::unlink>(path("/history.aof")));
  value(rt::call<vfs::Exports::unlink>(path("/base.aof")));
}

TEST(Vfs, UnlinkedFilesAreReleasedAtTheirLastClose) {
  // More files than ramfs has room for, each unlinked while open, then closed.
  for (int i = 0; i < 200; ++i) {
    const std::int32_t fd = open("/churn");
    ASSERT_GE(fd, 0) << "file " << i << ": the unlinked files were not released";
    write(fd, "x");
    ASSERT_EQ(value(rt::call<vfs::Exports::unlink>(path("/churn"))), 0);
    close(fd);
  }
}

TEST(Vfs, RenameOntoItselfKeepsTheFile) {
  const std::int32_t fd = open("/same");
  write(fd, "kept");
  EXPECT_EQ(rename("/same", "/same"), 0);
  EXPECT_EQ(read(fd), "kept");
  close(fd);
  value(rt::call<vfs::Exports::unlink>(path("/same")));
}

TEST(Vfs, RenameRefusesWhatItCannotDo) {
  EXPECT_EQ(rename("/missing", "/anything"), ramfs::kNotFound);
  EXPECT_FALSE(exists("/anything"));
  EXPECT_EQ(rename("relative", "/x"), vfs::kBadPath);
  const std::int32_t fd = open("/stays");
  EXPECT_EQ(rename("/stays", "relative"), vfs::kBadPath);
  EXPECT_TRUE(exists("/stays"));
  close(fd);
  value(rt::call<vfs::Exports::unlink>(path("/stays")));
}

}  // namespace
}  // namespace flexcap

int main(int argc, char** argv) {
  flexcap::image::start();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
