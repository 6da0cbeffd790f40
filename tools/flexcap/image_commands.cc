#include "image_commands.hh"

#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <vector>

#include "flexcap/cap/capability.hh"
#include "flexcap/rt/config.hh"

namespace flexcap::tools {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

namespace {
bool pin_to(int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return sched_setaffinity(0, sizeof(one), &one) == 0;
}
}  // namespace

PinnedToOneCpu::PinnedToOneCpu() {
  cpu_set_t before;
  if (sched_getaffinity(0, sizeof(before), &before) != 0) return;
  const int cpu = sched_getcpu();
  if (cpu < 0 || !pin_to(cpu)) return;
  before_.assign(reinterpret_cast<unsigned char*>(&before), reinterpret_cast<unsigned char*>(&before) + sizeof(before));
  cpu_ = cpu;
}

PinnedToOneCpu::~PinnedToOneCpu() {
  if (cpu_ >= 0) sched_setaffinity(0, before_.size(), reinterpret_cast<const cpu_set_t*>(before_.data()));
}

PinnedToOneCpu::Lifted::Lifted(const PinnedToOneCpu& pin) : pin_(pin) {
  if (pin_.cpu_ >= 0) sched_setaffinity(0, pin_.before_.size(), reinterpret_cast<const cpu_set_t*>(pin_.before_.data()));
}

PinnedToOneCpu::Lifted::~Lifted() {
  if (pin_.cpu_ >= 0) pin_to(pin_.cpu_);
}

std::vector<std::string> output_lines(const std::string& command, int* exit_status) {
  std::vector<std::string> lines;
  *exit_status = -1;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return lines;
  std::string output;
  std::array<char, 4096> buffer{};
  std::size_t count = 0;
  while ((count = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), count);
  const int status = pclose(pipe);
  if (WIFEXITED(status)) *exit_status = WEXITSTATUS(status);
  std::size_t begin = 0;
  while (begin < output.size()) {
    const std::size_t end = std::min(output.find('\n', begin), output.size());
    if (end > begin) lines.push_back(output.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

namespace {

// Runs a build command. Its output goes to standard error (`flexcap build`: the user
// asked for a build), or to `log` (`flexcap run`: a script reading the image's own
// standard error must not find a compiler's in it); a failed quiet build then shows the
// end of its log.
int run_build_step(const std::string& command, const std::string& log, std::ostream& err) {
  const std::string redirect = log.empty() ? " 1>&2" : " >>" + shell_quote(log) + " 2>&1";
  const int status = std::system((command + redirect).c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  if (code != 0 && !log.empty()) {
    std::ifstream in(log);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    const std::size_t from = lines.size() > 40 ? lines.size() - 40 : 0;
    for (std::size_t i = from; i < lines.size(); ++i) err << lines[i] << '\n';
    err << "flexcap: the build's whole output is in " << log << '\n';
  }
  return code;
}

}  // namespace

std::string json_field(const std::string& line, const std::string& key) {
  const std::string tag = "\"" + key + "\": ";
  const auto at = line.find(tag);
  if (at == std::string::npos) return {};
  auto begin = at + tag.size();
  if (line[begin] == '"') {
    ++begin;
    return line.substr(begin, line.find('"', begin) - begin);
  }
  return line.substr(begin, line.find_first_of(",}", begin) - begin);
}

namespace {

// The images `flexcap build` made share one build tree (cap, rt and the tool are built
// once for all of them); this file lists them, one CMake line each:
//   flexcap_user_image([==[NAME]==] [==[APP]==] [==[/abs/config.yaml]==])
// and the tree re-configures when it changes.
constexpr const char* kRegistry = "images.cmake";

struct ImageEntry {
  std::string name;
  std::string application;
  std::string config;
  std::string abi;  // what its C is compiled for: plain, or hybrid where the driver is cheri
};

std::vector<ImageEntry> read_registry(const std::filesystem::path& file) {
  std::vector<ImageEntry> entries;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    for (std::size_t at = line.find("[==["); at != std::string::npos; at = line.find("[==[", at)) {
      const std::size_t end = line.find("]==]", at);
      if (end == std::string::npos) break;
      fields.push_back(line.substr(at + 4, end - at - 4));
      at = end + 4;
    }
    if (fields.size() == 3) entries.push_back({fields[0], fields[1], fields[2], ""});  // written before ABIs
    if (fields.size() == 4) entries.push_back({fields[0], fields[1], fields[2], fields[3]});
  }
  return entries;
}

// A CMake cache entry's value ("" when the cache or the entry is missing).
std::string cache_value(const std::filesystem::path& cache, const std::string& name) {
  std::ifstream in(cache);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t colon = line.find(':');
    const std::size_t equals = line.find('=');
    if (colon == name.size() && line.compare(0, colon, name) == 0 && equals != std::string::npos) {
      return line.substr(equals + 1);
    }
  }
  return "";
}

bool write_registry(const std::filesystem::path& file, const std::vector<ImageEntry>& entries) {
  const std::filesystem::path temporary = file.string() + ".new";
  {
    std::ofstream out(temporary);
    out << "# The images `flexcap build` built in this tree (written by flexcap; see cmake/FlexcapImage.cmake).\n";
    for (const ImageEntry& e : entries) {
      out << "flexcap_user_image([==[" << e.name << "]==] [==[" << e.application << "]==] [==[" << e.config << "]==]";
      if (!e.abi.empty()) out << " [==[" << e.abi << "]==]";
      out << ")\n";
    }
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(temporary, file, ec);
  return !ec;
}

// A file name made of the characters CMake allows in a target name.
std::string target_safe(std::string s) {
  for (char& c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '-' && c != '.' && c != '+') c = '_';
  }
  return s;
}

std::string short_hash(const std::string& s) {
  std::uint32_t h = 2166136261u;  // FNV-1a: stable across runs and machines
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  char text[9];
  std::snprintf(text, sizeof(text), "%08x", h);
  return text;
}

// Held while the images' tree is configured or built: ninja must not run twice at once
// in one tree (ctest -j, or two `flexcap run` side by side). Released when the file is
// closed, which exec does (close-on-exec).
class TreeLock {
 public:
  explicit TreeLock(const std::filesystem::path& file) : fd_(open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ >= 0) flock(fd_, LOCK_EX);
  }
  ~TreeLock() {
    if (fd_ >= 0) close(fd_);
  }
  TreeLock(const TreeLock&) = delete;
  TreeLock& operator=(const TreeLock&) = delete;

 private:
  int fd_;
};

}  // namespace

int build_image(const std::string& config_path, const std::string& app, BuildOutput output, std::string* binary,
                std::ostream& err) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path config = fs::weakly_canonical(fs::absolute(config_path, ec), ec);
  if (!fs::is_regular_file(config)) {
    err << "flexcap: cannot read configuration '" << config_path << "': check the path\n";
    return 1;
  }
  // Check the configuration here first: its errors read better than a failed build.
  // Library names are checked when the image is generated (its build knows them).
  auto parsed = rt::load_config(config.string(), {}, rt::LibraryCheck::Unchecked);
  std::vector<rt::ConfigError> errors = parsed ? rt::check_runnable(*parsed) : parsed.error();
  for (const rt::ConfigError& e : errors) err << e.describe() << '\n';
  const bool fatal = !errors.empty();
  if (fatal) {
    err << "flexcap: nothing was built from " << config_path << '\n';
    return 1;
  }
  const std::string application = app.empty() ? config.parent_path().filename().string() : app;
  const fs::path source = FLEXCAP_SOURCE_DIR;
  // FLEXCAP_IMAGES_DIR moves the images' build tree (the tests keep theirs in the build
  // tree).
  const char* images = std::getenv("FLEXCAP_IMAGES_DIR");
  const fs::path root = images != nullptr ? fs::path(images) : source / "build" / "images";
  fs::create_directories(root, ec);
  if (ec) {
    err << "flexcap: cannot create the images' build directory " << root.string() << ": " << ec.message() << '\n';
    return 1;
  }
  const TreeLock lock(root / ".lock");
  const std::string log = output == BuildOutput::Stream ? "" : (root / "last-build.log").string();
  if (!log.empty()) {
    fs::remove(log, ec);
    if (isatty(STDERR_FILENO) != 0) err << "flexcap: building the image if needed (log: " << log << ")\n";
  }

  // The image's name: APP-STEM, unless another configuration already has that name.
  // Images whose configuration is gone are forgotten (the tree would not configure).
  std::vector<ImageEntry> entries = read_registry(root / kRegistry);
  const bool pruned = std::erase_if(entries, [](const ImageEntry& e) { return !fs::is_regular_file(e.config); }) > 0;
  std::string name = target_safe(application + "-" + config.stem().string());
  const auto same_name = [&](const ImageEntry& e) { return e.name == name; };
  const auto it = std::find_if(entries.begin(), entries.end(), same_name);
  const std::string abi = parsed->backend() == rt::Backend::Cheri ? "hybrid" : "plain";
  bool registered = it != entries.end() && it->config == config.string() && it->application == application;
  if (it != entries.end() && !registered) {
    name.append("-").append(short_hash(application + "\n" + config.string()));
    registered = std::any_of(entries.begin(), entries.end(), same_name);
  }
  bool abi_changed = false;  // the same image, its driver changed to or from cheri: reconfigure
  if (registered) {
    const auto entry = std::find_if(entries.begin(), entries.end(), same_name);
    abi_changed = entry->abi != abi;
    entry->abi = abi;
  }
  const bool configured = fs::exists(root / "build.ninja");
  // The tree takes this flexcap, its plugin and the prebuilt SQLite and Redis from the
  // build tree this flexcap was built in (cmake/FlexcapHostTree.cmake); another flexcap
  // (another preset's) reconfigures it.
  const std::string host = FLEXCAP_BINARY_DIR;
  const bool host_changed = configured && cache_value(root / "CMakeCache.txt", "FLEXCAP_HOST_TREE") != host;
  if (!registered || !configured || pruned || abi_changed || host_changed) {
    std::vector<ImageEntry> updated = entries;
    if (!registered) updated.push_back({name, application, config.string(), abi});
    if (!write_registry(root / kRegistry, updated)) {
      err << "flexcap: cannot write " << (root / kRegistry).string() << '\n';
      return 1;
    }
    const std::string configure = "cmake -S " + shell_quote(source.string()) + " -B " + shell_quote(root.string()) +
                                  " -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLEXCAP_TESTS=OFF -DFLEXCAP_BENCHMARKS=OFF" +
                                  " -DFLEXCAP_USER_IMAGES=" + shell_quote((root / kRegistry).string()) +
                                  " -DFLEXCAP_HOST_TREE=" + shell_quote(host);
    if (run_build_step(configure, log, err) != 0) {
      write_registry(root / kRegistry, entries);  // forget the image that broke it: the next run starts clean
      err << "flexcap: could not configure the build of " << config_path << " (application '" << application << "') in "
          << root.string() << " (see above)\n";
      return 1;
    }
  }
  const std::string build = "cmake --build " + shell_quote(root.string()) + " --target " + shell_quote("image." + name);
  if (run_build_step(build, log, err) != 0) {
    err << "flexcap: the image for " << config_path << " did not build (see above)\n";
    return 1;
  }
  *binary = (root / "bin" / name).string();
  return 0;
}

int run_image(const std::string& config_path, const std::string& app, const std::vector<std::string>& args,
              std::ostream& err) {
  std::string binary;
  if (const int status = build_image(config_path, app, BuildOutput::Quiet, &binary, err); status != 0) return status;
  std::vector<char*> argv;
  argv.push_back(binary.data());
  std::vector<std::string> copies = args;
  for (std::string& a : copies) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  execv(binary.c_str(), argv.data());
  err << "flexcap: cannot run " << binary << ": " << std::strerror(errno) << '\n';
  return 1;
}

int audit_image(const std::string& config_path, const std::string& app, std::ostream& err) {
  setenv("FLEXCAP_AUDIT", "1", 1);
  return run_image(config_path, app, {}, err);
}

int attack(bool json, std::ostream& out, std::ostream& err) {
  namespace fs = std::filesystem;
  std::vector<std::string> lines;
  bool mismatch = false;
  // Runs one image's attacks: one JSON line per verdict; a failed --check is a mismatch.
  const auto collect = [&](const std::string& command) {
    int status = 0;
    for (std::string& line : output_lines(command, &status)) lines.push_back(std::move(line));
    if (status != 0) mismatch = true;
  };
  for (const char* driver : {"fcalls", "mprotect", "process", "cheri", "intel_pku"}) {
    const fs::path image = fs::path(FLEXCAP_SAFETY_DIR) / (std::string("attacks_") + driver);
    if (!fs::exists(image)) {
      if (std::string(driver) == "intel_pku") {
        const rt::BackendSupport pku = rt::backend_support(rt::Backend::IntelPku);
        lines.push_back(
            "{\"name\": \"*\", \"backend\": \"intel-pku\", \"outcome\": \"not-applicable\", "
            "\"detail\": \"" +
            (pku.available ? std::string("image not built") : pku.reason) + "\"}");
      }
      continue;
    }
    collect(shell_quote(image.string()) + " --check");
    // The ported-code demonstration (apps/sodium): an injected off-by-one write in a
    // function ported to capabilities, and the same bug in its raw-pointer version.
    const fs::path sodium = fs::path(FLEXCAP_SODIUM_IMAGES_DIR) / (std::string("sodium_") + driver);
    if (fs::exists(sodium)) collect(shell_quote(sodium.string()) + " --attack --check");
    // SQLite's compartment reading the file system's memory through raw pointers
    // (apps/sqlite/service: its test-only hook, in C compiled as SQLite is).
    const fs::path sqlite = fs::path(FLEXCAP_SQLITE_IMAGES_DIR) / (std::string("sqlite_crash_") + driver);
    if (fs::exists(sqlite)) collect(shell_quote(sqlite.string()) + " --attack --check");
  }
  if (json) {
    out << "{\"attacks\": [\n";
    for (std::size_t i = 0; i < lines.size(); ++i) out << "  " << lines[i] << (i + 1 < lines.size() ? ",\n" : "\n");
    out << "]}\n";
  } else {
    // A compact table: one row per attack, one column per backend.
    const auto field = json_field;
    std::vector<std::string> names, backends;
    for (const std::string& l : lines) {
      if (field(l, "name") != "*" && std::find(names.begin(), names.end(), field(l, "name")) == names.end()) {
        names.push_back(field(l, "name"));
      }
      if (std::find(backends.begin(), backends.end(), field(l, "backend")) == backends.end()) {
        backends.push_back(field(l, "backend"));
      }
    }
    out << std::string(32, ' ');
    for (const std::string& b : backends) out << b << std::string(b.size() < 15 ? 15 - b.size() : 1, ' ');
    out << '\n';
    for (const std::string& n : names) {
      out << n << std::string(n.size() < 32 ? 32 - n.size() : 1, ' ');
      for (const std::string& b : backends) {
        std::string verdict = "not-applicable";
        for (const std::string& l : lines) {
          if (field(l, "backend") == b && (field(l, "name") == n || field(l, "name") == "*"))
            verdict = field(l, "outcome");
        }
        out << verdict << std::string(verdict.size() < 15 ? 15 - verdict.size() : 1, ' ');
      }
      out << '\n';
    }
    out << "\n(the reasons: flexcap attack --json)\n";
  }
  if (mismatch) err << "flexcap attack: some verdicts differ from the expected ones (see the UNEXPECTED lines)\n";
  return mismatch ? 1 : 0;
}

}  // namespace flexcap::tools
