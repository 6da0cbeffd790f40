#include "cap_commands.hh"

#include <fstream>
#include <istream>
#include <ostream>

#include "flexcap/cap/capability.hh"
#include "flexcap/cap/conformance.hh"

namespace flexcap::tools {

int cap_eval(std::istream& in, std::ostream& out, std::ostream& err) {
  int status = 0;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are not errors
    auto result = cap::evaluate_vector_line(line);
    if (result) {
      out << *result << '\n';
    } else {
      err << "flexcap cap eval: line " << number << ": " << result.error() << '\n';
      status = 1;
    }
  }
  return status;
}

int cap_check(const std::string& path, std::size_t show, std::ostream& out, std::ostream& err) {
  std::ifstream file(path);
  if (!file) {
    err << "flexcap cap check: cannot open '" << path << "': check the path (the reference vectors are in "
        << "cap/test/data/morello-cap-vectors.txt)\n";
    return 2;
  }
  const cap::CheckReport report = cap::check_vectors(file, show);
  for (const cap::Mismatch& m : report.first_mismatches) {
    out << "line " << m.line_number << ": mismatch\n  expected: " << m.expected << "\n  actual:   " << m.actual << '\n';
  }
  out << report.matched << " of " << report.lines << " lines match";
  if (report.mismatched > 0) out << ", " << report.mismatched << " mismatch";
  out << '\n';
  if (report.lines == 0) err << "flexcap cap check: '" << path << "' holds no vectors\n";
  return report.all_matched() ? 0 : 1;
}

int cap_decode(const std::string& pesbt, const std::string& cursor, int tag, std::ostream& out, std::ostream& err) {
  auto line = cap::evaluate_vector_line("decode " + pesbt + " " + cursor + " " + std::to_string(tag));
  if (!line) {
    err << "flexcap cap decode: " << line.error() << '\n';
    return 1;
  }
  const cap::Capability c =
      cap::Capability::unsafe_from_bits(std::stoull(pesbt, nullptr, 16), std::stoull(cursor, nullptr, 16), tag != 0);
  const cap::Bounds b = c.bounds();
  out << "tag          " << (c.tag() ? 1 : 0) << "\n"
      << "value        0x" << cap::to_hex(c.value()) << "  (flags 0x" << cap::to_hex(c.flags()) << ", address 0x"
      << cap::to_hex(c.address()) << ")\n"
      << "bounds       [0x" << cap::to_hex(b.base) << ", 0x" << cap::to_hex(b.top) << ")  length 0x"
      << cap::to_hex(c.length()) << (b.valid ? "" : "  INVALID exponent") << "\n"
      << "exponent     " << c.exponent() << (c.has_internal_exponent() ? " (internal)" : " (none: exact bounds)")
      << "\n"
      << "permissions  " << c.permissions().to_string() << "\n"
      << "object type  " << c.object_type()
      << (c.is_sentry()   ? " (sentry)"
          : c.is_sealed() ? " (sealed)"
                          : " (unsealed)")
      << "\n";
  return 0;
}

}  // namespace flexcap::tools
