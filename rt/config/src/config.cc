// The kraft.yaml reader. yaml-cpp builds the tree and remembers where each node was
// written; this file walks the tree once and collects every error instead of stopping
// at the first, so that a user fixes a file in one round.
#include "flexcap/rt/config.hh"

#include <sys/mman.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <system_error>
#include <utility>

namespace flexcap::rt {
namespace {

constexpr std::uint64_t kKiB = 1ull << 10;
constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kGiB = 1ull << 30;

struct Driver {
  std::string_view name;
  Backend backend;
};
// FlexOS spells the function-call backend `fcalls` and calls its EPT backend `vmept`;
// both are accepted so that a FlexOS file reads unchanged.
constexpr Driver kDrivers[] = {{"fcalls", Backend::Fcall},       {"fcall", Backend::Fcall},
                               {"intel-pku", Backend::IntelPku}, {"mprotect", Backend::Mprotect},
                               {"process", Backend::Process},    {"vmept", Backend::Process},
                               {"cheri", Backend::Cheri}};

constexpr std::string_view kCompartmentKeys[] = {"name",           "mechanism",  "default",
                                                 "heap",           "stack",      "sharing",
                                                 "restart",        "page-substrate", "revocation",
                                                 "revocation-quarantine"};
constexpr std::string_view kMechanismKeys[] = {"driver", "noisolstack"};
constexpr std::string_view kTopLevelKeys[] = {"compartments", "libraries", "sharing", "overlap-size", "revocation",
                                              "revocation-quarantine"};
const std::vector<std::pair<std::string, RevocationPolicy>> kRevocationWords = {
    {"off", RevocationPolicy::Off}, {"sweep", RevocationPolicy::Sweep}, {"load-filter", RevocationPolicy::LoadFilter},
    {"pages", RevocationPolicy::Pages}};

// `sharing:`'s words. `capability`, FlexCap's first spelling, stays a synonym of
// `capabilities` (PLOS'23's name for the approach); it is accepted but not advertised.
const std::vector<std::pair<std::string, Sharing>> kSharingWords = {
    {"capabilities", Sharing::Capability}, {"copy", Sharing::Copy}, {"overlap", Sharing::Overlap}};
const std::vector<std::pair<std::string, Sharing>> kSharingSynonyms = {{"capability", Sharing::Capability}};

template <class Range>
std::string join(const Range& words, std::string_view separator = ", ") {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) out += separator;
    out += word;
  }
  return out;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Optimal string alignment distance: Levenshtein plus the swap of two neighbours,
// the most common typing slip ("defualt").
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The candidate `word` was most likely meant to be, if one is close enough that the
// suggestion helps rather than confuses (at most two edits, and under a third of it).
template <class Range>
std::optional<std::string> closest(std::string_view word, const Range& candidates) {
  const std::string typed = lowercase(word);
  std::optional<std::string> best;
  std::size_t best_distance = 3;
  for (std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(typed, lowercase(candidate));
    if (distance < best_distance && distance * 3 <= std::max(typed.size(), candidate.size())) {
      best = std::string(candidate);
      best_distance = distance;
    }
  }
  return best;
}

template <class Range>
std::string did_you_mean(std::string_view word, const Range& candidates) {
  const auto guess = closest(word, candidates);
  return guess ? " (did you mean '" + *guess + "'?)" : "";
}

bool is_valid_name(std::string_view name) {
  const auto head = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  const auto tail = [&](char c) { return head(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '-'; };
  return !name.empty() && head(name.front()) && std::all_of(name.begin() + 1, name.end(), tail);
}

std::string format_size(std::uint64_t bytes) {
  if (bytes % kGiB == 0) return std::to_string(bytes / kGiB) + "GiB";
  if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "MiB";
  if (bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "KiB";
  return std::to_string(bytes) + " bytes";
}

// "4096", "64K", "8MiB", "1 GB": a whole number and an optional unit. Every unit is
// binary (a FlexOS user writes 8M meaning 8MiB), so MB and MiB are the same.
std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t number = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (number > (UINT64_MAX - digit) / 10) return std::nullopt;
    number = number * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  while (i < text.size() && text[i] == ' ') ++i;
  constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"", 1},      {"b", 1},      {"k", kKiB}, {"kb", kKiB}, {"kib", kKiB}, {"m", kMiB},
      {"mb", kMiB}, {"mib", kMiB}, {"g", kGiB}, {"gb", kGiB}, {"gib", kGiB}};
  const std::string unit = lowercase(text.substr(i));
  for (const auto& [name, scale] : kUnits) {
    if (name == unit) return number > UINT64_MAX / scale ? std::nullopt : std::optional(number * scale);
  }
  return std::nullopt;
}

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

// What the reader knows about one compartment beyond CompartmentConfig, for the
// checks that compare compartments with each other.
struct CompartmentEntry {
  CompartmentConfig config;
  bool named = false;                 // has a valid name
  std::optional<std::string> driver;  // as written, when it is a known driver
  std::optional<SourceLocation> default_where;
  std::optional<SourceLocation> sharing_where;  // its own `sharing:` value, when written and valid
  std::optional<SourceLocation> revocation_where;  // its own `revocation:` value, when written and valid
};

class Reader {
 public:
  Reader(const std::string& path, const std::vector<KnownLibrary>& known, LibraryCheck check)
      : path_(path), known_(known), check_(check) {
    for (const KnownLibrary& library : known_) known_names_.push_back(library.name);
  }

  Expected<Config, std::vector<ConfigError>> read(std::string_view text) {
    config_.path = path_;
    try {
      read_document(YAML::Load(std::string(text)));
    } catch (const YAML::ParserException& e) {
      errors_.clear();  // a half-read tree would only add noise to the syntax error
      add(e.mark, "YAML syntax error: " + e.msg,
          "correct the YAML at this position (indentation, a missing ':' or an unclosed bracket or quote)");
    } catch (const YAML::Exception& e) {
      add(e.mark, "cannot read the YAML: " + e.msg, "correct the YAML at this position");
    }
    // In file order, as a compiler reports; checks that compare parts of the file run
    // after the walk, so their errors arrive late.
    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& x, const ConfigError& y) {
      return std::pair(x.where.line, x.where.column) < std::pair(y.where.line, y.where.column);
    });
    if (!errors_.empty()) return Unexpected(std::move(errors_));
    return std::move(config_);
  }

 private:
  SourceLocation at(const YAML::Mark& mark) const {
    if (mark.is_null()) return {path_, 0, 0};
    return {path_, mark.line + 1, mark.column + 1};
  }
  // An empty value (`heap:`) has no text of its own; yaml-cpp marks it at whatever
  // follows, often the next line, so its key is the better place to point at.
  SourceLocation at_value(const YAML::Node& key, const YAML::Node& value) const {
    return at(value.IsNull() ? key.Mark() : value.Mark());
  }
  void add(const SourceLocation& where, std::string message, std::string fix) {
    errors_.push_back({where, std::move(message), std::move(fix)});
  }
  void add(const YAML::Mark& mark, std::string message, std::string fix) {
    add(at(mark), std::move(message), std::move(fix));
  }
  static std::string line_of(const SourceLocation& where) { return "line " + std::to_string(where.line); }

  // Calls visit(key, value, key_text) for each entry of a mapping, after reporting
  // keys that are not plain words and keys written twice (yaml-cpp keeps both).
  template <class Visit>
  void each_entry(const YAML::Node& map, std::string_view where, Visit visit) {
    std::map<std::string, SourceLocation> seen;
    for (const auto& entry : map) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        add(key.Mark(), "a key in " + std::string(where) + " is not a plain word", "write the key as a name");
        continue;
      }
      const auto [previous, inserted] = seen.emplace(key.Scalar(), at(key.Mark()));
      if (!inserted) {
        add(key.Mark(),
            "'" + key.Scalar() + "' appears twice in " + std::string(where) + " (first on " +
                line_of(previous->second) + ")",
            "keep one of them");
        continue;
      }
      visit(key, entry.second, key.Scalar());
    }
  }

  // The text of a scalar value, or an error saying what was written instead.
  std::optional<std::string> scalar(const YAML::Node& key, const YAML::Node& value, std::string_view expected) {
    const std::string what = "`" + key.Scalar() + "`";
    if (value.IsScalar()) return value.Scalar();
    const std::string got = value.IsNull() ? "has no value" : value.IsSequence() ? "is a list" : "is a mapping";
    add(at_value(key, value), what + " " + got, "write " + std::string(expected) + " after `" + key.Scalar() + ":`");
    return std::nullopt;
  }

  std::optional<bool> boolean(const YAML::Node& key, const YAML::Node& value, std::string_view owner) {
    bool result = false;
    if (value.IsScalar() && YAML::convert<bool>::decode(value, result)) return result;
    const std::string got = value.IsScalar() ? "'" + value.Scalar() + "'"
                                             : "a " + std::string(value.IsNull() ? "missing value" : "list or mapping");
    add(at_value(key, value), "`" + key.Scalar() + "` of " + std::string(owner) + " must be true or false, not " + got,
        "write `" + key.Scalar() + ": true` or `" + key.Scalar() + ": false`");
    return std::nullopt;
  }

  // One of `choices`; `synonyms` are accepted too, and suggested for a near miss, but not
  // listed in the fix (a word kept for old files).
  template <class E>
  std::optional<E> choice(const YAML::Node& key, const YAML::Node& value, std::string_view owner,
                          const std::vector<std::pair<std::string, E>>& choices,
                          const std::vector<std::pair<std::string, E>>& synonyms = {}) {
    std::vector<std::string> names, accepted;
    for (const auto& [name, unused] : choices) names.push_back(name);
    const auto text = scalar(key, value, "one of " + join(names));
    if (!text) return std::nullopt;
    for (const auto* list : {&choices, &synonyms}) {
      for (const auto& [name, result] : *list) {
        if (name == *text) return result;
        accepted.push_back(name);
      }
    }
    add(at(value.Mark()),
        "`" + key.Scalar() + "` of " + std::string(owner) + " is '" + *text + "'" + did_you_mean(*text, accepted),
        "use one of " + join(names));
    return std::nullopt;
  }

  std::optional<std::uint64_t> size(const YAML::Node& key, const YAML::Node& value, std::string_view owner,
                                    std::uint64_t min, std::uint64_t max) {
    const std::string range = format_size(min) + " to " + format_size(max);
    const std::string forms =
        "a whole number of bytes with an optional binary unit (4096, 64KiB, 8MiB; B, K/KB/KiB, M/MB/MiB, G/GB/GiB) "
        "from " +
        range;
    const auto text = scalar(key, value, forms);
    if (!text) return std::nullopt;
    const auto bytes = parse_size(*text);
    if (!bytes) {
      add(at(value.Mark()), "`" + key.Scalar() + "` of " + std::string(owner) + " is '" + *text + "', not a size",
          "write " + forms);
      return std::nullopt;
    }
    if (*bytes < min || *bytes > max) {
      const bool vowel = std::string_view("aeiou").find(key.Scalar().front()) != std::string_view::npos;
      add(at(value.Mark()),
          "`" + key.Scalar() + "` of " + std::string(owner) + " is " + *text +
              (format_size(*bytes) == *text ? "" : " (" + format_size(*bytes) + ")") + ", outside " + range,
          std::string(vowel ? "choose an " : "choose a ") + key.Scalar() + " from " + range);
      return std::nullopt;
    }
    return bytes;
  }

  void read_document(const YAML::Node& root) {
    const SourceLocation top = root.Mark().is_null() ? SourceLocation{path_, 1, 1} : at(root.Mark());
    const std::string example = "compartments: [{ name: app, mechanism: { driver: mprotect }, default: true }]";
    if (!root.IsMap()) {
      add(top, root.IsNull() ? "the file is empty" : "the file is not a mapping of keys to values",
          "start it with a `compartments:` list, e.g. `" + example + "`");
      return;
    }
    // yaml-cpp has no empty node (a default Node is a defined null), hence the optionals.
    std::optional<YAML::Node> compartments_key, compartments, libraries, sharing_key, sharing, overlap_size_key,
        overlap_size, revocation_key, revocation, quarantine_key, quarantine;
    // Other top-level keys belong to FlexOS and Unikraft (specification, unikraft,
    // targets, ...) and are ignored, except a near miss of ours, which would silently
    // drop a whole section.
    each_entry(root, "the top level", [&](const YAML::Node& key, const YAML::Node& value, const std::string& name) {
      if (name == "compartments") {
        compartments_key = key;
        compartments = value;
      } else if (name == "libraries") {
        libraries = value;
      } else if (name == "sharing") {
        sharing_key = key;
        sharing = value;
      } else if (name == "overlap-size") {
        overlap_size_key = key;
        overlap_size = value;
      } else if (name == "revocation") {
        revocation_key = key;
        revocation = value;
      } else if (name == "revocation-quarantine") {
        quarantine_key = key;
        quarantine = value;
      } else if (const auto guess = closest(name, kTopLevelKeys)) {
        add(key.Mark(), "unknown top-level key '" + name + "' (did you mean '" + *guess + "'?)",
            "rename it to `" + *guess + "`");
      }
    });
    // The image's own settings first: a compartment without a `sharing:` takes the image's.
    if (sharing_key) {
      image_sharing_ = choice<Sharing>(*sharing_key, *sharing, "the image", kSharingWords, kSharingSynonyms);
      if (image_sharing_) image_sharing_where_ = at(sharing->Mark());
    }
    if (overlap_size_key) {
      overlap_size_where_ = at(overlap_size_key->Mark());
      config_.overlap_bytes =
          size(*overlap_size_key, *overlap_size, "the image", 4 * kKiB, kGiB).value_or(config_.overlap_bytes);
    }
    if (revocation_key) {
      image_revocation_where_ = at(revocation->Mark());
      config_.revocation =
          choice<RevocationPolicy>(*revocation_key, *revocation, "the image", kRevocationWords).value_or(config_.revocation);
    }
    if (quarantine_key) {
      config_.quarantine_fraction =
          fraction(*quarantine_key, *quarantine, "the image").value_or(config_.quarantine_fraction);
    }
    if (!compartments_key) {
      add(top, "the file has no `compartments:` list", "add one, e.g. `" + example + "`");
    } else {
      compartments_where_ = at(compartments_key->Mark());
      read_compartments(*compartments_key, *compartments, example);
      check_sharing();
      check_revocation();
    }
    if (libraries) read_libraries(*libraries);
    check_placements();
  }

  void read_compartments(const YAML::Node& key, const YAML::Node& list, const std::string& example) {
    if (list.IsNull() || (list.IsSequence() && list.size() == 0)) {
      add(at(key.Mark()), "`compartments` is empty", "declare at least one compartment, e.g. `" + example + "`");
      return;
    }
    if (!list.IsSequence()) {
      add(at(list.Mark()), "`compartments` must be a list, one `- name: ...` entry per compartment",
          "write it as `" + example + "`");
      return;
    }
    std::size_t index = 0;
    for (const YAML::Node& node : list) {
      ++index;
      if (!node.IsMap()) {
        add(at(node.Mark()), "compartment #" + std::to_string(index) + " is not a mapping",
            "write each compartment as `- name: NAME` followed by `mechanism: { driver: DRIVER }`");
        continue;
      }
      read_compartment(node, index);
    }
    check_compartments();
  }

  void read_compartment(const YAML::Node& node, std::size_t index) {
    CompartmentEntry entry;
    CompartmentConfig& c = entry.config;
    c.where = at(node.Mark());
    // Messages name the compartment, whatever order its keys come in.
    std::string owner = "compartment #" + std::to_string(index);
    for (const auto& kv : node) {
      if (kv.first.IsScalar() && kv.first.Scalar() == "name" && kv.second.IsScalar() &&
          is_valid_name(kv.second.Scalar())) {
        owner = "compartment '" + kv.second.Scalar() + "'";
      }
    }
    std::optional<SourceLocation> page_substrate_where;
    bool has_mechanism = false;
    if (image_sharing_) c.sharing = *image_sharing_;
    // `revocation: pages` is the shared heap's alone: a compartment's own heap is reachable
    // by no other compartment on a page backend.
    c.revocation = config_.revocation == RevocationPolicy::Pages ? RevocationPolicy::Off : config_.revocation;
    c.quarantine_fraction = config_.quarantine_fraction;
    each_entry(node, owner, [&](const YAML::Node& key, const YAML::Node& value, const std::string& name) {
      if (name == "name") {
        const auto text = scalar(key, value, "the compartment's name");
        if (text && !is_valid_name(*text)) {
          add(at(value.Mark()), "compartment name '" + *text + "' is not a valid name",
              "start it with a letter or _ and use only letters, digits, _ and -");
        } else if (text) {
          c.name = *text;
          entry.named = true;
        }
      } else if (name == "mechanism") {
        has_mechanism = true;
        read_mechanism(key, value, owner, entry);
      } else if (name == "default") {
        const auto flag = boolean(key, value, owner);
        if (!flag) default_unknown_ = true;
        c.is_default = flag.value_or(false);
        if (c.is_default) entry.default_where = at(key.Mark());
      } else if (name == "heap") {
        c.heap_bytes = size(key, value, owner, 64 * kKiB, 64 * kGiB).value_or(c.heap_bytes);
      } else if (name == "stack") {
        c.stack_bytes = size(key, value, owner, 16 * kKiB, kGiB).value_or(c.stack_bytes);
      } else if (name == "sharing") {
        if (const auto sharing = choice<Sharing>(key, value, owner, kSharingWords, kSharingSynonyms)) {
          c.sharing = *sharing;
          entry.sharing_where = at(value.Mark());
        }
      } else if (name == "restart") {
        c.restart = choice<RestartPolicy>(key, value, owner,
                                          {{"never", RestartPolicy::Never}, {"on-fault", RestartPolicy::OnFault}})
                        .value_or(c.restart);
      } else if (name == "revocation") {
        if (const auto policy = choice<RevocationPolicy>(key, value, owner, kRevocationWords)) {
          c.revocation = *policy;
          entry.revocation_where = at(value.Mark());
        }
      } else if (name == "revocation-quarantine") {
        c.quarantine_fraction = fraction(key, value, owner).value_or(c.quarantine_fraction);
      } else if (name == "page-substrate") {
        page_substrate_where = at(key.Mark());
        c.page_substrate = choice<PageSubstrate>(key, value, owner,
                                                 {{"none", PageSubstrate::None},
                                                  {"mprotect", PageSubstrate::Mprotect},
                                                  {"intel-pku", PageSubstrate::IntelPku}})
                               .value_or(c.page_substrate);
      } else {
        add(key.Mark(), "unknown key '" + name + "' in " + owner + did_you_mean(name, kCompartmentKeys),
            "use only the keys " + join(kCompartmentKeys));
      }
    });
    if (!entry.named && !node["name"]) {
      add(c.where, owner + " has no `name`", "add `name: NAME` (a letter or _, then letters, digits, _ or -)");
    }
    if (!has_mechanism) {
      add(c.where, owner + " has no `mechanism`", "add `mechanism: { driver: mprotect }` (or " + driver_list() + ")");
    }
    if (page_substrate_where && entry.driver && c.backend != Backend::Cheri) {
      add(*page_substrate_where,
          owner + " sets `page-substrate`, which only the cheri driver has (its driver is " + *entry.driver + ")",
          "remove `page-substrate` from " + owner + " or use driver cheri");
    }
    entries_.push_back(std::move(entry));
  }

  static std::string driver_list() {
    std::vector<std::string_view> names;
    for (const Driver& driver : kDrivers) names.push_back(driver.name);
    return join(names);
  }

  void read_mechanism(const YAML::Node& key, const YAML::Node& value, const std::string& owner,
                      CompartmentEntry& entry) {
    if (!value.IsMap()) {
      add(at_value(key, value), "`mechanism` of " + owner + " must be a mapping with a `driver`",
          "write `mechanism: { driver: mprotect }` (or " + driver_list() + ")");
      return;
    }
    bool has_driver = false;
    each_entry(value, "the mechanism of " + owner,
               [&](const YAML::Node& inner_key, const YAML::Node& inner_value, const std::string& name) {
                 if (name == "driver") {
                   has_driver = true;
                   read_driver(inner_key, inner_value, owner, entry);
                 } else if (name == "noisolstack") {
                   boolean(inner_key, inner_value, owner);  // FlexOS's stack option: checked, no effect here
                 } else {
                   add(inner_key.Mark(),
                       "unknown key '" + name + "' in the mechanism of " + owner + did_you_mean(name, kMechanismKeys),
                       "use only the keys " + join(kMechanismKeys));
                 }
               });
    if (!has_driver) {
      add(at(value.Mark()), "the mechanism of " + owner + " has no `driver`",
          "add `driver: mprotect` (or " + driver_list() + ")");
    }
  }

  void read_driver(const YAML::Node& key, const YAML::Node& value, const std::string& owner, CompartmentEntry& entry) {
    const auto text = scalar(key, value, "one of " + driver_list());
    if (!text) return;
    std::vector<std::string> names;
    for (const Driver& driver : kDrivers) {
      names.emplace_back(driver.name);
      if (driver.name != *text) continue;
      entry.config.backend = driver.backend;
      entry.config.driver_where = at(value.Mark());
      entry.driver = *text;
      if (*text == "vmept" && !vmept_noted_) {
        config_.notes.push_back("driver 'vmept' (FlexOS's EPT backend) runs as 'process' in FlexCap");
        vmept_noted_ = true;
      }
      return;
    }
    add(at(value.Mark()), "unknown driver '" + *text + "' in " + owner + did_you_mean(*text, names),
        "use one of " + driver_list());
  }

  // The rules that compare compartments: unique names, one mechanism, one default.
  void check_compartments() {
    std::map<std::string, const CompartmentEntry*> by_name;
    const CompartmentEntry* first_driver = nullptr;
    const CompartmentEntry* first_default = nullptr;
    for (const CompartmentEntry& entry : entries_) {
      const CompartmentConfig& c = entry.config;
      if (entry.named) {
        const auto [previous, inserted] = by_name.emplace(c.name, &entry);
        if (inserted) {
          config_.compartments.push_back(c);
          declared_.push_back(c.name);
        } else {
          add(c.where,
              "compartment name '" + c.name + "' is used twice (" + line_of(previous->second->config.where) + " and " +
                  line_of(c.where) + ")",
              "give each compartment a different name");
        }
      }
      if (entry.driver && !first_driver) {
        first_driver = &entry;
      } else if (entry.driver && c.backend != first_driver->config.backend) {
        add(c.driver_where,
            "an image has one mechanism; " + label(entry) + " (" + line_of(c.driver_where) + ") uses " + *entry.driver +
                " but " + label(*first_driver) + " (" + line_of(first_driver->config.driver_where) + ") uses " +
                *first_driver->driver,
            "use the same driver in every compartment, e.g. `driver: " + *first_driver->driver + "` in " +
                label(entry));
      }
      if (entry.default_where && !first_default) {
        first_default = &entry;
      } else if (entry.default_where) {
        add(*entry.default_where,
            "more than one compartment is `default: true`: " + label(*first_default) + " (" +
                line_of(*first_default->default_where) + ") and " + label(entry) + " (" +
                line_of(*entry.default_where) + ")",
            "keep `default: true` on one compartment; libraries not listed under `libraries:` run there");
      }
    }
  }

  // `sharing: overlap` is a layout of the whole image, for the cheri driver only: it makes
  // neighbouring compartments' DDCs overlap, so one compartment cannot opt out alone (its
  // neighbours' DDCs would still reach into it, or not, depending on them).
  void check_sharing() {
    const CompartmentEntry* first_driver = nullptr;
    for (const CompartmentEntry& entry : entries_) {
      if (entry.driver && !first_driver) first_driver = &entry;
    }
    bool refused = false;
    bool asked = image_sharing_ == Sharing::Overlap;
    if (asked && first_driver && first_driver->config.backend != Backend::Cheri) {
      add(*image_sharing_where_,
          "`sharing: overlap` makes neighbouring compartments' DDCs overlap, which only the cheri driver has (this "
          "image's driver is " +
              *first_driver->driver + ", " + line_of(first_driver->config.driver_where) + ")",
          "use `sharing: capabilities` or `sharing: copy`, or `driver: cheri` in every compartment");
      refused = true;
    }
    for (const CompartmentEntry& entry : entries_) {
      const CompartmentConfig& c = entry.config;
      if (!entry.sharing_where || c.sharing != Sharing::Overlap) continue;
      asked = true;
      if (entry.driver && c.backend != Backend::Cheri) {
        add(*entry.sharing_where,
            label(entry) + " sets `sharing: overlap`, which only the cheri driver has (its driver is " + *entry.driver +
                ")",
            "use `sharing: capabilities` or `sharing: copy` in " + label(entry) + ", or `driver: cheri`");
        refused = true;
      }
    }
    if (asked && !refused) {
      // Where overlap was asked for: the image's key, else the first compartment's.
      const CompartmentEntry* first = nullptr;
      for (const CompartmentEntry& entry : entries_) {
        if (!first && entry.sharing_where && entry.config.sharing == Sharing::Overlap) first = &entry;
      }
      const bool image_wide = image_sharing_ == Sharing::Overlap;
      for (const CompartmentEntry& entry : entries_) {
        const CompartmentConfig& c = entry.config;
        if (c.sharing == Sharing::Overlap) continue;
        const std::string how = entry.sharing_where ? std::string(to_string(c.sharing))
                                                    : std::string(to_string(c.sharing)) + " (the default)";
        if (image_wide) {
          add(entry.sharing_where ? *entry.sharing_where : c.where,
              label(entry) + " sets `sharing: " + std::string(to_string(c.sharing)) +
                  "`, but the image shares by overlap (" + line_of(*image_sharing_where_) +
                  "): overlap lays out the whole image, so every compartment uses it",
              "remove `sharing:` from " + label(entry) + "; the top-level `sharing: overlap` applies to it");
        } else {
          add(entry.sharing_where ? *entry.sharing_where : c.where,
              label(entry) + " shares by " + how + ", but " + label(*first) + " shares by overlap (" +
                  line_of(*first->sharing_where) +
                  "): overlap lays out the whole image, so every compartment must "
                  "use it",
              "write `sharing: overlap` once at the top level instead of in the compartments, or give every "
              "compartment the same `sharing:`");
        }
      }
    }
    if (overlap_size_where_ && !asked) {
      add(*overlap_size_where_, "`overlap-size` is set, but the image does not use `sharing: overlap`",
          "remove `overlap-size`, or add `sharing: overlap` at the top level (driver cheri)");
    }
  }

  static std::string label(const CompartmentEntry& entry) {
    return entry.named ? "'" + entry.config.name + "'" : "the compartment on " + line_of(entry.config.where);
  }

  void read_libraries(const YAML::Node& map) {
    if (map.IsNull()) return;  // `libraries:` with nothing under it places nothing
    if (!map.IsMap()) {
      add(at(map.Mark()), "`libraries` must be a mapping from library name to its settings",
          "write one `NAME: { compartment: COMPARTMENT }` line per library");
      return;
    }
    each_entry(map, "`libraries`", [&](const YAML::Node& name_node, const YAML::Node& value, const std::string& name) {
      const bool known = check_ == LibraryCheck::Unchecked ||
                         std::find(known_names_.begin(), known_names_.end(), name) != known_names_.end();
      if (!known) {
        add(name_node.Mark(), "unknown library '" + name + "'" + did_you_mean(name, known_names_),
            known_names_.empty() ? "this build knows no libraries; remove the entry"
                                 : "use one of " + join(known_names_) + " (the libraries this build knows)");
      }
      // Unikraft also allows `NAME: VERSION` and a bare `NAME:`; neither places the library.
      if (value.IsNull() || value.IsScalar()) return;
      if (!value.IsMap()) {
        add(at(value.Mark()), "library '" + name + "' must be given a mapping",
            "write `" + name + ": { compartment: COMPARTMENT }`");
        misplaced_.insert(name);
        return;
      }
      // FlexOS entries also carry `version`, `kconfig` and the like: not ours to check.
      for (const auto& kv : value) {
        if (!kv.first.IsScalar() || kv.first.Scalar() != "compartment") continue;
        const auto compartment = scalar(kv.first, kv.second, "the name of a compartment");
        if (!compartment) {
          misplaced_.insert(name);
          continue;
        }
        if (std::find(declared_.begin(), declared_.end(), *compartment) == declared_.end()) {
          add(at(kv.second.Mark()),
              "library '" + name + "' is placed in '" + *compartment + "', which is not a declared compartment" +
                  did_you_mean(*compartment, declared_),
              declared_.empty() ? "declare it under `compartments:`"
                                : "use one of the compartments declared under `compartments:`: " + join(declared_));
          misplaced_.insert(name);
          continue;
        }
        if (known) config_.libraries.push_back({name, *compartment, at(name_node.Mark())});
      }
    });
  }

  // The rules that need the whole file: every known library has a compartment, and
  // libraries that must stay together do.
  void check_placements() {
    if (config_.compartments.empty()) return;  // already reported; anything further would be noise
    std::vector<std::string> homeless;
    for (const KnownLibrary& library : known_) {
      if (!config_.compartment_of(library.name) && !misplaced_.contains(library.name)) homeless.push_back(library.name);
    }
    // A default that is declared but broken has been reported; blaming the libraries
    // that would have run there too would send the user after the wrong mistake.
    const bool default_declared =
        default_unknown_ || std::any_of(entries_.begin(), entries_.end(),
                                        [](const CompartmentEntry& entry) { return entry.default_where.has_value(); });
    if (!homeless.empty() && !default_declared) {
      add(compartments_where_,
          "no compartment is `default: true`, so " + join(homeless) + " " + (homeless.size() == 1 ? "has" : "have") +
              " no compartment to run in",
          "mark one compartment `default: true` or place them under libraries:");
    }
    std::set<std::pair<std::string, std::string>> reported;
    for (const KnownLibrary& library : known_) {
      for (const std::string& partner : library.must_stay_with) {
        const auto here = config_.compartment_of(library.name);
        const auto there = config_.compartment_of(partner);
        if (!here || !there || *here == *there) continue;
        if (!reported.insert(std::minmax(library.name, partner)).second) continue;
        add(placement_of(library.name),
            "library '" + library.name + "' must share a compartment with '" + partner + "' (they share state), but '" +
                library.name + "' is in '" + *here + "' and '" + partner + "' is in '" + *there + "'",
            "place both in the same compartment, e.g. `" + partner + ": { compartment: " + *here +
                " }` under libraries:");
      }
    }
  }

  SourceLocation placement_of(std::string_view library) const {
    for (const LibraryPlacement& placement : config_.libraries) {
      if (placement.library == library) return placement.where;
    }
    for (const CompartmentConfig& c : config_.compartments) {
      if (c.is_default) return c.where;
    }
    return compartments_where_;
  }

  const std::string& path_;
  // A share of a heap: a decimal in (0, 1] (0.25) or a percentage (25%).
  std::optional<double> fraction(const YAML::Node& key, const YAML::Node& value, std::string_view owner) {
    const std::string forms = "a decimal above 0 and at most 1 (0.25) or a percentage (25%)";
    const auto text = scalar(key, value, forms);
    if (!text) return std::nullopt;
    std::string number = *text;
    double scale = 1;
    if (!number.empty() && number.back() == '%') {
      number.pop_back();
      scale = 100;
    }
    char* end = nullptr;
    const double parsed = number.empty() ? 0 : std::strtod(number.c_str(), &end);
    const bool whole = !number.empty() && end != nullptr && *end == '\0';
    const double share = parsed / scale;
    if (!whole || !(share > 0) || share > 1) {
      add(at(value.Mark()),
          "`" + key.Scalar() + "` of " + std::string(owner) + " is '" + *text + "', not a share of the heap above 0 " +
              "and at most all of it",
          "write " + forms);
      return std::nullopt;
    }
    return share;
  }

  // Sweep and load-filter revoke capabilities: a page backend has none to revoke. Pages
  // revokes page access, which the page backends can take from every compartment: at
  // once in one address space, at each process's next gate crossing on process
  // (docs/revocation.md).
  void check_revocation() {
    if (config_.revocation == RevocationPolicy::Pages && image_revocation_where_) {
      for (const CompartmentEntry& entry : entries_) {
        if (!entry.driver || entry.config.backend == Backend::Mprotect || entry.config.backend == Backend::IntelPku ||
            entry.config.backend == Backend::Process) {
          continue;
        }
        const std::string why = entry.config.backend == Backend::Cheri ? "the cheri driver revokes capabilities instead"
                                                                        : "the fcalls driver protects no pages";
        add(*image_revocation_where_,
            "`revocation: pages` protects freed pages of the shared heap, which needs the mprotect, process or "
            "intel-pku driver (" + label(entry) + "'s driver is " + *entry.driver + ": " + why + ")",
            entry.config.backend == Backend::Cheri ? "use `revocation: sweep` or `revocation: load-filter` with cheri"
                                                   : "use `revocation: off`, or `driver: mprotect` in every compartment");
        return;
      }
    } else if (config_.revocation != RevocationPolicy::Off && image_revocation_where_) {
      for (const CompartmentEntry& entry : entries_) {
        if (!entry.driver || entry.config.backend == Backend::Cheri) continue;
        const bool paged = entry.config.backend == Backend::Mprotect || entry.config.backend == Backend::IntelPku ||
                           entry.config.backend == Backend::Process;
        add(*image_revocation_where_,
            "`revocation: " + std::string(to_string(config_.revocation)) +
                "` revokes capabilities, which only the cheri driver has (" + label(entry) + "'s driver is " +
                *entry.driver + ")",
            paged ? "use `revocation: pages` (freed shared pages made inaccessible), `revocation: off`, or "
                    "`driver: cheri` in every compartment"
                  : "use `revocation: off`, or `driver: cheri` in every compartment");
        return;
      }
    }
    for (const CompartmentEntry& entry : entries_) {
      const CompartmentConfig& c = entry.config;
      if (!entry.revocation_where || c.revocation == RevocationPolicy::Off) continue;
      if (c.revocation == RevocationPolicy::Pages) {
        add(*entry.revocation_where,
            label(entry) + " sets `revocation: pages`, which applies to the shared heap only (no other "
                           "compartment reaches this one's heap on a page backend)",
            "write `revocation: pages` at the top level of the configuration");
        continue;
      }
      if (!entry.driver || c.backend == Backend::Cheri) continue;
      add(*entry.revocation_where,
          label(entry) + " sets `revocation: " + std::string(to_string(c.revocation)) +
              "`, which revokes capabilities: only the cheri driver has them (its driver is " + *entry.driver + ")",
          "use `revocation: off` in " + label(entry) + ", or `driver: cheri`");
    }
  }

  const std::vector<KnownLibrary>& known_;
  const LibraryCheck check_;
  std::vector<std::string> known_names_;
  Config config_;
  std::vector<ConfigError> errors_;
  std::vector<CompartmentEntry> entries_;
  std::vector<std::string> declared_;  // valid compartment names, in file order
  std::set<std::string> misplaced_;    // libraries whose placement was an error already reported
  SourceLocation compartments_where_;
  bool default_unknown_ = false;  // a `default:` was unreadable, so which compartment is default is unknown
  bool vmept_noted_ = false;
  std::optional<Sharing> image_sharing_;  // the top-level `sharing:`, when written and valid
  std::optional<SourceLocation> image_sharing_where_;
  std::optional<SourceLocation> overlap_size_where_;
  std::optional<SourceLocation> image_revocation_where_;
};

}  // namespace

std::string_view to_string(Backend backend) {
  switch (backend) {
    case Backend::Fcall: return "fcall";
    case Backend::IntelPku: return "intel-pku";
    case Backend::Mprotect: return "mprotect";
    case Backend::Process: return "process";
    case Backend::Cheri: return "cheri";
  }
  return "unknown";
}

std::string_view to_string(RevocationPolicy policy) {
  switch (policy) {
    case RevocationPolicy::Off: return "off";
    case RevocationPolicy::Sweep: return "sweep";
    case RevocationPolicy::LoadFilter: return "load-filter";
    case RevocationPolicy::Pages: return "pages";
  }
  return "unknown";
}

std::string_view to_string(Sharing sharing) {
  switch (sharing) {
    case Sharing::Capability: return "capabilities";
    case Sharing::Copy: return "copy";
    case Sharing::Overlap: return "overlap";
  }
  return "unknown";
}

std::optional<std::string> Config::compartment_of(std::string_view library) const {
  for (const LibraryPlacement& placement : libraries) {
    if (placement.library == library) return placement.compartment;
  }
  for (const CompartmentConfig& c : compartments) {
    if (c.is_default) return c.name;
  }
  return std::nullopt;
}

const CompartmentConfig* Config::find_compartment(std::string_view name) const {
  for (const CompartmentConfig& c : compartments) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string ConfigError::describe() const {
  std::string out = where.file.empty() ? "<config>" : where.file;
  if (where.line > 0) {
    out += ":" + std::to_string(where.line);
    if (where.column > 0) out += ":" + std::to_string(where.column);
  }
  out += ": " + message;
  if (!fix.empty()) out += ". Fix: " + fix;
  return out;
}

Expected<Config, std::vector<ConfigError>> parse_config(std::string_view text, const std::string& path,
                                                        const std::vector<KnownLibrary>& known_libraries,
                                                        LibraryCheck check) {
  return Reader(path, known_libraries, check).read(text);
}

Expected<Config, std::vector<ConfigError>> load_config(const std::string& path,
                                                       const std::vector<KnownLibrary>& known_libraries,
                                                       LibraryCheck check) {
  std::string text;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  int error = file ? 0 : errno;
  if (file) {
    char buffer[4096];
    std::size_t count = 0;
    while ((count = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, count);
    if (std::ferror(file)) error = errno;  // e.g. EISDIR: a folder opens but does not read
    std::fclose(file);
  }
  if (error != 0) {
    return Unexpected(std::vector<ConfigError>{
        {{path, 0, 0}, "cannot read configuration '" + path + "': " + errno_text(error), "check the path"}});
  }
  return parse_config(text, path, known_libraries, check);
}

namespace {
#if defined(__linux__) && defined(__x86_64__)
BackendSupport probe_protection_keys() {
  // Asking for a key is the one test that covers the CPU, its firmware setting and the
  // kernel at once; the key goes straight back.
  const int key = pkey_alloc(0, 0);
  if (key >= 0) {
    pkey_free(key);
    return {};
  }
  const int error = errno;
  const std::string failed = "pkey_alloc failed (" + errno_text(error) + ")";
  const std::string advice = "; use driver mprotect or cheri, or run on a CPU with PKU";
  // Linux answers ENOSPC both when the CPU has no keys and when all are taken, so the
  // CPU is asked which it is. CPUID leaf 7: ECX bit 3 is PKU, bit 4 OSPKE (the kernel
  // turned it on).
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool has_leaf = __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) != 0;
  if (!has_leaf || (ecx & (1u << 3)) == 0) return {false, "this CPU has no protection keys (PKU): " + failed + advice};
  if ((ecx & (1u << 4)) == 0) {
    return {false, "this CPU has protection keys but the kernel has not enabled them (booted with nopku?): " + failed +
                       advice};
  }
  if (error == ENOSYS) return {false, "this kernel has no protection-key system calls: " + failed + advice};
  if (error == ENOSPC) return {false, "every protection key of this process is in use: " + failed + advice};
  return {false, "protection keys are unavailable: " + failed + advice};
}
#endif
}  // namespace

BackendSupport backend_support([[maybe_unused]] Backend backend) {
#if defined(__linux__) && defined(__x86_64__)
  if (backend != Backend::IntelPku) return {};
  // Probed once: the machine does not change, and the kernel's errno for a failed
  // pkey_alloc is not stable across calls (ENOSPC, then EINVAL, seen here).
  static const BackendSupport keys = probe_protection_keys();
  return keys;
#else
  return {false, "FlexCap's backends run on Linux x86-64 only; use that system"};
#endif
}

std::vector<ConfigError> check_runnable(const Config& config) {
  std::vector<ConfigError> errors;
  if (config.compartments.empty()) return errors;
  std::vector<std::string_view> runnable;
  for (Backend b : {Backend::Fcall, Backend::IntelPku, Backend::Mprotect, Backend::Process, Backend::Cheri}) {
    if (backend_support(b).available) runnable.push_back(b == Backend::Fcall ? "fcalls" : to_string(b));
  }
  const std::string alternatives = runnable.empty() ? "" : " (" + join(runnable) + ")";
  const BackendSupport support = backend_support(config.backend());
  if (!support.available) {
    errors.push_back({config.compartments.front().driver_where, support.reason,
                      "choose a driver this machine can run" + alternatives + " or run the image on a machine with " +
                          std::string(to_string(config.backend()))});
  }
  const BackendSupport pku = backend_support(Backend::IntelPku);
  for (const CompartmentConfig& c : config.compartments) {
    if (c.backend == Backend::Cheri && c.page_substrate == PageSubstrate::IntelPku && !pku.available) {
      errors.push_back({c.where, "compartment '" + c.name + "' uses page-substrate intel-pku, but " + pku.reason,
                        "use `page-substrate: mprotect` (or none) in compartment '" + c.name + "'"});
    }
  }
  return errors;
}

}  // namespace flexcap::rt
