// Redis's data files in ramfs, through vfs: its RDB (dump.rdb and the temporary files
// SAVE, BGSAVE and replication write), its AOF directory and manifest.
//
// The rule is the path's: a relative path names a file in ramfs (Redis's working
// directory is ramfs's root, "dir" names nothing there), an absolute one the host's.
// Redis opens its configuration file by its absolute path, and its log where --logfile
// says (give it an absolute path to read it on the host). Redis's calls are renamed at
// link time (apps/redis/source/redis-objects.sh): fopen gives a real FILE whose reads,
// writes and seeks come here (fopencookie), so Redis's rio, fgets and ftello work
// unchanged; open, stat, rename, unlink, mkdir, ... come here directly. A file has a
// number of Redis's own (reserve_number), which read, write and close recognise.
//
// ramfs has no directories: mkdir records the name here, and a file's path is its whole
// name ("/appendonlydir/appendonly.aof.1.base.rdb").
//
// Threads: only the main thread crosses gates to vfs. Redis's background threads close
// files (bio's close jobs) and fsync them: a close from them is finished by the main
// thread between events, and fsync has nothing to flush in ramfs.
//
// fork: a child Redis forked (BGSAVE, BGREWRITEAOF) must not write its parent's ramfs
// (where it is a copy in the child's memory, what it writes would be lost; where it is
// another process, the parent uses it). The files the child creates live in memory files
// of its own (memfd), and each one it closes, renames or unlinks is sent to the parent
// over a channel made at fork (SCM_RIGHTS for the memory file). When Redis's waitpid
// sees the child exit with status 0, the parent applies them in order to its ramfs,
// before Redis learns the child is done: a BGSAVE's dump.rdb is there when Redis reports
// it saved.
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "flexcap/cc/hybrid_runtime.hh"
#include "flexcap/lib/vfs.hh"
#include "flexcap/rt/call.hh"
#include "flexcap/support/descriptor_message.hh"
#include "redis_shim.hh"

namespace cap = flexcap::cap;
namespace rt = flexcap::rt;
namespace vfs = flexcap::lib::vfs;

namespace flexcap::redis {
namespace {

struct OpenFile {
  std::string path;          // in ramfs ("/dump.rdb")
  int vfs = -1;              // vfs's descriptor (-1: a directory, or a child's memory file)
  int memory = -1;           // a forked child's file: its memfd
  std::uint64_t offset = 0;  // for read, write and lseek (pread-style calls to vfs)
  bool append = false;
  bool directory = false;
  bool readable = true, writable = false;
  bool changed = false;  // a child's file it created or wrote: sent to the parent at close
};

// What one channel message says (the memory file, if any, rides along as SCM_RIGHTS).
enum class Change : std::uint8_t { Put, Rename, Unlink };
struct ChangeHeader {
  Change change;
  std::uint16_t first, second;  // the lengths of the path(s) that follow
};

struct State {
  std::mutex mutex;
  std::map<int, OpenFile> open;              // Redis's number -> file
  std::map<int, FILE*> streams;              // Redis's number -> the FILE fopen gave for it
  std::set<std::string> directories{"/"};    // made by mkdir ("/" is Redis's working directory)
  std::vector<int> closed_elsewhere;         // vfs descriptors other threads closed
  std::map<pid_t, int> children;             // a forked child -> our end of its channel
  std::map<std::string, int> child_files;    // in a child: path -> the memfd holding it
  int channel = -1;                          // in a child: its end of the channel
  int pending_channel[2] = {-1, -1};         // made before fork, split after
};

State& state() {
  static State* s = new State();  // never destroyed: Redis exits from anywhere
  return *s;
}

int refuse(int error) {
  errno = error;
  return -1;
}

// A relative path names a file in ramfs: Redis's working directory is ramfs's root.
// Returns vfs's absolute form ("./appendonlydir//x" -> "/appendonlydir/x"), nothing for
// the host's paths.
std::optional<std::string> ramfs_path(const char* path) {
  // (In cheri images Redis is hybrid: the path must be within its DDC, host's or not.)
  if (path != nullptr) flexcap::cc::check_range(path, std::strlen(path) + 1, FLEXCAP_HYBRID_LOAD);
  if (path == nullptr || path[0] == '/' || path[0] == '\0') return std::nullopt;
  std::vector<std::string_view> parts;
  std::string_view rest(path);
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (std::string_view part : parts) out.append("/").append(part);
  return out.empty() ? std::string("/") : out;
}

// vfs's answer as the C library gives it: the value, or -1 with errno (vfs and ramfs
// answer -errno). A refused gate (the file system's compartment faulted) is EIO.
template <class Result>
std::int64_t answer(const Result& r) {
  if (!r) {
    std::fprintf(stderr, "flexcap: vfs: %s\n", r.error().describe().c_str());
    errno = EIO;
    return -1;
  }
  // A count, a descriptor or -errno: checked by each caller.
  const auto v = static_cast<std::int64_t>(r->unsafe_unverified());
  if (v < 0) {
    errno = static_cast<int>(-v);
    return -1;
  }
  return v;
}

// A path in the transfer buffer at `offset`, as a read-only capability to exactly its
// characters (ramfs paths are at most 255: always exactly representable).
cap::Cap<const char> path_cap(const std::string& path, std::size_t offset) {
  const cap::Cap<char> all(transfer_buffer().capability(), transfer_buffer().memory());
  const cap::Cap<char> w = rt::check(all.slice(offset, path.size()));
  rt::check(w.copy_in(0, std::span<const char>(path.data(), path.size())));
  return w.read_only();
}

bool path_fits(const std::string& path) {
  if (path.size() > 255) {
    errno = ENAMETOOLONG;
    return false;
  }
  return true;
}

// Where this process may reach ramfs: the image's process; a child of an image whose
// compartments share its process, on its own copy. A child of a process image shares the
// file system's process with its parent: never (EIO), before the transfer buffer, which
// it shares with its parent there, is touched.
bool may_use_vfs() { return !forked_from_image(); }

// vfs's calls, from the main thread (or a forked child, see may_use_vfs).
std::int64_t vfs_open(const std::string& path, bool create) {
  if (!may_use_vfs()) return refuse(EIO);
  if (!path_fits(path)) return -1;
  return answer(rt::call<vfs::Exports::open>(path_cap(path, 0), create ? 1 : 0));
}
std::int64_t vfs_close(int fd) {
  if (!may_use_vfs()) return refuse(EIO);
  return answer(rt::call<vfs::Exports::close>(fd));
}
std::int64_t vfs_size(int fd) {
  if (!may_use_vfs()) return refuse(EIO);
  return answer(rt::call<vfs::Exports::size>(fd));
}
std::int64_t vfs_truncate(int fd, std::uint64_t length) {
  if (!may_use_vfs()) return refuse(EIO);
  return answer(rt::call<vfs::Exports::truncate>(fd, length));
}
std::int64_t vfs_unlink(const std::string& path) {
  if (!may_use_vfs()) return refuse(EIO);
  if (!path_fits(path)) return -1;
  return answer(rt::call<vfs::Exports::unlink>(path_cap(path, 0)));
}
std::int64_t vfs_rename(const std::string& from, const std::string& to) {
  if (!may_use_vfs()) return refuse(EIO);
  if (!path_fits(from) || !path_fits(to)) return -1;
  return answer(rt::call<vfs::Exports::rename>(path_cap(from, 0), path_cap(to, 256)));
}
bool vfs_exists(const std::string& path) {
  if (!may_use_vfs() || path.size() > 255) return false;
  return answer(rt::call<vfs::Exports::access>(path_cap(path, 0))) == 1;
}

// Up to one transfer buffer of the file at `offset` into Redis's memory.
ssize_t vfs_read_at(int fd, void* into, std::size_t n, std::uint64_t offset) {
  if (!may_use_vfs()) return refuse(EIO);
  std::size_t done = 0;
  while (done < n) {
    std::size_t piece = n - done;
    const cap::Cap<std::byte> w = window<std::byte>(piece);
    // Store-only: the file system writes the bytes and can read nothing there.
    const cap::Cap<std::byte> store_only(
        w.capability().restrict_permissions(cap::Permission::Store | cap::Permission::Global), w.memory());
    const std::int64_t got = answer(rt::call<vfs::Exports::read>(fd, store_only, offset + done));
    if (got < 0) return done > 0 ? static_cast<ssize_t>(done) : -1;
    if (static_cast<std::size_t>(got) > piece) {  // more than asked: the file system lies
      errno = EIO;
      return -1;
    }
    rt::check(w.copy_out(0, std::span<std::byte>(static_cast<std::byte*>(into) + done, got)));
    done += static_cast<std::size_t>(got);
    if (static_cast<std::size_t>(got) < piece) break;  // the end of the file
  }
  return static_cast<ssize_t>(done);
}

ssize_t vfs_write_at(int fd, const void* from, std::size_t n, std::uint64_t offset) {
  if (!may_use_vfs()) return refuse(EIO);
  std::size_t done = 0;
  while (done < n) {
    std::size_t piece = n - done;
    const cap::Cap<std::byte> w = window<std::byte>(piece);
    rt::check(w.copy_in(0, std::span<const std::byte>(static_cast<const std::byte*>(from) + done, piece)));
    const std::int64_t put = answer(rt::call<vfs::Exports::write>(fd, w.read_only(), offset + done));
    if (put < 0) return done > 0 ? static_cast<ssize_t>(done) : -1;
    if (static_cast<std::size_t>(put) != piece) {
      errno = EIO;
      return -1;
    }
    done += piece;
  }
  return static_cast<ssize_t>(n);
}

OpenFile* find(int fd) {
  const auto it = state().open.find(fd);
  return it == state().open.end() ? nullptr : &it->second;
}

// A channel message to the parent (in a child): one change, in order.
void send_change(Change change, const std::string& first, const std::string& second, int memory) {
  State& s = state();
  if (s.channel < 0) return;
  std::string message(sizeof(ChangeHeader), '\0');
  const ChangeHeader header{change, static_cast<std::uint16_t>(first.size()), static_cast<std::uint16_t>(second.size())};
  std::memcpy(message.data(), &header, sizeof(header));
  message += first;
  message += second;
  if (send_with_descriptor(s.channel, message, memory) < 0) {
    std::fprintf(stderr, "flexcap: redis: a forked child could not hand %s to its parent: %s\n", first.c_str(),
                 std::strerror(errno));
  }
}

// In the parent: a child's file, from its memory file into ramfs.
void put_from_memory(const std::string& path, int memory) {
  const std::int64_t fd = vfs_open(path, true);
  if (fd < 0 || vfs_truncate(static_cast<int>(fd), 0) < 0) {
    std::fprintf(stderr, "flexcap: redis: cannot write %s, which a forked child wrote, into ramfs: %s\n", path.c_str(),
                 std::strerror(errno));
    if (fd >= 0) vfs_close(static_cast<int>(fd));
    return;
  }
  std::vector<char> buffer(kTransfer);
  std::uint64_t offset = 0;
  for (;;) {
    const ssize_t got = pread(memory, buffer.data(), buffer.size(), static_cast<off_t>(offset));
    if (got <= 0) break;
    if (vfs_write_at(static_cast<int>(fd), buffer.data(), static_cast<std::size_t>(got), offset) != got) {
      std::fprintf(stderr, "flexcap: redis: ramfs is full: %s, which a forked child wrote, is cut at %llu bytes. "
                           "Fix: give the file system's compartment a larger heap\n",
                   path.c_str(), static_cast<unsigned long long>(offset));
      break;
    }
    offset += static_cast<std::uint64_t>(got);
  }
  vfs_close(static_cast<int>(fd));
}

// In the parent, when Redis's waitpid reaps `child`: its changes, applied in order when
// it succeeded (a failed BGSAVE leaves nothing behind, as Redis removes its temporary
// file).
void apply_changes(pid_t child, bool succeeded) {
  State& s = state();
  const auto it = s.children.find(child);
  if (it == s.children.end()) return;
  const int channel = it->second;
  s.children.erase(it);
  std::vector<char> buffer(sizeof(ChangeHeader) + 2 * 256);
  for (;;) {
    int memory = -1;
    const ssize_t got = receive_with_descriptor(channel, buffer, &memory, MSG_DONTWAIT);
    if (got < static_cast<ssize_t>(sizeof(ChangeHeader))) {
      if (memory >= 0) ::close(memory);
      break;
    }
    ChangeHeader header;
    std::memcpy(&header, buffer.data(), sizeof(header));
    if (sizeof(header) + header.first + header.second == static_cast<std::size_t>(got) && succeeded) {
      const std::string first(buffer.data() + sizeof(header), header.first);
      const std::string second(buffer.data() + sizeof(header) + header.first, header.second);
      switch (header.change) {
        case Change::Put:
          if (memory >= 0) put_from_memory(first, memory);
          break;
        case Change::Rename:
          vfs_rename(first, second);
          break;
        case Change::Unlink:
          vfs_unlink(first);
          break;
      }
    }
    if (memory >= 0) ::close(memory);
  }
  ::close(channel);
}

// The host's stat for a file in ramfs.
void fill_stat(struct stat64* st, bool directory, std::uint64_t size) {
  std::memset(st, 0, sizeof(*st));
  st->st_mode = directory ? (S_IFDIR | 0755) : (S_IFREG | 0644);
  st->st_nlink = 1;
  st->st_uid = getuid();
  st->st_gid = getgid();
  st->st_size = static_cast<off64_t>(size);
  st->st_blksize = 4096;
  st->st_blocks = static_cast<blkcnt64_t>((size + 511) / 512);
}

// stat of a path in ramfs: a directory mkdir made, a child's own file, or a file.
int stat_ramfs(const std::string& path, struct stat64* st) {
  State& s = state();
  flexcap::cc::check_range(st, sizeof(*st), FLEXCAP_HYBRID_STORE);
  if (s.directories.contains(path)) {
    fill_stat(st, true, 0);
    return 0;
  }
  if (const auto it = s.child_files.find(path); it != s.child_files.end()) {
    struct stat64 host;
    if (::fstat64(it->second, &host) != 0) return -1;
    fill_stat(st, false, static_cast<std::uint64_t>(host.st_size));
    return 0;
  }
  const std::int64_t fd = vfs_open(path, false);
  if (fd < 0) return -1;
  const std::int64_t size = vfs_size(static_cast<int>(fd));
  vfs_close(static_cast<int>(fd));
  if (size < 0) return -1;
  fill_stat(st, false, static_cast<std::uint64_t>(size));
  return 0;
}

// Opens a path in ramfs with open(2)'s flags: Redis's number for it, or -1 and errno.
int open_ramfs(const std::string& path, int flags) {
  State& s = state();
  const int access = flags & O_ACCMODE;
  OpenFile file;
  file.path = path;
  file.readable = access != O_WRONLY;
  file.writable = access != O_RDONLY;
  file.append = (flags & O_APPEND) != 0;
  if (s.directories.contains(path)) {
    if (file.writable) return refuse(EISDIR);
    file.directory = true;
  } else if ((flags & O_DIRECTORY) != 0) {
    return refuse(ENOTDIR);
  } else if (forked_child()) {
    // A child's files are its own memory files, handed to its parent (see above).
    auto it = s.child_files.find(path);
    if (it == s.child_files.end()) {
      if ((flags & O_CREAT) == 0) {
        const std::int64_t fd = vfs_open(path, false);  // its copy of its parent's file, to read
        if (fd < 0) return -1;
        file.vfs = static_cast<int>(fd);
        file.writable = false;
      } else {
        const int memory = memfd_create("flexcap-redis-child-file", MFD_CLOEXEC);
        if (memory < 0) return -1;
        it = s.child_files.emplace(path, memory).first;
      }
    } else if ((flags & O_CREAT) != 0 && (flags & O_EXCL) != 0) {
      return refuse(EEXIST);
    }
    if (it != s.child_files.end()) {
      file.memory = ::fcntl(it->second, F_DUPFD_CLOEXEC, 0);
      if (file.memory < 0) return -1;
      if ((flags & O_TRUNC) != 0 && file.writable && ::ftruncate(file.memory, 0) != 0) return -1;
      file.changed = (flags & (O_CREAT | O_TRUNC)) != 0;
    }
  } else {
    if ((flags & O_CREAT) != 0 && (flags & O_EXCL) != 0 && vfs_exists(path)) return refuse(EEXIST);
    const std::int64_t fd = vfs_open(path, (flags & O_CREAT) != 0);
    if (fd < 0) return -1;
    file.vfs = static_cast<int>(fd);
    if ((flags & O_TRUNC) != 0 && file.writable && vfs_truncate(file.vfs, 0) < 0) {
      const int saved = errno;
      vfs_close(file.vfs);
      return refuse(saved);
    }
  }
  const int ours = reserve_number();
  if (ours < 0) {
    const int saved = errno;
    if (file.vfs >= 0) vfs_close(file.vfs);
    if (file.memory >= 0) ::close(file.memory);
    return refuse(saved);
  }
  s.open.emplace(ours, std::move(file));
  return ours;
}

std::int64_t size_of(const OpenFile& f) {
  if (f.memory >= 0) {
    struct stat64 host;
    return ::fstat64(f.memory, &host) == 0 ? host.st_size : -1;
  }
  return vfs_size(f.vfs);
}

ssize_t read_file(OpenFile& f, void* into, std::size_t n) {
  if (f.directory) return refuse(EISDIR);
  if (!f.readable) return refuse(EBADF);
  const ssize_t got = f.memory >= 0 ? ::pread(f.memory, into, n, static_cast<off_t>(f.offset))
                                    : vfs_read_at(f.vfs, into, n, f.offset);
  if (got > 0) f.offset += static_cast<std::uint64_t>(got);
  return got;
}

ssize_t write_file(OpenFile& f, const void* from, std::size_t n) {
  if (f.directory || !f.writable) return refuse(EBADF);
  if (forked_child() && f.memory < 0) return refuse(EIO);  // its parent's file: see above
  if (f.append) {
    const std::int64_t size = size_of(f);
    if (size < 0) return -1;
    f.offset = static_cast<std::uint64_t>(size);
  }
  const ssize_t put = f.memory >= 0 ? ::pwrite(f.memory, from, n, static_cast<off_t>(f.offset))
                                    : vfs_write_at(f.vfs, from, n, f.offset);
  if (put > 0) {
    f.offset += static_cast<std::uint64_t>(put);
    f.changed = true;
  }
  return put;
}

// Closes Redis's number `fd`; a child's written file goes to its parent.
int close_file(int fd) {
  State& s = state();
  const auto it = s.open.find(fd);
  if (it == s.open.end()) return refuse(EBADF);
  OpenFile f = std::move(it->second);
  s.open.erase(it);
  s.streams.erase(fd);
  ::close(fd);  // the reserved number
  if (f.memory >= 0) {
    if (f.changed) send_change(Change::Put, f.path, "", f.memory);
    ::close(f.memory);
  }
  if (f.vfs >= 0 && may_use_vfs()) {
    if (on_main_thread() || forked_child()) return static_cast<int>(std::min<std::int64_t>(vfs_close(f.vfs), 0));
    s.closed_elsewhere.push_back(f.vfs);  // finished by the main thread between events
  }
  return 0;
}

// fopencookie's functions: the cookie is Redis's number for the file. The buffer is the
// FILE's own, in the C library (what Redis reads and writes through fread and fwrite was
// checked against its DDC by their wrappers).
ssize_t cookie_read(void* cookie, char* into, std::size_t n) {
  std::lock_guard lock(state().mutex);
  OpenFile* f = find(static_cast<int>(reinterpret_cast<std::intptr_t>(cookie)));
  return f == nullptr ? refuse(EBADF) : read_file(*f, into, n);
}
ssize_t cookie_write(void* cookie, const char* from, std::size_t n) {
  std::lock_guard lock(state().mutex);
  OpenFile* f = find(static_cast<int>(reinterpret_cast<std::intptr_t>(cookie)));
  const ssize_t put = f == nullptr ? refuse(EBADF) : write_file(*f, from, n);
  return put < 0 ? 0 : put;  // (fopencookie: 0 is the error)
}
int seek_file(OpenFile& f, off64_t* position, int whence) {
  std::int64_t base = 0;
  if (whence == SEEK_CUR) base = static_cast<std::int64_t>(f.offset);
  if (whence == SEEK_END) base = size_of(f);
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return refuse(EINVAL);
  if (base < 0 || base + *position < 0) return refuse(EINVAL);
  f.offset = static_cast<std::uint64_t>(base + *position);
  *position = static_cast<off64_t>(f.offset);
  return 0;
}
int cookie_seek(void* cookie, off64_t* position, int whence) {
  std::lock_guard lock(state().mutex);
  OpenFile* f = find(static_cast<int>(reinterpret_cast<std::intptr_t>(cookie)));
  return f == nullptr ? refuse(EBADF) : seek_file(*f, position, whence);
}
int cookie_close(void* cookie) {
  std::lock_guard lock(state().mutex);
  return close_file(static_cast<int>(reinterpret_cast<std::intptr_t>(cookie)));
}

// fopen's mode as open(2)'s flags.
std::optional<int> flags_of_mode(const char* mode) {
  if (mode == nullptr) return std::nullopt;
  int flags = 0;
  switch (mode[0]) {
    case 'r': flags = O_RDONLY; break;
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
    default: return std::nullopt;
  }
  for (const char* c = mode + 1; *c != '\0'; ++c) {
    if (*c == '+') flags = (flags & ~O_ACCMODE) | O_RDWR;
    if (*c == 'x') flags |= O_EXCL;
  }
  return flags;
}

}  // namespace

bool is_file(int fd) {
  std::lock_guard lock(state().mutex);
  return find(fd) != nullptr;
}

// Redis's own buffers, checked against its DDC (in cheri images) before anything is read
// or written.
ssize_t file_read(int fd, void* into, std::size_t n) {
  flexcap::cc::check_range(into, n, FLEXCAP_HYBRID_STORE);
  std::lock_guard lock(state().mutex);
  OpenFile* f = find(fd);
  return f == nullptr ? refuse(EBADF) : read_file(*f, into, n);
}

ssize_t file_write(int fd, const void* from, std::size_t n) {
  flexcap::cc::check_range(from, n, FLEXCAP_HYBRID_LOAD);
  std::lock_guard lock(state().mutex);
  OpenFile* f = find(fd);
  return f == nullptr ? refuse(EBADF) : write_file(*f, from, n);
}

ssize_t file_writev(int fd, const iovec* vectors, int count) {
  if (count > 0) flexcap::cc::check_range(vectors, static_cast<std::size_t>(count) * sizeof(iovec), FLEXCAP_HYBRID_LOAD);
  ssize_t total = 0;
  for (int i = 0; i < count; ++i) {
    const ssize_t put = file_write(fd, vectors[i].iov_base, vectors[i].iov_len);
    if (put < 0) return total > 0 ? total : -1;
    total += put;
    if (static_cast<std::size_t>(put) < vectors[i].iov_len) break;
  }
  return total;
}

int file_close(int fd) {
  std::lock_guard lock(state().mutex);
  if (state().streams.contains(fd)) return refuse(EBADF);  // a FILE's number: fclose closes it
  return close_file(fd);
}

void files_between_events() {
  std::lock_guard lock(state().mutex);
  for (const int fd : state().closed_elsewhere) vfs_close(fd);
  state().closed_elsewhere.clear();
}

void files_before_fork() {
  std::lock_guard lock(state().mutex);
  int* ends = state().pending_channel;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) ends[0] = ends[1] = -1;
}

void files_after_fork(pid_t child) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  int* ends = s.pending_channel;
  if (child == 0) {
    // The child: its parent's channels and pending closes are not its own.
    for (const auto& [pid, channel] : s.children) ::close(channel);
    s.children.clear();
    s.closed_elsewhere.clear();
    s.child_files.clear();
    if (ends[0] >= 0) ::close(ends[0]);
    s.channel = ends[1];
  } else {
    if (ends[1] >= 0) ::close(ends[1]);
    if (child > 0 && ends[0] >= 0) {
      s.children[child] = ends[0];
    } else if (ends[0] >= 0) {
      ::close(ends[0]);
    }
  }
  ends[0] = ends[1] = -1;
}

}  // namespace flexcap::redis

namespace redis = flexcap::redis;

extern "C" {

int flexcap_redis_close(int fd);  // redis_posix.cc: Redis's close, whatever the descriptor

FILE* flexcap_redis_fopen(const char* path, const char* mode) {
  if (mode != nullptr) flexcap::cc::check_range(mode, std::strlen(mode) + 1, FLEXCAP_HYBRID_LOAD);
  const std::optional<std::string> in_ramfs = redis::ramfs_path(path);
  if (!in_ramfs) return ::fopen64(path, mode);
  const std::optional<int> flags = redis::flags_of_mode(mode);
  if (!flags) {
    errno = EINVAL;
    return nullptr;
  }
  std::lock_guard lock(redis::state().mutex);
  const int fd = redis::open_ramfs(*in_ramfs, *flags);
  if (fd < 0) return nullptr;
  const cookie_io_functions_t functions{redis::cookie_read, redis::cookie_write, redis::cookie_seek,
                                        redis::cookie_close};
  FILE* stream = fopencookie(reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)), mode, functions);
  if (stream == nullptr) {
    redis::close_file(fd);
    return nullptr;
  }
  // One crossing per transfer buffer's worth, not per BUFSIZ: fewer gates for an RDB.
  setvbuf(stream, nullptr, _IOFBF, redis::kTransfer);
  redis::state().streams[fd] = stream;
  return stream;
}

FILE* flexcap_redis_fopen64(const char* path, const char* mode) __attribute__((alias("flexcap_redis_fopen")));

int flexcap_redis_fileno(FILE* stream) {
  {
    std::lock_guard lock(redis::state().mutex);
    for (const auto& [fd, s] : redis::state().streams) {
      if (s == stream) return fd;
    }
  }
  return ::fileno(stream);
}

int flexcap_redis_open(const char* path, int flags, ...) {
  mode_t mode = 0;
  if ((flags & (O_CREAT | O_TMPFILE)) != 0) {
    va_list arguments;
    va_start(arguments, flags);
    mode = static_cast<mode_t>(va_arg(arguments, int));
    va_end(arguments);
  }
  const std::optional<std::string> in_ramfs = redis::ramfs_path(path);
  if (!in_ramfs) return ::open64(path, flags, mode);
  std::lock_guard lock(redis::state().mutex);
  return redis::open_ramfs(*in_ramfs, flags);
}

int flexcap_redis_open64(const char* path, int flags, ...) __attribute__((alias("flexcap_redis_open")));

off64_t flexcap_redis_lseek64(int fd, off64_t offset, int whence) {
  std::lock_guard lock(redis::state().mutex);
  redis::OpenFile* f = redis::find(fd);
  if (f == nullptr) return ::lseek64(fd, offset, whence);
  off64_t position = offset;
  const int r = redis::seek_file(*f, &position, whence);
  return r < 0 ? -1 : position;
}

int flexcap_redis_fstat64(int fd, struct stat64* st) {
  std::lock_guard lock(redis::state().mutex);
  redis::OpenFile* f = redis::find(fd);
  if (f == nullptr) return ::fstat64(fd, st);
  flexcap::cc::check_range(st, sizeof(*st), FLEXCAP_HYBRID_STORE);
  if (f->directory) {
    redis::fill_stat(st, true, 0);
    return 0;
  }
  if (!redis::on_main_thread() && f->memory < 0) return redis::refuse(EAGAIN);
  const std::int64_t size = redis::size_of(*f);
  if (size < 0) return -1;
  redis::fill_stat(st, false, static_cast<std::uint64_t>(size));
  return 0;
}

int flexcap_redis_stat64(const char* path, struct stat64* st) {
  const std::optional<std::string> in_ramfs = redis::ramfs_path(path);
  if (!in_ramfs) return ::stat64(path, st);
  std::lock_guard lock(redis::state().mutex);
  return redis::stat_ramfs(*in_ramfs, st);
}

int flexcap_redis_lstat64(const char* path, struct stat64* st) {
  const std::optional<std::string> in_ramfs = redis::ramfs_path(path);
  if (!in_ramfs) return ::lstat64(path, st);
  std::lock_guard lock(redis::state().mutex);
  return redis::stat_ramfs(*in_ramfs, st);  // (ramfs has no links)
}

// ramfs writes are complete when they return: nothing to flush, from any thread.
int flexcap_redis_fsync(int fd) { return redis::is_file(fd) ? 0 : ::fsync(fd); }
int flexcap_redis_fdatasync(int fd) { return redis::is_file(fd) ? 0 : ::fdatasync(fd); }
int flexcap_redis_sync_file_range(int fd, off64_t offset, off64_t n, unsigned int flags) {
  return redis::is_file(fd) ? 0 : ::sync_file_range(fd, offset, n, flags);
}

int flexcap_redis_ftruncate64(int fd, off64_t length) {
  std::lock_guard lock(redis::state().mutex);
  redis::OpenFile* f = redis::find(fd);
  if (f == nullptr) return ::ftruncate64(fd, length);
  if (length < 0) return redis::refuse(EINVAL);
  if (f->directory || !f->writable) return redis::refuse(EBADF);
  if (f->memory >= 0) return ::ftruncate(f->memory, length);
  return redis::vfs_truncate(f->vfs, static_cast<std::uint64_t>(length)) < 0 ? -1 : 0;
}

int flexcap_redis_truncate64(const char* path, off64_t length) {
  const std::optional<std::string> in_ramfs = redis::ramfs_path(path);
  if (!in_ramfs) return ::truncate64(path, length);
  const int fd = flexcap_redis_open(path, O_WRONLY);
  if (fd < 0) return -1;
  const int r = flexcap_redis_ftruncate64(fd, length);
  const int saved = errno;
  flexcap_redis_close(fd);
  errno = saved;
  return r;
}

int flexcap_redis_mkdir(const char* path, mode_t mode) {
  const std::optional<std::string> in_ramfs = redis::ramfs_path(path);
  if (!in_ramfs) return ::mkdir(path, mode);
  std::lock_guard lock(redis::state().mutex);
  if (!redis::state().directories.insert(*in_ramfs).second) return redis::refuse(EEXIST);
  return 0;
}

int flexcap_redis_rename(const char* from, const char* to) {
  const std::optional<std::string> source = redis::ramfs_path(from), target = redis::ramfs_path(to);
  if (!source && !target) return ::rename(from, to);
  if (!source || !target) return redis::refuse(EXDEV);  // ramfs and the host: two file systems
  std::lock_guard lock(redis::state().mutex);
  redis::State& s = redis::state();
  if (redis::forked_child()) {
    const auto it = s.child_files.find(*source);
    if (it == s.child_files.end()) return redis::refuse(ENOENT);
    if (const auto old = s.child_files.find(*target); old != s.child_files.end()) {
      ::close(old->second);
      s.child_files.erase(old);
    }
    const int memory = it->second;
    s.child_files.erase(it);
    s.child_files.emplace(*target, memory);
    // A file still open goes to the parent under its new name when it is closed.
    for (auto& [fd, file] : s.open) {
      if (file.path == *source) file.path = *target;
    }
    redis::send_change(redis::Change::Rename, *source, *target, -1);
    return 0;
  }
  return redis::vfs_rename(*source, *target) < 0 ? -1 : 0;
}

int flexcap_redis_unlink(const char* path) {
  const std::optional<std::string> in_ramfs = redis::ramfs_path(path);
  if (!in_ramfs) return ::unlink(path);
  std::lock_guard lock(redis::state().mutex);
  redis::State& s = redis::state();
  if (redis::forked_child()) {
    const auto it = s.child_files.find(*in_ramfs);
    if (it != s.child_files.end()) {
      ::close(it->second);
      s.child_files.erase(it);
    }
    redis::send_change(redis::Change::Unlink, *in_ramfs, "", -1);
    return 0;
  }
  return redis::vfs_unlink(*in_ramfs) < 0 ? -1 : 0;
}

int flexcap_redis_access(const char* path, int mode) {
  const std::optional<std::string> in_ramfs = redis::ramfs_path(path);
  if (!in_ramfs) return ::access(path, mode);
  std::lock_guard lock(redis::state().mutex);
  struct stat64 st;
  return redis::stat_ramfs(*in_ramfs, &st);
}

// Redis reaps its children here (checkChildrenDone): a child that exited with status 0
// has its files applied to ramfs first, so that Redis sees them when it hears the news.
pid_t flexcap_redis_waitpid(pid_t pid, int* status, int options) {
  int local = 0;
  const pid_t reaped = ::waitpid(pid, &local, options);
  if (reaped > 0) {
    std::lock_guard lock(redis::state().mutex);
    redis::apply_changes(reaped, WIFEXITED(local) && WEXITSTATUS(local) == 0);
  }
  if (status != nullptr) {
    flexcap::cc::check_range(status, sizeof(*status), FLEXCAP_HYBRID_STORE);
    *status = local;
  }
  return reaped;
}

}  // extern "C"
