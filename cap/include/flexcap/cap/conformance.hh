// flexcap/cap/conformance.hh — evaluates the lines of the Morello conformance vectors.
//
// The reference vectors (cap/test/data/morello-cap-vectors.txt, format described in
// docs/capability-model.md) hold one operation per line: `OP ARGS => RESULTS`. This is
// the evaluator behind `flexcap cap eval` and `flexcap cap check` and the conformance test.
//
//   auto out = evaluate_vector_line("crrl 1001");   // "crrl 1001 => 1008"
//   if (!out) std::cerr << out.error();             // says what is wrong with the line
#pragma once

#include <cstddef>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "flexcap/support/expected.hh"

namespace flexcap::cap {

// Evaluates `OP ARGS` (anything from " =>" on is ignored) and returns the line in the
// vectors' format, `OP ARGS => RESULTS`, with the numbers written canonically. On a
// malformed line the error says what is wrong and what was expected.
Expected<std::string, std::string> evaluate_vector_line(std::string_view line);

struct Mismatch {
  std::size_t line_number = 0;
  std::string expected;
  std::string actual;  // or the evaluation error
};

struct CheckReport {
  std::size_t lines = 0;  // non-blank lines examined
  std::size_t matched = 0;
  std::size_t mismatched = 0;
  std::vector<Mismatch> first_mismatches;  // at most the number asked for
  bool all_matched() const { return lines > 0 && mismatched == 0; }
};

// Evaluates every line of `vectors` and compares the result with the line itself.
CheckReport check_vectors(std::istream& vectors, std::size_t keep_mismatches = 10);

}  // namespace flexcap::cap
