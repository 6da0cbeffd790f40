#include "flexcap/cap/conformance.hh"

#include <array>
#include <charconv>

#include "flexcap/cap/capability.hh"

namespace flexcap::cap {
namespace {

struct Operation {
  std::string_view name;
  std::size_t arity;
  std::string_view usage;
};

constexpr std::array<Operation, 6> kOperations = {{
    {"decode", 3, "PESBT CURSOR TAG"},
    {"setbounds", 4, "PESBT CURSOR TAG LEN"},
    {"fastrep", 3, "PESBT CURSOR NEWADDR"},
    {"preciserep", 3, "PESBT CURSOR NEWADDR"},
    {"crrl", 1, "LEN"},
    {"cram", 1, "LEN"},
}};

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\t' && text[j] != '\r') ++j;
    if (j > i) words.push_back(text.substr(i, j - i));
    i = j;
  }
  return words;
}

// A hexadecimal number of at most `max_bits` bits, without 0x.
Expected<Uint128, std::string> parse_hex(std::string_view word, std::string_view what, int max_bits) {
  Uint128 value = 0;
  if (word.empty() || word.size() > 17) {
    return Unexpected(std::string(what) + " '" + std::string(word) + "' is not a hexadecimal number of at most " +
                      std::to_string(max_bits) + " bits");
  }
  for (char c : word) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) {
      return Unexpected(std::string(what) + " '" + std::string(word) +
                        "' is not hexadecimal (write digits 0-9a-f, without 0x)");
    }
    value = value << 4 | static_cast<unsigned>(digit);
  }
  if (value >> max_bits != 0) {
    return Unexpected(std::string(what) + " '" + std::string(word) + "' does not fit in " + std::to_string(max_bits) +
                      " bits");
  }
  return value;
}

}  // namespace

Expected<std::string, std::string> evaluate_vector_line(std::string_view line) {
  if (const auto arrow = line.find("=>"); arrow != std::string_view::npos) line = line.substr(0, arrow);
  const std::vector<std::string_view> words = split_words(line);
  if (words.empty()) return Unexpected(std::string("empty line: expected OP ARGS"));

  const Operation* op = nullptr;
  for (const Operation& candidate : kOperations) {
    if (candidate.name == words[0]) op = &candidate;
  }
  if (op == nullptr) {
    return Unexpected("unknown operation '" + std::string(words[0]) +
                      "': expected one of decode, setbounds, fastrep, preciserep, crrl, cram");
  }
  if (words.size() - 1 != op->arity) {
    return Unexpected(std::string(op->name) + " takes " + std::to_string(op->arity) + " argument" +
                      (op->arity == 1 ? "" : "s") + " (" + std::string(op->usage) + "), got " +
                      std::to_string(words.size() - 1));
  }

  // Parse each argument by its name in the usage string.
  const std::vector<std::string_view> names = split_words(op->usage);
  std::array<Uint128, 4> args{};
  for (std::size_t i = 0; i < op->arity; ++i) {
    int bits = 64;
    if (names[i] == "TAG") bits = 1;
    if (names[i] == "LEN" && op->name == "setbounds") bits = 65;
    auto parsed = parse_hex(words[i + 1], names[i], bits);
    if (!parsed) return Unexpected(parsed.error());
    args[i] = *parsed;
  }
  if (op->name == "setbounds" && args[3] > kBoundMax) {
    return Unexpected("LEN '" + std::string(words[4]) + "' is larger than 2^64 (10000000000000000)");
  }

  std::string out(op->name);
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on `" " + std::string` here.
  auto put = [&out](Uint128 v) {
    out += ' ';
    out += to_hex(v);
  };
  for (std::size_t i = 0; i < op->arity; ++i) put(args[i]);
  out += " =>";
  const auto u64 = [](Uint128 v) { return static_cast<std::uint64_t>(v); };

  if (op->name == "decode") {
    const Capability c = Capability::unsafe_from_bits(u64(args[0]), u64(args[1]), args[2] != 0);
    const Bounds b = c.bounds();
    put(b.base);
    put(b.top);
    put(static_cast<unsigned>(c.exponent()));
    put(c.has_internal_exponent() ? 1 : 0);
    put(b.valid ? 1 : 0);
    put(c.permissions().bits());
    put(c.object_type());
  } else if (op->name == "setbounds") {
    const Capability c = Capability::unsafe_from_bits(u64(args[0]), u64(args[1]), args[2] != 0);
    const SetBoundsResult r = c.set_bounds(args[3]);
    put(r.capability.pesbt());
    put(r.capability.cursor());
    put(r.capability.tag() ? 1 : 0);
    put(r.exact ? 1 : 0);
  } else if (op->name == "fastrep") {
    const Capability c = Capability::unsafe_from_bits(u64(args[0]), u64(args[1]), true);
    put(c.is_representable_fast(u64(args[2]) - u64(args[1])) ? 1 : 0);
  } else if (op->name == "preciserep") {
    const Capability c = Capability::unsafe_from_bits(u64(args[0]), u64(args[1]), true);
    put(c.is_representable(u64(args[2])) ? 1 : 0);
  } else if (op->name == "crrl") {
    put(representable_length(u64(args[0])));
  } else {
    put(representable_alignment_mask(u64(args[0])));
  }
  return out;
}

CheckReport check_vectors(std::istream& vectors, std::size_t keep_mismatches) {
  CheckReport report;
  std::string line;
  std::size_t number = 0;
  while (std::getline(vectors, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (split_words(line).empty()) continue;
    ++report.lines;
    auto result = evaluate_vector_line(line);
    const std::string expected = [&] {
      std::vector<std::string_view> w = split_words(line);
      std::string joined;
      for (std::string_view word : w) {
        if (!joined.empty()) joined += ' ';
        joined += word;
      }
      return joined;
    }();
    if (result && *result == expected) {
      ++report.matched;
      continue;
    }
    ++report.mismatched;
    if (report.first_mismatches.size() < keep_mismatches) {
      report.first_mismatches.push_back({number, expected, result ? *result : "error: " + result.error()});
    }
  }
  return report;
}

}  // namespace flexcap::cap
