// The `flexcap cap ...` commands: the capability model from the command line.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>

namespace flexcap::tools {

// `flexcap cap eval`: evaluates each `OP ARGS` line of `in`, printing `OP ARGS =>
// RESULTS` to `out`. A bad line is reported on `err` with its line number and skipped.
// Returns the exit status: 0, or 1 if any line was bad.
int cap_eval(std::istream& in, std::ostream& out, std::ostream& err);

// `flexcap cap check FILE`: evaluates every line of FILE and compares with the line's
// own results. Prints a summary and the first `show` mismatches. Returns 0 only if
// every line matches.
int cap_check(const std::string& path, std::size_t show, std::ostream& out, std::ostream& err);

// `flexcap cap decode PESBT CURSOR [TAG]`: one capability, every field, readable.
int cap_decode(const std::string& pesbt, const std::string& cursor, int tag, std::ostream& out, std::ostream& err);

// `flexcap demo`: a short tour of the capability model (the README's first command).
int demo(std::ostream& out);

}  // namespace flexcap::tools
