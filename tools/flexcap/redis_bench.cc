// `flexcap bench redis`: Debian's redis-benchmark, with the command line Unikraft and
// FlexOS used (-q --csv -n 100000 -c 30 -k 1 -P 16 -t get,set -d 3), against Debian's
// redis-server and each Redis image of this build tree (apps/redis), started the same
// way. The server runs on every CPU but the last, the client on the last one. Rounds
// interleave the servers; the median is reported, with ratios to `none` from the same
// invocation.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "image_commands.hh"

namespace flexcap::tools {

int free_loopback_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof(a);
  int port = 0;
  if (s >= 0 && ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &n) == 0) {
    port = ntohs(a.sin_port);
  }
  if (s >= 0) ::close(s);
  return port;
}

std::string redis_request(int port, const std::string& command) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return "";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  std::string reply;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::write(s, command.data(), command.size()) == static_cast<ssize_t>(command.size())) {
    char buffer[256];
    const ssize_t n = ::read(s, buffer, sizeof(buffer));
    if (n > 0) reply.assign(buffer, static_cast<std::size_t>(n));
  }
  ::close(s);
  return reply.substr(0, reply.find('\r'));
}

RedisServer start_redis(const std::string& launch, const std::string& server, const std::string& options,
                        const std::filesystem::path& dir) {
  RedisServer r;
  r.port = free_loopback_port();
  const std::string command = "cd " + shell_quote(dir.string()) + " && " + (launch.empty() ? "exec" : launch) + " " +
                              shell_quote(server) + " --port " + std::to_string(r.port) +
                              " --bind 127.0.0.1 --save '' " + options + " --logfile " +
                              shell_quote((dir / "server.log").string()) + " 2>" +
                              shell_quote((dir / "server.err").string());
  r.pid = fork();
  if (r.pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    if (redis_request(r.port, "PING\r\n") == "+PONG") return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(r.pid, SIGKILL);
  waitpid(r.pid, nullptr, 0);
  r.pid = -1;
  return r;
}

bool stop_redis(RedisServer& server) {
  if (server.pid <= 0) return true;
  (void)redis_request(server.port, "SHUTDOWN NOSAVE\r\n");
  bool exited = false;
  for (int i = 0; i < 100 && !exited; ++i) {
    exited = waitpid(server.pid, nullptr, WNOHANG) == server.pid;
    if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!exited) {
    ::kill(server.pid, SIGKILL);
    waitpid(server.pid, nullptr, 0);
  }
  server.pid = -1;
  return exited;
}

namespace {

namespace fs = std::filesystem;

constexpr const char* kBenchmarkArguments = "-q --csv -n 100000 -c 30 -k 1 -P 16 -t get,set -d 3";
constexpr double kRequests = 2 * 100000.0;  // GET and SET, 100,000 each

struct Run {
  std::string backend = "-";
  int compartments = 1;
  double get_rps = 0;
  double set_rps = 0;
  unsigned long long crossings = 0;
};

fs::path image_path(const std::string& name) { return fs::path(FLEXCAP_REDIS_IMAGES_DIR) / ("redis_" + name); }

// `server` on `port`, on every CPU but the last, its standard error in `errors`: runs
// redis-benchmark against it, then shuts it down. The image reports its backend,
// compartments and gate crossings at exit (FLEXCAP_GATE_REPORT).
bool measure(const std::string& server, const std::string& cpus, const std::string& client_cpu, const fs::path& dir,
             Run* run, std::ostream& err) {
  const fs::path errors = dir / "server.err";
  RedisServer r = start_redis("FLEXCAP_GATE_REPORT=1 exec taskset -c " + cpus, server, "--appendonly no", dir);
  bool ok = r.running();
  if (ok) {
    int status = 0;
    const std::vector<std::string> lines = output_lines("taskset -c " + client_cpu + " redis-benchmark -p " +
                                                            std::to_string(r.port) + " " + kBenchmarkArguments,
                                                        &status);
    for (const std::string& line : lines) {
      // "SET","709219.88",...
      const std::size_t comma = line.find("\",\"");
      if (comma == std::string::npos) continue;
      const double rps = std::atof(line.c_str() + comma + 3);
      if (line.rfind("\"GET\"", 0) == 0) run->get_rps = rps;
      if (line.rfind("\"SET\"", 0) == 0) run->set_rps = rps;
    }
    ok = status == 0 && run->get_rps > 0 && run->set_rps > 0;
    if (!ok) err << "flexcap bench redis: redis-benchmark against " << server << " failed (status " << status << ")\n";
    if (!stop_redis(r)) err << "flexcap bench redis: " << server << " did not exit after SHUTDOWN: killed\n";
  } else {
    err << "flexcap bench redis: " << server << " did not answer PING (see " << errors.string() << ")\n";
  }
  std::ifstream report(errors);
  for (std::string line; std::getline(report, line);) {
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      const std::size_t eq = word.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = word.substr(0, eq), value = word.substr(eq + 1);
      if (key == "backend") run->backend = value;
      if (key == "compartments") run->compartments = std::atoi(value.c_str());
      if (key == "gate_crossings") run->crossings = std::strtoull(value.c_str(), nullptr, 10);
    }
  }
  return ok;
}

}  // namespace

int bench_redis(bool json, int rounds, std::ostream& out, std::ostream& err) {
  for (const char* tool : {"redis-server", "redis-benchmark", "taskset"}) {
    int status = 0;
    (void)output_lines(std::string("command -v ") + tool + " >/dev/null", &status);
    if (status != 0) {
      err << "flexcap bench redis: " << tool << " is needed. Fix: apt-get install "
          << (std::string(tool) == "taskset" ? "util-linux" : "redis-server redis-tools") << "\n";
      return 1;
    }
  }
  const std::vector<std::string> names = {"none",     "fcalls",     "mprotect",  "process",   "cheri",
                                          "intel_pku", "fcalls_3", "mprotect_3", "process_3", "cheri_3",
                                          "intel_pku_3"};
  std::vector<std::pair<std::string, std::string>> servers = {{"debian", "redis-server"}};
  for (const std::string& n : names) {
    if (fs::exists(image_path(n))) servers.emplace_back(n, image_path(n).string());
  }
  if (servers.size() < 2 || servers[1].first != "none") {
    err << "flexcap bench redis: the redis images are not built (cmake --build --preset release --target "
           "redis_images)\n";
    return 1;
  }
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  const std::string client_cpu = std::to_string(cpus > 1 ? cpus - 1 : 0);
  const std::string server_cpus = cpus > 2 ? "0-" + std::to_string(cpus - 2) : "0";
  std::error_code ec;
  const fs::path dir = fs::temp_directory_path() / ("flexcap-bench-redis-" + std::to_string(getpid()));
  fs::create_directories(dir, ec);

  std::map<std::string, std::vector<Run>> runs;
  for (int round = 0; round < rounds; ++round) {
    for (const auto& [name, server] : servers) {
      Run run;
      if (!measure(server, server_cpus, client_cpu, dir, &run, err)) {
        fs::remove_all(dir, ec);
        return 1;
      }
      runs[name].push_back(run);
    }
  }
  fs::remove_all(dir, ec);

  struct Result {
    std::string name;
    Run run;  // the last round's backend and crossings; the median rates
  };
  std::vector<Result> results;
  for (const auto& [name, server] : servers) {
    std::vector<double> get, set;
    unsigned long long crossings = 0;
    for (const Run& r : runs[name]) {
      get.push_back(r.get_rps);
      set.push_back(r.set_rps);
      crossings = std::max(crossings, r.crossings);
    }
    Run r = runs[name].back();
    r.get_rps = median(get);
    r.set_rps = median(set);
    r.crossings = crossings;
    results.push_back({name, r});
  }
  const Run& none = results[1].run;

  if (json) {
    out << "{\"results\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const Run& r = results[i].run;
      out << "  {\"config\": \"" << results[i].name << "\", \"backend\": \"" << r.backend
          << "\", \"compartments\": " << r.compartments << ", \"get_rps\": " << r.get_rps
          << ", \"set_rps\": " << r.set_rps << ", \"ratio_get\": " << r.get_rps / none.get_rps
          << ", \"ratio_set\": " << r.set_rps / none.set_rps
          << ", \"crossings_per_request\": " << static_cast<double>(r.crossings) / kRequests << "}"
          << (i + 1 < results.size() ? ",\n" : "\n");
    }
    out << "]}\n";
    return 0;
  }
  const std::map<std::string, std::string> targets = {
      {"debian", "none >= 0.90x this"}, {"cheri", ">= 0.85x"}, {"process", ">= 0.50x"}, {"mprotect", "measured"}};
  out << "redis-benchmark " << kBenchmarkArguments << "\n"
      << "server on CPUs " << server_cpus << ", client on CPU " << client_cpu << "; median of " << rounds
      << " interleaved rounds; ratios to `none` (one compartment, no isolation).\n"
      << "debian: Debian's redis-server (jemalloc); the images: the same Redis from Debian's source, MALLOC=libc.\n\n";
  char row[200];
  std::snprintf(row, sizeof(row), "%-12s %-9s %5s %12s %12s %8s %8s %10s  %s\n", "config", "backend", "comps",
                "GET/s", "SET/s", "GET", "SET", "cross/req", "target");
  out << row;
  for (const Result& result : results) {
    const Run& r = result.run;
    const auto target = targets.find(result.name);
    std::snprintf(row, sizeof(row), "%-12s %-9s %5d %12.0f %12.0f %7.2fx %7.2fx %10.2f  %s\n", result.name.c_str(),
                  r.backend.c_str(), r.compartments, r.get_rps, r.set_rps, r.get_rps / none.get_rps,
                  r.set_rps / none.set_rps, static_cast<double>(r.crossings) / kRequests,
                  target == targets.end() ? "" : target->second.c_str());
    out << row;
  }
  out << "\nPublished: FlexOS, Redis with lwIP isolated by MPK: 0.89x GET, 0.92x SET.\n";
  return 0;
}

}  // namespace flexcap::tools
