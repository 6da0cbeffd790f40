// `flexcap check redis`: Redis's own test suite (tests/ of the same Debian source the
// images are built from), in external mode (`./runtest --host 127.0.0.1 --port P`),
// against a Redis image and against Debian's redis-server, started the same way; then
// the tests whose outcome differs. Excluded only by tag: -slow, -needs:repl (an external
// server has no replica to serve). The servers run with the debug command enabled, so
// that the tests tagged needs:debug run too.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <ostream>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "image_commands.hh"

namespace flexcap::tools {
namespace {

namespace fs = std::filesystem;

// What the suite printed for one server: each test's outcome ("ok", "err", or
// "exception" for a test that stopped its unit), by "unit: name" (a repeated name gets
// " #2", " #3" ...), and the units that ran.
struct SuiteRun {
  std::map<std::string, std::string> outcomes;
  std::vector<std::string> order;
  bool started = false;
  std::string failure;  // why the run itself failed, if it did
};

std::string strip_colors(const std::string& s) { return std::regex_replace(s, std::regex("\x1b\\[[0-9;]*m"), ""); }

// Parses runtest's output: "[ok]: NAME (N ms)", "[err]: NAME in FILE", "[exception]: ...".
void parse_suite(const fs::path& log, SuiteRun* run) {
  std::ifstream in(log);
  std::map<std::string, int> seen;
  std::string unit = "?";
  const auto record = [&](const std::string& name, const std::string& outcome) {
    std::string key = unit + ": " + name;
    if (const int n = ++seen[key]; n > 1) key += " #" + std::to_string(n);
    if (!run->outcomes.count(key)) run->order.push_back(key);
    run->outcomes[key] = outcome;
  };
  for (std::string raw; std::getline(in, raw);) {
    const std::string line = strip_colors(raw);
    if (line.rfind("Testing ", 0) == 0 && line.find(' ', 8) == std::string::npos) {
      unit = line.substr(8);
      run->started = true;
    } else if (line.rfind("[ok]: ", 0) == 0) {
      const std::size_t timing = line.rfind(" (");
      record(line.substr(6, timing == std::string::npos ? std::string::npos : timing - 6), "ok");
    } else if (line.rfind("[err]: ", 0) == 0) {
      const std::size_t in_file = line.rfind(" in ");
      record(line.substr(7, in_file == std::string::npos ? std::string::npos : in_file - 7), "err");
    } else if (line.rfind("[exception]: ", 0) == 0) {
      record("(the unit stopped: " + line.substr(13) + ")", "exception");
    }
  }
}

// Starts `server` on a free port in `dir` with the options both servers get, runs the
// units against it, and stops it.
SuiteRun run_suite(const std::string& server, const fs::path& tree, const std::vector<std::string>& units,
                   int test_timeout, const fs::path& dir, std::ostream& err) {
  SuiteRun run;
  fs::create_directories(dir);
  RedisServer r = start_redis("", server, "--enable-debug-command yes", dir);
  if (!r.running()) {
    run.failure = server + " did not answer PING (see " + (dir / "server.err").string() + ")";
    return run;
  }
  // The suite's own ports (its test clients' below --baseport, servers it would start
  // above it, each also 10,000 higher for a cluster bus) from one of eight ranges under
  // the ephemeral ports, so that two checks at once do not race for the same one. In
  // external mode the suite starts no server: a few ports per test client are enough.
  const int baseport = 21111 + static_cast<int>(getpid() % 8) * 200;
  std::string command = "cd " + shell_quote(tree.string()) + " && ./runtest --host 127.0.0.1 --port " +
                        std::to_string(r.port) + " --baseport " + std::to_string(baseport) +
                        " --portcount 160 --tags -slow --tags -needs:repl --timeout " + std::to_string(test_timeout);
  for (const std::string& unit : units) command += " --single " + shell_quote(unit);
  command += " >" + shell_quote((dir / "runtest.log").string()) + " 2>&1";
  int status = 0;
  (void)output_lines(command, &status);
  parse_suite(dir / "runtest.log", &run);
  if (!run.started) run.failure = "runtest did not start (see " + (dir / "runtest.log").string() + ")";
  if (!stop_redis(r)) err << "flexcap check redis: " << server << " did not exit after SHUTDOWN: killed\n";
  return run;
}

// A private copy of the suite (runtest writes into tests/tmp), with Debian's clients
// where the suite runs src/redis-cli and src/redis-benchmark.
bool prepare_tree(const fs::path& source, const fs::path& tree, std::ostream& err) {
  std::error_code ec;
  fs::create_directories(tree / "src", ec);
  fs::copy(source / "tests", tree / "tests", fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::copy_file(source / "runtest", tree / "runtest", fs::copy_options::overwrite_existing, ec);
  if (ec) {
    err << "flexcap check redis: cannot copy Redis's tests from " << source << ": " << ec.message() << "\n";
    return false;
  }
  for (const char* client : {"redis-cli", "redis-benchmark", "redis-server", "redis-check-aof", "redis-check-rdb"}) {
    fs::create_symlink(fs::path("/usr/bin") / client, tree / "src" / client, ec);
  }
  return true;
}

// The tests the suite itself runs only when the server allocates with jemalloc
// (`if {[string match {*jemalloc*} [s mem_allocator]] ...} { ... test {NAME} ... }`):
// Debian's redis-server does, the images' Redis (MALLOC=libc) does not, so those tests
// run on one side only and cannot be compared.
std::set<std::string> jemalloc_only_tests(const fs::path& tests) {
  std::set<std::string> names;
  const std::regex test_name(R"re(test \{([^{}]*)\}|test "([^"]*)")re");
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(tests, ec)) {
    if (entry.path().extension() != ".tcl") continue;
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (std::size_t at = text.find("[s mem_allocator]"); at != std::string::npos;
         at = text.find("[s mem_allocator]", at + 1)) {
      const std::size_t line = text.rfind('\n', at) + 1;
      const std::size_t condition = text.find("if {", line);
      if (condition == std::string::npos || condition > at) continue;
      if (text.substr(line, at - line).find("jemalloc") == std::string::npos) continue;
      // The condition's braces, then the body's.
      std::size_t i = condition + 3;
      for (int block = 0; block < 2 && i < text.size(); ++block) {
        while (i < text.size() && text[i] != '{') ++i;
        const std::size_t begin = i;
        int depth = 0;
        for (; i < text.size(); ++i) {
          if (text[i] == '\\') {
            ++i;
          } else if (text[i] == '{') {
            ++depth;
          } else if (text[i] == '}' && --depth == 0) {
            break;
          }
        }
        if (block == 1) {
          const std::string body = text.substr(begin, i - begin);
          for (std::sregex_iterator m(body.begin(), body.end(), test_name), end; m != end; ++m) {
            names.insert((*m)[1].matched ? (*m)[1].str() : (*m)[2].str());
          }
        }
        ++i;
      }
    }
  }
  return names;
}

// The reference run kept in `cache` (runtest.log, and `key`: redis-server's version and
// the units), if it was made by this redis-server for these units; else nothing.
bool cached_reference(const fs::path& cache, const std::string& key, SuiteRun* run) {
  std::ifstream in(cache / "key");
  const std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (kept != key || !fs::exists(cache / "runtest.log")) return false;
  parse_suite(cache / "runtest.log", run);
  return run->started;
}

}  // namespace

int check_redis(const RedisCheckOptions& options, std::ostream& out, std::ostream& err) {
  const bool json = options.json;
  const std::string& reference_cache = options.reference_cache;
  // The configuration's file name (fcalls-3) or its image's (fcalls_3).
  std::string config = options.config;
  std::replace(config.begin(), config.end(), '-', '_');
  const fs::path source = fs::path(FLEXCAP_REDIS_SOURCE_DIR) / "tree";
  const fs::path image = fs::path(FLEXCAP_REDIS_IMAGES_DIR) / ("redis_" + config);
  if (!fs::exists(image)) {
    err << "flexcap check redis: no image redis_" << config
        << " in this build tree. Fix: cmake --build --preset release --target redis_images (configurations: "
           "examples/redis/)\n";
    return 2;
  }
  if (!fs::exists(source / "runtest")) {
    err << "flexcap check redis: Redis's source is not unpacked in " << source << ". Fix: build redis_images\n";
    return 2;
  }
  int status = 0;
  (void)output_lines("command -v redis-server >/dev/null && command -v tclsh >/dev/null", &status);
  if (status != 0) {
    err << "flexcap check redis: Debian's redis-server and tclsh are needed. Fix: apt-get install redis-server tcl\n";
    return 2;
  }
  std::error_code ec;
  const fs::path work = fs::temp_directory_path() / ("flexcap-check-redis-" + std::to_string(getpid()));
  fs::remove_all(work, ec);
  if (!prepare_tree(source, work / "suite", err)) return 2;
  const std::vector<std::string>& units = options.units;
  std::string unit_list;
  for (const std::string& u : units) unit_list += (unit_list.empty() ? "" : ",") + u;
  if (unit_list.empty()) unit_list = "all";
  // Debian's redis-server gives the same outcomes for every image: a script checking
  // every image runs it once (--reference-cache) and keeps it, keyed by its version and
  // the units, so a new redis-server or another list of units runs it again.
  SuiteRun reference;
  const std::vector<std::string> version = output_lines("/usr/bin/redis-server --version", &status);
  const std::string key = (version.empty() ? std::string("?") : version.front()) + "\n" + unit_list + "\n";
  if (!reference_cache.empty() && cached_reference(reference_cache, key, &reference)) {
    err << "flexcap check redis: Debian's redis-server's outcomes reused from " << reference_cache
        << " (remove it to run the reference again)\n";
  } else {
    reference =
        run_suite("/usr/bin/redis-server", work / "suite", units, options.test_timeout, work / "reference", err);
    if (!reference_cache.empty() && reference.failure.empty()) {
      fs::create_directories(reference_cache, ec);
      fs::copy_file(work / "reference" / "runtest.log", fs::path(reference_cache) / "runtest.log",
                    fs::copy_options::overwrite_existing, ec);
      std::ofstream(fs::path(reference_cache) / "key") << key;
      if (ec)
        err << "flexcap check redis: cannot keep the reference in " << reference_cache << ": " << ec.message() << "\n";
    }
  }
  const SuiteRun flexcap =
      run_suite(image.string(), work / "suite", units, options.test_timeout, work / "flexcap", err);
  for (const SuiteRun* run : {&std::as_const(reference), &flexcap}) {
    if (!run->failure.empty()) {
      err << "flexcap check redis: " << run->failure << "\n";
      return 2;
    }
  }

  struct Difference {
    std::string test, reference, flexcap;
  };
  std::vector<Difference> differences;
  std::vector<std::string> not_comparable;  // run by the reference only, as the suite decides
  const std::set<std::string> jemalloc_only = jemalloc_only_tests(work / "suite" / "tests");
  std::vector<std::string> order = reference.order;
  for (const std::string& t : flexcap.order) {
    if (!reference.outcomes.count(t)) order.push_back(t);
  }
  const auto outcome = [](const SuiteRun& r, const std::string& t) {
    const auto it = r.outcomes.find(t);
    return it == r.outcomes.end() ? std::string("missing") : it->second;
  };
  int passed = 0, failed = 0;
  for (const std::string& t : order) {
    const std::string a = outcome(reference, t), b = outcome(flexcap, t);
    if (b == "ok") ++passed;
    if (b == "err" || b == "exception") ++failed;
    const std::string name = t.substr(t.find(": ") + 2);
    if (a == "ok" && b == "missing" && jemalloc_only.count(name) != 0) {
      not_comparable.push_back(t);
    } else if (a != b) {
      differences.push_back({t, a, b});
    }
  }
  const int tests_run = passed + failed;

  if (json) {
    const auto quoted = [](const std::string& s) {
      std::string q = "\"";
      for (const char c : s) {
        if (c == '"' || c == '\\') q += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        q += c;
      }
      return q + "\"";
    };
    out << "{\"config\": " << quoted(config) << ", \"units\": " << quoted(unit_list) << ", \"tests_run\": " << tests_run
        << ", \"passed\": " << passed << ", \"failed\": " << failed << ", \"differences\": [";
    for (std::size_t i = 0; i < differences.size(); ++i) {
      out << (i ? ", " : "") << "{\"test\": " << quoted(differences[i].test)
          << ", \"reference\": " << quoted(differences[i].reference)
          << ", \"flexcap\": " << quoted(differences[i].flexcap) << "}";
    }
    out << "], \"not_comparable\": [";
    for (std::size_t i = 0; i < not_comparable.size(); ++i) out << (i ? ", " : "") << quoted(not_comparable[i]);
    out << "]}\n";
  } else {
    out << "Redis's test suite (units: " << unit_list << "; tags -slow -needs:repl), external mode.\n"
        << "redis_" << config << ": " << tests_run << " tests, " << passed << " passed, " << failed << " failed.\n"
        << "Debian's redis-server: " << reference.outcomes.size() << " tests.\n";
    for (const std::string& t : not_comparable) {
      out << "Not comparable: " << t << " (the suite runs it only with jemalloc, Debian's allocator; the image's "
          << "Redis is MALLOC=libc)\n";
    }
    if (differences.empty()) {
      out << "No difference.\n";
    } else {
      out << differences.size() << " differences (test: reference -> flexcap):\n";
      for (const Difference& d : differences)
        out << "  " << d.test << ": " << d.reference << " -> " << d.flexcap << "\n";
      out << "Logs: " << work << "\n";
    }
  }
  if (differences.empty()) fs::remove_all(work, ec);
  return differences.empty() ? 0 : 1;
}

}  // namespace flexcap::tools
