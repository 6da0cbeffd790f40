// `flexcap build`, `run`, `audit`, `attack`, the benchmarks and the checks: the commands
// that build, run and measure images (image_header.hh: what the build runs itself).
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace flexcap::tools {

// `s` quoted for the shell, as one word.
std::string shell_quote(const std::string& s);

// Runs `command` through the shell and returns the lines it prints on standard output
// (empty lines left out); *exit_status is its exit status, or -1 if it did not run to
// an exit (could not start, or was killed).
std::vector<std::string> output_lines(const std::string& command, int* exit_status);

// While it lives, this process and what it starts run on one CPU only, the one it runs
// on now: a benchmark whose rounds land on different CPUs of a VM measures the CPUs
// (on the project's 2-vCPU VM one ran SQLite 1.5x slower than the other for hours). For
// the benchmarks whose variants each run in one process; not for the process backend,
// whose compartments spin on other CPUs.
class PinnedToOneCpu {
 public:
  PinnedToOneCpu();
  ~PinnedToOneCpu();
  PinnedToOneCpu(const PinnedToOneCpu&) = delete;
  PinnedToOneCpu& operator=(const PinnedToOneCpu&) = delete;
  int cpu() const { return cpu_; }  // -1 where pinning failed (the runs then float)
  // While it lives, the pin is lifted (a process-backend run among pinned ones).
  class Lifted {
   public:
    explicit Lifted(const PinnedToOneCpu& pin);
    ~Lifted();
    Lifted(const Lifted&) = delete;
    Lifted& operator=(const Lifted&) = delete;

   private:
    const PinnedToOneCpu& pin_;
  };

 private:
  int cpu_ = -1;
  std::vector<unsigned char> before_;  // the affinity mask to put back
};

// The value of "key" in one line of JSON the images print (a string or a number, as
// written): enough for their flat, one-object lines, not a JSON parser.
std::string json_field(const std::string& line, const std::string& key);

// `flexcap build CONFIG [--app NAME]`: builds the image of application NAME (default:
// the name of the configuration's folder, as in examples/NAME/x.yaml) for CONFIG, as
// build/images/bin/NAME-STEM. All such images share one build tree (build/images, or
// $FLEXCAP_IMAGES_DIR), which lists them in images.cmake. Sets *binary on success.
// The build's own output goes to standard error (Stream), or to last-build.log in that
// tree (Quiet: shown only if the build fails).
enum class BuildOutput { Stream, Quiet };
int build_image(const std::string& config_path, const std::string& app, BuildOutput output, std::string* binary,
                std::ostream& err);

// `flexcap run CONFIG [--app NAME] [-- ARGS]`: builds if needed (quietly), then runs
// the image: what it prints is the image's own output.
int run_image(const std::string& config_path, const std::string& app, const std::vector<std::string>& args,
              std::ostream& err);

// `flexcap audit CONFIG [--app NAME]`: builds if needed and prints the image's audit
// report (JSON) on standard output.
int audit_image(const std::string& config_path, const std::string& app, std::ostream& err);

// `flexcap attack [--json]`: runs the attack suite's image for every backend built in
// this build tree and prints the verdicts.
int attack(bool json, std::ostream& out, std::ostream& err);

// `flexcap bench sqlite [--json] [--rounds N]`: the SQLite workload (apps/sqlite --bench)
// on every SQLite image of this build tree, each beside `none`, medians of N
// interleaved rounds.
// flexcap bench sqlite [--workload insert|speedtest1] [--size N]: `size` is speedtest1's.
int bench_sqlite(bool json, int rounds, const std::string& workload, int size, std::ostream& out, std::ostream& err);

// Runs `command` (speedtest1) and reads the total seconds it prints; every other line of
// its output goes to `line`, when given. False if it failed.
bool speedtest1_seconds(const std::string& command, double* seconds,
                        const std::function<void(const std::string&)>& line);
// flexcap bench hybrid: speedtest1 plain vs hybrid, in one compartment (tools/flexcap/hybrid_bench.cc).
int bench_hybrid(bool json, int rounds, int size, std::ostream& out, std::ostream& err);
int bench_purecap(bool json, int rounds, std::ostream& out, std::ostream& err);
// flexcap bench sodium: the libsodium images of apps/sodium/image (tools/flexcap/sodium_bench.cc).
int bench_sodium(bool json, int rounds, std::ostream& out, std::ostream& err);
// `flexcap bench revocation`: sweep throughput and pauses, the churn per policy, memory.
int bench_revocation(bool json, int rounds, bool quick, std::ostream& out, std::ostream& err);
// `flexcap bench redis`: redis-benchmark against Debian's redis-server and every Redis
// image of this build tree (tools/flexcap/redis_bench.cc).
int bench_redis(bool json, int rounds, std::ostream& out, std::ostream& err);
// `flexcap check redis`: Redis's own test suite against the image redis_CONFIG and
// against Debian's redis-server; 0 when no test's outcome differs
// (tools/flexcap/redis_check.cc).
struct RedisCheckOptions {
  std::string config = "none";
  bool json = false;
  std::vector<std::string> units;  // runtest's --single units (empty: all)
  std::string reference_cache;     // a folder where the reference's outcomes are kept and reused ("": none)
  int test_timeout = 600;          // runtest's --timeout: seconds a test may go without progress
};
int check_redis(const RedisCheckOptions& options, std::ostream& out, std::ostream& err);
// A loopback TCP port free now; one request to a Redis server on it, on a fresh
// connection, and the first line of its reply ("" if none).
int free_loopback_port();
std::string redis_request(int port, const std::string& command);

// A Redis server (Debian's or an image) that `flexcap bench redis` and `flexcap check
// redis` start: `launch` (what precedes the server on the shell's command line, `exec`
// included, such as "FLEXCAP_GATE_REPORT=1 exec taskset -c 0"; empty: "exec") runs
// `server` in `dir` on a free loopback port with `--bind 127.0.0.1 --save ''`, `options`,
// its log in dir/server.log and its standard error in dir/server.err. running() once it
// answers PING.
struct RedisServer {
  pid_t pid = -1;
  int port = 0;
  bool running() const { return pid > 0 && port > 0; }
};
RedisServer start_redis(const std::string& launch, const std::string& server, const std::string& options,
                        const std::filesystem::path& dir);
// SHUTDOWN NOSAVE, then waits for it to exit (killed after 5 s). false if it was killed.
bool stop_redis(RedisServer& server);

// The median of a run's rounds (the lower middle one for an even count), by `less`.
template <class T, class Less = std::less<T>>
T median(std::vector<T> values, Less less = {}) {
  std::sort(values.begin(), values.end(), less);
  return values[(values.size() - 1) / 2];
}

}  // namespace flexcap::tools
