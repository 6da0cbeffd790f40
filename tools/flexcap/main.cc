// flexcap — the FlexCap command line.
//
//   flexcap demo                      a tour of the capability model
//   flexcap cap eval < vectors        evaluate conformance-vector lines
//   flexcap cap check FILE            compare a vector file with the model
//   flexcap cap decode PESBT CURSOR   print one capability's fields
//   flexcap image-header CONFIG ...   generate an image's header (used by the build)
//   flexcap bench gates [--json]      what a gate costs on each backend (bench/gates)
//   flexcap bench sqlite [--json] [--workload insert|speedtest1]
//                                     SQLite on every configuration (5,000 INSERTs, or speedtest1)
//   flexcap bench sodium [--json]     libsodium functions: raw, ported, sandboxed
//   flexcap bench hybrid [--json]     speedtest1, SQLite compiled plain vs hybrid
//   flexcap bench purecap [--json]    libsodium and speedtest1 compiled plain vs purecap
//   flexcap bench redis [--json]      redis-benchmark: Debian's redis-server and each Redis image
//   flexcap check redis [--config NAME] [--json] [--units U,...]
//                                     Redis's own test suite: the image against Debian's redis-server
//   flexcap build CONFIG [--app NAME] build the image a configuration describes
//   flexcap run CONFIG [-- ARGS]      build it if needed and run it
//   flexcap audit CONFIG              what each compartment of that image can reach (JSON)
//   flexcap attack [--json]           the attack suite on every backend
//   flexcap cc [--abi hybrid] ARGS    clang-14 with the hybrid pass (C for compartments)
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "bench_commands.hh"
#include "cap_commands.hh"
#include "compile_commands.hh"
#include "image_commands.hh"

int main(int argc, char** argv) {
  // What the build runs (flexcap cc, flexcap image-header) is also the flexcap-compile
  // executable; both parse their own arguments (compile_commands.hh).
  if (argc > 1 && flexcap::tools::is_compile_command(argv[1])) return flexcap::tools::compile_command(argc, argv);
  CLI::App app{"FlexCap: compartments isolated by Morello capabilities, tailored at build time"};
  app.require_subcommand(1);

  auto* demo = app.add_subcommand("demo", "A short tour of the Morello capability model");

  auto* cap = app.add_subcommand("cap", "The Morello capability model");
  cap->require_subcommand(1);
  auto* eval = cap->add_subcommand("eval", "Read `OP ARGS` lines on stdin, print `OP ARGS => RESULTS`");
  auto* check = cap->add_subcommand("check", "Check every line of a vector file against the model");
  std::string check_path;
  std::size_t show = 10;
  check->add_option("FILE", check_path, "Vector file (e.g. cap/test/data/morello-cap-vectors.txt)")->required();
  check->add_option("--show", show, "How many mismatches to print")->capture_default_str();
  auto* decode = cap->add_subcommand("decode", "Print the fields of one capability");
  std::string pesbt;
  std::string cursor;
  int tag = 1;
  decode->add_option("PESBT", pesbt, "Bits 127..64, hexadecimal")->required();
  decode->add_option("CURSOR", cursor, "Bits 63..0, hexadecimal")->required();
  decode->add_option("TAG", tag, "0 or 1")->check(CLI::Range(0, 1))->capture_default_str();

  app.add_subcommand("image-header",
                     "Generate an image's flexcap_image.hh from its configuration (the build runs this; "
                     "see cmake/FlexcapImage.cmake): flexcap image-header --help");
  auto* bench = app.add_subcommand("bench", "Benchmarks of the images built with this tree");
  bench->require_subcommand(1);
  auto* gates = bench->add_subcommand("gates", "What a cross-compartment call costs on each backend (bench/gates)");
  flexcap::tools::GateBenchOptions gate_options;
  gates->add_flag("--json", gate_options.json, "Print {\"machine\": ..., \"results\": [...]} instead of a table");
  gates->add_option("--compartments", gate_options.compartments, "Compartment counts to run (default: all built)")
      ->delimiter(',');
  gates->add_option("--images-dir", gate_options.images_dir, "Where the gate_bench_* images are (default: build tree)");
  gates->add_flag("--quick", gate_options.quick, "A tiny time budget: checks that every case runs, not its cost");

  std::string image_config;
  std::string image_app;
  std::vector<std::string> image_args;
  auto* build = app.add_subcommand("build", "Build the image a configuration describes, in build/images/");
  auto* run = app.add_subcommand("run", "Build the image if needed and run it (arguments after --)");
  auto* audit = app.add_subcommand("audit", "Print, as JSON, what each compartment of the image can reach");
  for (CLI::App* command : {build, run, audit}) {
    command->add_option("CONFIG", image_config, "The image's kraft.yaml")->required();
    command->add_option("--app", image_app, "The application (default: the configuration's folder name)");
  }
  run->add_option("ARGS", image_args, "Arguments for the application");
  app.add_subcommand("cc",
                     "clang-14 with FlexCap's pass: flexcap cc [--abi hybrid|purecap|plain] CLANG-ARGS... (--help)");
  auto* attack = app.add_subcommand("attack", "Run the attack suite on every backend this machine can run");
  bool attack_json = false;
  attack->add_flag("--json", attack_json, "Print {\"attacks\": [...]} instead of a table");

  auto* sqlite_bench = bench->add_subcommand("sqlite", "SQLite, 5,000 INSERTs, on every configuration (apps/sqlite)");
  bool sqlite_json = false;
  int sqlite_rounds = 5;
  sqlite_bench->add_flag("--json", sqlite_json, "Print {\"results\": [...]} instead of a table");
  sqlite_bench->add_option("--rounds", sqlite_rounds, "Interleaved rounds (the median is reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  std::string sqlite_workload = "insert";
  int sqlite_size = 5;
  sqlite_bench
      ->add_option("--workload", sqlite_workload,
                   "insert: 5,000 INSERTs (FlexOS/Morello); speedtest1: SQLite's own benchmark, database on ramfs")
      ->check(CLI::IsMember({"insert", "speedtest1"}))
      ->capture_default_str();
  sqlite_bench->add_option("--size", sqlite_size, "speedtest1's --size (with --workload speedtest1)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();

  auto* hybrid_bench = bench->add_subcommand(
      "hybrid", "speedtest1 in one compartment, SQLite compiled plain vs hybrid (checked against its DDC)");
  bool hybrid_json = false;
  int hybrid_rounds = 3;
  int hybrid_size = 50;
  hybrid_bench->add_flag("--json", hybrid_json, "Print {\"results\": [...]} instead of a table");
  hybrid_bench->add_option("--rounds", hybrid_rounds, "Interleaved rounds (the median is reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  hybrid_bench->add_option("--size", hybrid_size, "speedtest1's --size")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();

  auto* purecap_bench = bench->add_subcommand(
      "purecap", "libsodium (PLOS'23 workloads) and speedtest1 compiled plain vs purecap (every pointer a capability)");
  bool purecap_json = false;
  int purecap_rounds = 5;
  purecap_bench->add_flag("--json", purecap_json, "Print {\"results\": [...]} instead of a table");
  purecap_bench->add_option("--rounds", purecap_rounds, "Interleaved rounds (the median is reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();

  auto* sodium_bench = bench->add_subcommand(
      "sodium", "libsodium functions ported to capabilities, raw / ported / sandboxed (apps/sodium)");
  bool sodium_json = false;
  int sodium_rounds = 5;
  sodium_bench->add_flag("--json", sodium_json, "Print {\"results\": [...]} instead of a table");
  sodium_bench->add_option("--rounds", sodium_rounds, "Interleaved rounds in each image (the median is reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();

  auto* revocation_bench = bench->add_subcommand(
      "revocation",
      "What revoking capabilities to freed memory costs: sweeps, pauses, a churn per policy (bench/revocation)");
  bool revocation_json = false;
  bool revocation_quick = false;
  int revocation_rounds = 5;
  revocation_bench->add_flag("--json", revocation_json, "Print {\"results\": [...]} instead of a table");
  revocation_bench->add_option("--rounds", revocation_rounds, "Interleaved rounds (the median is reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  revocation_bench->add_flag("--quick", revocation_quick, "Small sizes, one round: checks that every case runs");

  auto* redis_bench = bench->add_subcommand(
      "redis", "redis-benchmark (GET, SET) against Debian's redis-server and every Redis image (apps/redis)");
  bool redis_json = false;
  int redis_rounds = 3;
  redis_bench->add_flag("--json", redis_json, "Print {\"results\": [...]} instead of a table");
  redis_bench->add_option("--rounds", redis_rounds, "Interleaved rounds (the median is reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();

  auto* check_command = app.add_subcommand("check", "Upstream test suites against FlexCap's images");
  check_command->require_subcommand(1);
  auto* redis_check = check_command->add_subcommand(
      "redis", "Redis's own test suite against a Redis image and Debian's redis-server: the tests that differ");
  flexcap::tools::RedisCheckOptions redis_check_options;
  redis_check
      ->add_option("--config", redis_check_options.config,
                   "The image: a configuration of examples/redis/ (none, fcalls, ...)")
      ->capture_default_str();
  redis_check->add_flag("--json", redis_check_options.json,
                        "Print {\"config\",\"units\",\"tests_run\",\"passed\",\"failed\",\"differences\"}");
  redis_check
      ->add_option("--units", redis_check_options.units, "Only these units (runtest --single), e.g. unit/type/string")
      ->delimiter(',');
  redis_check->add_option("--reference-cache", redis_check_options.reference_cache,
                          "Keep Debian's redis-server's outcomes in this folder and reuse them while its version "
                          "and the units are the same (scripts/redis-check.sh)");
  redis_check
      ->add_option("--test-timeout", redis_check_options.test_timeout,
                   "Seconds a test may run without progress before the suite gives up on its unit "
                   "(runtest --timeout; mprotect's slow crossings need more)")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (demo->parsed()) return flexcap::tools::demo(std::cout);
  if (eval->parsed()) return flexcap::tools::cap_eval(std::cin, std::cout, std::cerr);
  if (check->parsed()) return flexcap::tools::cap_check(check_path, show, std::cout, std::cerr);
  if (decode->parsed()) return flexcap::tools::cap_decode(pesbt, cursor, tag, std::cout, std::cerr);
  if (sqlite_bench->parsed()) {
    return flexcap::tools::bench_sqlite(sqlite_json, sqlite_rounds, sqlite_workload, sqlite_size, std::cout, std::cerr);
  }
  if (hybrid_bench->parsed()) {
    return flexcap::tools::bench_hybrid(hybrid_json, hybrid_rounds, hybrid_size, std::cout, std::cerr);
  }
  if (purecap_bench->parsed()) {
    return flexcap::tools::bench_purecap(purecap_json, purecap_rounds, std::cout, std::cerr);
  }
  if (redis_check->parsed()) {
    return flexcap::tools::check_redis(redis_check_options, std::cout, std::cerr);
  }
  if (redis_bench->parsed()) return flexcap::tools::bench_redis(redis_json, redis_rounds, std::cout, std::cerr);
  if (sodium_bench->parsed()) return flexcap::tools::bench_sodium(sodium_json, sodium_rounds, std::cout, std::cerr);
  if (revocation_bench->parsed()) {
    return flexcap::tools::bench_revocation(revocation_json, revocation_rounds, revocation_quick, std::cout, std::cerr);
  }
  if (gates->parsed()) return flexcap::tools::bench_gates(gate_options, std::cout, std::cerr);
  if (build->parsed()) {
    std::string binary;
    const int status =
        flexcap::tools::build_image(image_config, image_app, flexcap::tools::BuildOutput::Stream, &binary, std::cerr);
    if (status == 0) std::cout << binary << "\n";
    return status;
  }
  if (run->parsed()) return flexcap::tools::run_image(image_config, image_app, image_args, std::cerr);
  if (audit->parsed()) return flexcap::tools::audit_image(image_config, image_app, std::cerr);
  if (attack->parsed()) return flexcap::tools::attack(attack_json, std::cout, std::cerr);
  return 1;
}
