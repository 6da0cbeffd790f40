// `flexcap bench gates`: runs the gate-benchmark images (bench/gates) and reports what a
// gate costs on each backend, beside its floor and the target.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace flexcap::tools {

struct GateBenchOptions {
  bool json = false;              // {"machine": {...}, "results": [...]} instead of the table
  bool quick = false;             // tiny time budget: checks that every case runs, not its cost
  std::vector<int> compartments;  // the compartment counts to run; empty: every count built
  std::string images_dir;         // where the images are; empty: the build tree's bench/gates
};

// Runs the images and prints the table (or JSON) to `out`. Backends this machine cannot
// run, or that have no images yet, are reported as such. Returns 0 when every image ran,
// whatever the timings: a benchmark is not a pass/fail check.
int bench_gates(const GateBenchOptions& options, std::ostream& out, std::ostream& err);

}  // namespace flexcap::tools
