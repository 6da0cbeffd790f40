// The configuration reader: what a valid file becomes, and that each mistake a user can
// make is reported at its line with a message and a fix, all of them in one pass.
#include "flexcap/rt/config.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace flexcap::rt {
namespace {

// The build passes the source tree's folders, so the test runs from anywhere.
constexpr const char* kData = FLEXCAP_CONFIG_TEST_DATA;
constexpr const char* kExamples = FLEXCAP_EXAMPLES_DIR;

std::vector<KnownLibrary> filesystem_libraries() { return {{"vfs", {}}, {"ramfs", {}}, {"sqlite", {}}}; }

Expected<Config, std::vector<ConfigError>> parse(std::string_view text,
                                                 const std::vector<KnownLibrary>& known = filesystem_libraries()) {
  return parse_config(text, "test.yaml", known);
}

std::string describe_all(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) out += "\n  " + e.describe();
  return out;
}

// The errors of a file that must not parse (none, with a test failure, if it does).
std::vector<ConfigError> errors_of(std::string_view text,
                                   const std::vector<KnownLibrary>& known = filesystem_libraries()) {
  auto result = parse(text, known);
  EXPECT_FALSE(result) << "expected errors in:\n" << text;
  return result ? std::vector<ConfigError>{} : result.error();
}

// The only error of a file with exactly one mistake.
ConfigError only_error(std::string_view text, const std::vector<KnownLibrary>& known = filesystem_libraries()) {
  const std::vector<ConfigError> errors = errors_of(text, known);
  EXPECT_EQ(errors.size(), 1u) << describe_all(errors);
  return errors.empty() ? ConfigError{} : errors.front();
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// Two compartments on mprotect; tests append to it or change a line.
constexpr std::string_view kTwoCompartments = R"(compartments:
  - name: app
    mechanism: { driver: mprotect }
    default: true
  - name: fs
    mechanism: { driver: mprotect }
libraries:
  vfs: { compartment: fs }
)";

// --- What a valid file becomes --------------------------------------------------

TEST(ParseConfig, ReadsAFlexosFileAndIgnoresFlexosOnlyKeys) {
  auto config = load_config(std::string(kData) + "/flexos_style.yaml",
                            {{"tlsf", {}}, {"vfs", {}}, {"ramfs", {}}, {"sqlite", {}}});
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_EQ(config->backend(), Backend::Mprotect);
  ASSERT_EQ(config->compartments.size(), 2u);
  EXPECT_EQ(config->compartments[0].name, "comp1");
  EXPECT_TRUE(config->compartments[0].is_default);
  EXPECT_EQ(config->compartments[1].heap_bytes, 8ull << 20);
  EXPECT_EQ(config->compartment_of("vfs"), "comp2");
  EXPECT_EQ(config->compartment_of("ramfs"), "comp2");
  EXPECT_EQ(config->compartment_of("tlsf"), "comp1") << "listed without a compartment: the default";
  EXPECT_EQ(config->compartment_of("sqlite"), "comp1") << "Unikraft's `name: version` form: the default";
  EXPECT_TRUE(config->notes.empty());
}

TEST(ParseConfig, RecordsWhereEachCompartmentAndPlacementIsWritten) {
  auto config = parse(kTwoCompartments);
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_EQ(config->path, "test.yaml");
  EXPECT_EQ(config->compartments[1].where.line, 5);
  EXPECT_EQ(config->compartments[1].driver_where.line, 6);
  ASSERT_EQ(config->libraries.size(), 1u);
  EXPECT_EQ(config->libraries[0].library, "vfs");
  EXPECT_EQ(config->libraries[0].where.line, 8);
  EXPECT_EQ(config->libraries[0].where.file, "test.yaml");
}

TEST(ParseConfig, GivesDefaultsForOmittedSettings) {
  auto config = parse(kTwoCompartments);
  ASSERT_TRUE(config);
  const CompartmentConfig& fs = *config->find_compartment("fs");
  EXPECT_EQ(fs.heap_bytes, 4ull << 20);
  EXPECT_EQ(fs.stack_bytes, 256ull << 10);
  EXPECT_EQ(fs.sharing, Sharing::Capability);
  EXPECT_EQ(fs.restart, RestartPolicy::Never);
  EXPECT_EQ(fs.page_substrate, PageSubstrate::None);
  EXPECT_FALSE(fs.is_default);
}

TEST(ParseConfig, ReadsFlexcapExtensions) {
  auto config = parse(R"(compartments:
  - name: app
    mechanism: { driver: cheri }
    default: true
    heap: 8MiB
    stack: 64K
    sharing: copy
    restart: on-fault
    page-substrate: mprotect
)");
  ASSERT_TRUE(config) << describe_all(config.error());
  const CompartmentConfig& app = config->compartments.front();
  EXPECT_EQ(app.heap_bytes, 8388608u);
  EXPECT_EQ(app.stack_bytes, 65536u);
  EXPECT_EQ(app.sharing, Sharing::Copy);
  EXPECT_EQ(app.restart, RestartPolicy::OnFault);
  EXPECT_EQ(app.page_substrate, PageSubstrate::Mprotect);
}

TEST(ParseConfig, MapsEveryDriverNameToItsBackend) {
  const std::pair<const char*, Backend> cases[] = {{"fcalls", Backend::Fcall},       {"fcall", Backend::Fcall},
                                                   {"intel-pku", Backend::IntelPku}, {"mprotect", Backend::Mprotect},
                                                   {"process", Backend::Process},    {"cheri", Backend::Cheri}};
  for (const auto& [driver, backend] : cases) {
    auto config = parse("compartments: [{name: app, default: true, mechanism: {driver: " + std::string(driver) + "}}]");
    ASSERT_TRUE(config) << driver << describe_all(config.error());
    EXPECT_EQ(config->backend(), backend) << driver;
    EXPECT_TRUE(config->notes.empty()) << driver;
  }
}

TEST(ParseConfig, RunsFlexosVmeptAsProcessAndSaysSo) {
  auto config = parse(R"(compartments:
  - { name: app, default: true, mechanism: { driver: vmept } }
  - { name: fs, mechanism: { driver: vmept } }
)");
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_EQ(config->backend(), Backend::Process);
  ASSERT_EQ(config->notes.size(), 1u) << "one note, however many compartments use vmept";
  EXPECT_TRUE(contains(config->notes[0], "vmept"));
  EXPECT_TRUE(contains(config->notes[0], "process"));
}

TEST(ParseConfig, VmeptAndProcessAreOneMechanism) {
  auto config = parse(R"(compartments:
  - { name: app, default: true, mechanism: { driver: process } }
  - { name: fs, mechanism: { driver: vmept } }
)");
  EXPECT_TRUE(config) << describe_all(config.error());
}

// --- Sizes ----------------------------------------------------------------------

std::uint64_t heap_of(const std::string& size) {
  auto config = parse("compartments: [{name: app, default: true, mechanism: {driver: fcalls}, heap: '" + size + "'}]");
  EXPECT_TRUE(config) << size << (config ? "" : describe_all(config.error()));
  return config ? config->compartments.front().heap_bytes : 0;
}

TEST(Sizes, AcceptPlainBytesAndBinaryUnits) {
  EXPECT_EQ(heap_of("8MiB"), 8388608u);
  EXPECT_EQ(heap_of("64K"), 65536u);
  EXPECT_EQ(heap_of("65536"), 65536u);
  EXPECT_EQ(heap_of("65536B"), 65536u);
  EXPECT_EQ(heap_of("64KiB"), 65536u);
  EXPECT_EQ(heap_of("2MB"), 2u << 20) << "MB is binary, as FlexOS and Unikraft mean it";
  EXPECT_EQ(heap_of("2M"), 2u << 20);
  EXPECT_EQ(heap_of("1G"), 1u << 30);
  EXPECT_EQ(heap_of("1 GiB"), 1u << 30);
  EXPECT_EQ(heap_of("64GiB"), 64ull << 30) << "the largest heap";
}

TEST(Sizes, ReadPlainBytesAsBytes) {
  EXPECT_EQ(heap_of("65536"), 65536u);
  // 4096 is below every minimum, so its range error shows how it was read.
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: fcalls }
    default: true
    stack: 4096
)");
  EXPECT_EQ(e.where.line, 5);
  EXPECT_TRUE(contains(e.message, "4096 (4KiB)")) << e.describe();
  EXPECT_TRUE(contains(e.message, "16KiB to 1GiB")) << e.describe();
}

TEST(Sizes, RejectSomethingElseAndSayWhichFormsWork) {
  for (const char* bad : {"8 parsecs", "1.5MiB", "MiB", "-4096", "8TiB", "99999999999999999999"}) {
    const ConfigError e = only_error("compartments:\n  - name: app\n    default: true\n    heap: " + std::string(bad) +
                                     "\n    mechanism: { driver: fcalls }\n");
    EXPECT_EQ(e.where.line, 4) << bad;
    EXPECT_TRUE(contains(e.message, "not a size")) << e.describe();
    EXPECT_TRUE(contains(e.fix, "8MiB")) << e.describe();
    EXPECT_TRUE(contains(e.fix, "64KiB to 64GiB")) << e.describe();
  }
}

TEST(Sizes, EnforceTheHeapAndStackRanges) {
  const std::vector<ConfigError> errors = errors_of(R"(compartments:
  - name: app
    mechanism: { driver: fcalls }
    default: true
    heap: 32KiB
    stack: 2GiB
  - name: big
    mechanism: { driver: fcalls }
    heap: 65GiB
)");
  ASSERT_EQ(errors.size(), 3u) << describe_all(errors);
  EXPECT_EQ(errors[0].where.line, 5);
  EXPECT_TRUE(contains(errors[0].message, "32KiB")) << errors[0].describe();
  EXPECT_EQ(errors[1].where.line, 6);
  EXPECT_TRUE(contains(errors[1].fix, "16KiB to 1GiB")) << errors[1].describe();
  EXPECT_EQ(errors[2].where.line, 9);
}

// --- The compartments list -------------------------------------------------------

TEST(CompartmentErrors, SyntaxErrorIsReportedAtItsPosition) {
  const ConfigError e = only_error("compartments:\n  - name: app\n     bad: x\n");
  EXPECT_EQ(e.where.file, "test.yaml");
  EXPECT_EQ(e.where.line, 3);
  EXPECT_GT(e.where.column, 0);
  EXPECT_TRUE(contains(e.message, "YAML syntax error")) << e.describe();
  EXPECT_FALSE(e.fix.empty());
}

TEST(CompartmentErrors, UnclosedBracketIsASyntaxError) {
  const ConfigError e = only_error("compartments:\n  - name: app\n    mechanism: {driver: mprotect\n");
  EXPECT_TRUE(contains(e.message, "YAML syntax error")) << e.describe();
  EXPECT_GT(e.where.line, 0);
}

TEST(CompartmentErrors, EmptyFileSaysWhatToWrite) {
  const ConfigError e = only_error("");
  EXPECT_TRUE(contains(e.message, "empty")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "compartments:")) << e.describe();
}

TEST(CompartmentErrors, MissingCompartmentsIsAnError) {
  const ConfigError e = only_error("name: app\nlibraries: {}\n");
  EXPECT_EQ(e.where.line, 1);
  EXPECT_TRUE(contains(e.message, "no `compartments:`")) << e.describe();
}

TEST(CompartmentErrors, MisspelledTopLevelKeyGetsASuggestion) {
  const std::vector<ConfigError> errors = errors_of("specification: '0.6'\ncompartment:\n  - name: app\n");
  ASSERT_EQ(errors.size(), 2u) << describe_all(errors);
  EXPECT_TRUE(contains(errors[0].message, "no `compartments:`")) << errors[0].describe();
  EXPECT_EQ(errors[1].where.line, 2);
  EXPECT_TRUE(contains(errors[1].message, "did you mean 'compartments'")) << errors[1].describe();
}

TEST(CompartmentErrors, EmptyCompartmentsIsAnError) {
  for (const char* text : {"specification: '0.6'\ncompartments: []\n", "specification: '0.6'\ncompartments:\n"}) {
    const ConfigError e = only_error(text);
    EXPECT_EQ(e.where.line, 2) << text;
    EXPECT_TRUE(contains(e.message, "empty")) << e.describe();
  }
}

TEST(CompartmentErrors, CompartmentsMustBeAList) {
  const ConfigError e = only_error("compartments:\n  app: { mechanism: { driver: fcalls } }\n");
  EXPECT_EQ(e.where.line, 2);
  EXPECT_TRUE(contains(e.message, "must be a list")) << e.describe();
}

TEST(CompartmentErrors, EachEntryMustBeAMapping) {
  const std::vector<ConfigError> errors = errors_of(R"(compartments:
  - { name: app, default: true, mechanism: { driver: fcalls } }
  - fs
)");
  ASSERT_EQ(errors.size(), 1u) << describe_all(errors);
  EXPECT_EQ(errors[0].where.line, 3);
  EXPECT_TRUE(contains(errors[0].message, "compartment #2 is not a mapping")) << errors[0].describe();
}

TEST(CompartmentErrors, MissingNameMechanismOrDriver) {
  const std::vector<ConfigError> errors = errors_of(R"(compartments:
  - mechanism: { driver: fcalls }
    default: true
  - name: fs
  - name: net
    mechanism: { noisolstack: true }
)");
  ASSERT_EQ(errors.size(), 3u) << describe_all(errors);
  EXPECT_EQ(errors[0].where.line, 2);
  EXPECT_TRUE(contains(errors[0].message, "has no `name`")) << errors[0].describe();
  EXPECT_EQ(errors[1].where.line, 4);
  EXPECT_TRUE(contains(errors[1].message, "'fs' has no `mechanism`")) << errors[1].describe();
  EXPECT_TRUE(contains(errors[1].fix, "driver: mprotect")) << errors[1].describe();
  EXPECT_EQ(errors[2].where.line, 6);
  EXPECT_TRUE(contains(errors[2].message, "has no `driver`")) << errors[2].describe();
}

TEST(CompartmentErrors, InvalidNameIsAnError) {
  const ConfigError e = only_error("compartments: [{name: 1st, default: true, mechanism: {driver: fcalls}}]\n");
  EXPECT_TRUE(contains(e.message, "'1st' is not a valid name")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "letter")) << e.describe();
}

TEST(CompartmentErrors, DuplicateNamesNameBothLines) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: fcalls }
    default: true
  - name: app
    mechanism: { driver: fcalls }
)");
  EXPECT_EQ(e.where.line, 5);
  EXPECT_TRUE(contains(e.message, "'app' is used twice (line 2 and line 5)")) << e.describe();
}

TEST(CompartmentErrors, UnknownDriverListsTheAcceptedOnesAndSuggests) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism:
      driver: mprotekt
    default: true
)");
  EXPECT_EQ(e.where.line, 4);
  EXPECT_EQ(e.where.column, 15);
  EXPECT_TRUE(contains(e.message, "unknown driver 'mprotekt'")) << e.describe();
  EXPECT_TRUE(contains(e.message, "did you mean 'mprotect'")) << e.describe();
  for (const char* driver : {"fcalls", "intel-pku", "mprotect", "process", "cheri"}) {
    EXPECT_TRUE(contains(e.fix, driver)) << e.describe();
  }
}

TEST(CompartmentErrors, BooleansMustBeTrueOrFalse) {
  const std::vector<ConfigError> errors = errors_of(R"(compartments:
  - name: app
    mechanism: { driver: fcalls, noisolstack: sometimes }
    default: maybe
)");
  ASSERT_EQ(errors.size(), 2u) << describe_all(errors) << "\n(and no cascade about a missing default)";
  EXPECT_EQ(errors[0].where.line, 3);
  EXPECT_TRUE(contains(errors[0].message, "'sometimes'")) << errors[0].describe();
  EXPECT_EQ(errors[1].where.line, 4);
  EXPECT_TRUE(contains(errors[1].message, "must be true or false, not 'maybe'")) << errors[1].describe();
  EXPECT_TRUE(contains(errors[1].fix, "default: true")) << errors[1].describe();
}

TEST(CompartmentErrors, NameMustBeAWordNotAList) {
  const ConfigError e = only_error(R"(compartments:
  - name: [app, fs]
    mechanism: { driver: fcalls }
    default: true
)");
  EXPECT_EQ(e.where.line, 2);
  EXPECT_TRUE(contains(e.message, "`name` is a list")) << e.describe();
}

TEST(CompartmentErrors, EmptyValueIsReportedAtItsKey) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: fcalls }
    default: true
    heap:
    stack: 64KiB
)");
  EXPECT_EQ(e.where.line, 5) << "yaml-cpp marks an empty value at the next line; the key is where to look";
  EXPECT_TRUE(contains(e.message, "`heap` has no value")) << e.describe();
}

TEST(CompartmentErrors, UnknownKeySuggestsTheLikelyOneAndListsAll) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: fcalls }
    defualt: true
)",
                                   {});
  EXPECT_EQ(e.where.line, 4);
  EXPECT_EQ(e.where.column, 5);
  EXPECT_TRUE(contains(e.message, "unknown key 'defualt' in compartment 'app'")) << e.describe();
  EXPECT_TRUE(contains(e.message, "did you mean 'default'")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "heap, stack, sharing, restart, page-substrate, revocation")) << e.describe();
}

TEST(CompartmentErrors, UnlikeKeyGetsNoSuggestion) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: fcalls }
    default: true
    colour: blue
)");
  EXPECT_FALSE(contains(e.message, "did you mean")) << e.describe();
}

TEST(CompartmentErrors, UnknownMechanismKeyIsAnError) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: fcalls, noisolstak: true }
    default: true
)");
  EXPECT_EQ(e.where.line, 3);
  EXPECT_TRUE(contains(e.message, "did you mean 'noisolstack'")) << e.describe();
}

TEST(CompartmentErrors, KeyWrittenTwiceIsAnError) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: fcalls }
    default: true
    heap: 1MiB
    heap: 2MiB
)");
  EXPECT_EQ(e.where.line, 6);
  EXPECT_TRUE(contains(e.message, "'heap' appears twice")) << e.describe();
  EXPECT_TRUE(contains(e.message, "line 5")) << e.describe();
}

TEST(CompartmentErrors, SharingAndRestartTakeTheirWords) {
  const std::vector<ConfigError> errors = errors_of(R"(compartments:
  - name: app
    mechanism: { driver: fcalls }
    default: true
    sharing: capabilty
    restart: always
)");
  ASSERT_EQ(errors.size(), 2u) << describe_all(errors);
  EXPECT_EQ(errors[0].where.line, 5);
  EXPECT_TRUE(contains(errors[0].message, "did you mean 'capability'")) << errors[0].describe();
  EXPECT_TRUE(contains(errors[0].fix, "use one of capabilities, copy, overlap")) << errors[0].describe();
  EXPECT_EQ(errors[1].where.line, 6);
  EXPECT_TRUE(contains(errors[1].fix, "never, on-fault")) << errors[1].describe();
}

TEST(CompartmentErrors, AllCompartmentsShareOneDriver) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism:
      driver: mprotect
    default: true
  - name: fs
    mechanism:
      driver: cheri
)");
  EXPECT_EQ(e.where.line, 8);
  EXPECT_TRUE(contains(e.message, "one mechanism")) << e.describe();
  EXPECT_TRUE(contains(e.message, "'fs' (line 8) uses cheri but 'app' (line 4) uses mprotect")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "driver: mprotect")) << e.describe();
}

TEST(CompartmentErrors, TwoDefaultsNameBothLines) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: fcalls }
    default: true
  - name: fs
    mechanism: { driver: fcalls }
    default: true
)");
  EXPECT_EQ(e.where.line, 7);
  EXPECT_TRUE(contains(e.message, "'app' (line 4) and 'fs' (line 7)")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "one compartment")) << e.describe();
}

TEST(CompartmentErrors, DefaultFalseIsNotADefault) {
  auto config = parse(R"(compartments:
  - { name: app, default: true, mechanism: { driver: fcalls } }
  - { name: fs, default: false, mechanism: { driver: fcalls } }
)");
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_FALSE(config->find_compartment("fs")->is_default);
}

TEST(CompartmentErrors, PageSubstrateOnlyWithCheri) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: mprotect }
    default: true
    page-substrate: intel-pku
)");
  EXPECT_EQ(e.where.line, 5);
  EXPECT_TRUE(contains(e.message, "only the cheri driver")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "remove `page-substrate`")) << e.describe();
}

TEST(CompartmentErrors, PageSubstrateTakesItsWords) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: cheri }
    default: true
    page-substrate: pku
)");
  EXPECT_EQ(e.where.line, 5);
  EXPECT_TRUE(contains(e.fix, "none, mprotect, intel-pku")) << e.describe();
}

// --- Revocation: off, sweep, load-filter -----------------------------------------------

TEST(Revocation, IsOffUnlessAsked) {
  auto config = parse(R"(compartments:
  - name: app
    mechanism: { driver: cheri }
    default: true
)");
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_EQ(config->revocation, RevocationPolicy::Off);
  EXPECT_EQ(config->compartments[0].revocation, RevocationPolicy::Off);
  EXPECT_DOUBLE_EQ(config->compartments[0].quarantine_fraction, 0.25);
}

TEST(Revocation, TheImageSetsTheDefaultAndACompartmentItsOwn) {
  auto config = parse(R"(revocation: sweep
revocation-quarantine: 10%
compartments:
  - name: app
    mechanism: { driver: cheri }
    default: true
  - name: fs
    mechanism: { driver: cheri }
    revocation: load-filter
    revocation-quarantine: 0.5
)");
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_EQ(config->revocation, RevocationPolicy::Sweep);
  EXPECT_DOUBLE_EQ(config->quarantine_fraction, 0.1);
  EXPECT_EQ(config->compartments[0].revocation, RevocationPolicy::Sweep);
  EXPECT_DOUBLE_EQ(config->compartments[0].quarantine_fraction, 0.1);
  EXPECT_EQ(config->compartments[1].revocation, RevocationPolicy::LoadFilter);
  EXPECT_DOUBLE_EQ(config->compartments[1].quarantine_fraction, 0.5);
}

TEST(Revocation, TakesItsWords) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: cheri }
    default: true
    revocation: sweeping
)");
  EXPECT_EQ(e.where.line, 5);
  EXPECT_TRUE(contains(e.message, "'sweeping'")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "off, sweep, load-filter")) << e.describe();
}

TEST(Revocation, OnlyWithCheri) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: mprotect }
    default: true
    revocation: sweep
)");
  EXPECT_EQ(e.where.line, 5);
  EXPECT_TRUE(contains(e.message, "only the cheri driver")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "revocation: off")) << e.describe();
  const ConfigError image = only_error(R"(revocation: load-filter
compartments:
  - name: app
    mechanism: { driver: process }
    default: true
)");
  EXPECT_EQ(image.where.line, 1);
  EXPECT_TRUE(contains(image.message, "only the cheri driver")) << image.describe();
}

TEST(Revocation, PagesOnThePageBackends) {
  // The shared heap's freed pages, on mprotect, process and intel-pku; compartments keep
  // theirs off.
  for (const char* driver : {"mprotect", "process", "intel-pku"}) {
    auto config = parse(std::string(R"(revocation: pages
revocation-quarantine: 10%
compartments:
  - name: app
    mechanism: { driver: )") + driver + R"( }
    default: true
)");
    ASSERT_TRUE(config) << driver;
    EXPECT_EQ(config->revocation, RevocationPolicy::Pages);
    EXPECT_DOUBLE_EQ(config->quarantine_fraction, 0.10);
    EXPECT_EQ(config->compartments[0].revocation, RevocationPolicy::Off);
  }
  const ConfigError cheri = only_error(R"(revocation: pages
compartments:
  - name: app
    mechanism: { driver: cheri }
    default: true
)");
  EXPECT_EQ(cheri.where.line, 1);
  EXPECT_TRUE(contains(cheri.message, "revokes capabilities instead")) << cheri.describe();
  EXPECT_TRUE(contains(cheri.fix, "revocation: sweep")) << cheri.describe();
  const ConfigError fcalls = only_error(R"(revocation: pages
compartments:
  - name: app
    mechanism: { driver: fcalls }
    default: true
)");
  EXPECT_TRUE(contains(fcalls.message, "protects no pages")) << fcalls.describe();
  // A compartment's own heap is reached by no other compartment on a page backend.
  const ConfigError own = only_error(R"(compartments:
  - name: app
    mechanism: { driver: mprotect }
    default: true
    revocation: pages
)");
  EXPECT_EQ(own.where.line, 5);
  EXPECT_TRUE(contains(own.fix, "top level")) << own.describe();
  // Capability revocation on a page backend points at the page form.
  for (const char* driver : {"mprotect", "process"}) {
    const ConfigError sweep = only_error(std::string(R"(revocation: sweep
compartments:
  - name: app
    mechanism: { driver: )") + driver + R"( }
    default: true
)");
    EXPECT_TRUE(contains(sweep.fix, "revocation: pages")) << driver << ": " << sweep.describe();
  }
}

TEST(Revocation, TheQuarantineIsAShareOfTheHeap) {
  for (const char* bad : {"0", "1.5", "150%", "quarter", "-0.1"}) {
    const ConfigError e = only_error(std::string(R"(compartments:
  - name: app
    mechanism: { driver: cheri }
    default: true
    revocation-quarantine: )") + bad + "\n");
    EXPECT_EQ(e.where.line, 5) << bad;
    EXPECT_TRUE(contains(e.message, "not a share of the heap")) << e.describe();
    EXPECT_TRUE(contains(e.fix, "25%")) << e.describe();
  }
}

// --- Sharing: capabilities, copy, overlap ---------------------------------------------

// Two compartments, the second last, so that tests can add keys to it.
constexpr std::string_view kTwoCheri = R"(compartments:
  - name: app
    mechanism: { driver: cheri }
    default: true
  - name: fs
    mechanism: { driver: cheri }
)";
constexpr std::string_view kTwoMprotect = R"(compartments:
  - name: app
    mechanism: { driver: mprotect }
    default: true
  - name: fs
    mechanism: { driver: mprotect }
)";

TEST(Sharing, CapabilitiesAndItsOldSpellingAreOneThing) {
  for (const char* word : {"capabilities", "capability"}) {
    auto config = parse(std::string(kTwoMprotect) + "    sharing: " + word + "\n");
    ASSERT_TRUE(config) << word << describe_all(config.error());
    EXPECT_EQ(config->find_compartment("fs")->sharing, Sharing::Capability) << word;
  }
  EXPECT_EQ(to_string(Sharing::Capability), "capabilities");
  EXPECT_EQ(to_string(Sharing::Copy), "copy");
  EXPECT_EQ(to_string(Sharing::Overlap), "overlap");
}

TEST(Sharing, TheImageKeyIsEveryCompartmentsDefaultAndACompartmentMayDiffer) {
  auto config = parse("sharing: copy\n" + std::string(kTwoMprotect) + "    sharing: capabilities\n");
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_EQ(config->find_compartment("app")->sharing, Sharing::Copy);
  EXPECT_EQ(config->find_compartment("fs")->sharing, Sharing::Capability);
  EXPECT_FALSE(config->overlap());
  // Written after the compartments, it still applies to them.
  config = parse(std::string(kTwoMprotect) + "sharing: capability\n");
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_EQ(config->find_compartment("fs")->sharing, Sharing::Capability);
}

TEST(Sharing, OverlapForTheImageWithTheDefaultSize) {
  auto config = parse("sharing: overlap\n" + std::string(kTwoCheri));
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_TRUE(config->overlap());
  EXPECT_EQ(config->find_compartment("app")->sharing, Sharing::Overlap);
  EXPECT_EQ(config->find_compartment("fs")->sharing, Sharing::Overlap);
  EXPECT_EQ(config->overlap_bytes, 64u << 10);
  EXPECT_EQ(config->overlap_bytes, kDefaultOverlapBytes);
}

TEST(Sharing, OverlapSizeIsRead) {
  auto config = parse("sharing: overlap\noverlap-size: 128KiB\n" + std::string(kTwoCheri));
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_EQ(config->overlap_bytes, 128u << 10);
}

TEST(Sharing, OverlapWrittenOnEveryCompartmentIsTheSame) {
  auto config = parse(R"(compartments:
  - name: app
    mechanism: { driver: cheri }
    default: true
    sharing: overlap
  - name: fs
    mechanism: { driver: cheri }
    sharing: overlap
)");
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_TRUE(config->overlap());
}

TEST(SharingErrors, OverlapForTheImageNeedsCheri) {
  const ConfigError e = only_error("sharing: overlap\n" + std::string(kTwoMprotect));
  EXPECT_EQ(e.describe(),
            "test.yaml:1:10: `sharing: overlap` makes neighbouring compartments' DDCs overlap, which only the cheri "
            "driver has (this image's driver is mprotect, line 4). Fix: use `sharing: capabilities` or `sharing: "
            "copy`, or `driver: cheri` in every compartment");
}

TEST(SharingErrors, OverlapInACompartmentNeedsCheri) {
  const ConfigError e = only_error(std::string(kTwoMprotect) + "    sharing: overlap\n");
  EXPECT_EQ(e.describe(),
            "test.yaml:7:14: 'fs' sets `sharing: overlap`, which only the cheri driver has (its driver is mprotect). "
            "Fix: use `sharing: capabilities` or `sharing: copy` in 'fs', or `driver: cheri`");
}

TEST(SharingErrors, OverlapInOneCompartmentOnlyIsRefusedWhereTheOtherIs) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: cheri }
    default: true
    sharing: overlap
  - name: fs
    mechanism: { driver: cheri }
)");
  EXPECT_EQ(e.describe(),
            "test.yaml:6:5: 'fs' shares by capabilities (the default), but 'app' shares by overlap (line 5): overlap "
            "lays out the whole image, so every compartment must use it. Fix: write `sharing: overlap` once at the "
            "top level instead of in the compartments, or give every compartment the same `sharing:`");
}

TEST(SharingErrors, ACompartmentCannotLeaveAnOverlappingImage) {
  const ConfigError e = only_error("sharing: overlap\n" + std::string(kTwoCheri) + "    sharing: copy\n");
  EXPECT_EQ(e.describe(),
            "test.yaml:8:14: 'fs' sets `sharing: copy`, but the image shares by overlap (line 1): overlap lays out the "
            "whole image, so every compartment uses it. Fix: remove `sharing:` from 'fs'; the top-level `sharing: "
            "overlap` applies to it");
}

TEST(SharingErrors, OverlapSizeWithoutOverlap) {
  const ConfigError e = only_error("overlap-size: 64KiB\n" + std::string(kTwoCheri));
  EXPECT_EQ(e.describe(),
            "test.yaml:1:1: `overlap-size` is set, but the image does not use `sharing: overlap`. Fix: remove "
            "`overlap-size`, or add `sharing: overlap` at the top level (driver cheri)");
}

TEST(SharingErrors, OverlapSizeIsASizeInItsRange) {
  ConfigError e = only_error("sharing: overlap\noverlap-size: 1KiB\n" + std::string(kTwoCheri));
  EXPECT_EQ(e.describe(),
            "test.yaml:2:15: `overlap-size` of the image is 1KiB, outside 4KiB to 1GiB. Fix: choose an overlap-size "
            "from 4KiB to 1GiB");
  e = only_error("sharing: overlap\noverlap-size: lots\n" + std::string(kTwoCheri));
  EXPECT_EQ(e.where.line, 2);
  EXPECT_TRUE(contains(e.message, "is 'lots', not a size")) << e.describe();
}

TEST(SharingErrors, UnknownWordsAreSuggestedAndTheWordsListed) {
  ConfigError e = only_error("sharing: overlapp\n" + std::string(kTwoCheri));
  EXPECT_EQ(e.describe(),
            "test.yaml:1:10: `sharing` of the image is 'overlapp' (did you mean 'overlap'?). Fix: use one of "
            "capabilities, copy, overlap");
  e = only_error(std::string(kTwoCheri) + "    sharing: capabilites\n");
  EXPECT_EQ(e.where.line, 7);
  EXPECT_TRUE(contains(e.message, "`sharing` of compartment 'fs' is 'capabilites' (did you mean 'capabilities'?)"))
      << e.describe();
  e = only_error("sharng: overlap\n" + std::string(kTwoCheri));
  EXPECT_EQ(e.describe(),
            "test.yaml:1:1: unknown top-level key 'sharng' (did you mean 'sharing'?). Fix: rename it to "
            "`sharing`");
}

TEST(SharingErrors, ARefusedOverlapIsReportedOnce) {
  // The driver is the mistake; no second error about compartments that disagree, or
  // about the size.
  const ConfigError e = only_error(R"(overlap-size: 128KiB
compartments:
  - name: app
    mechanism: { driver: mprotect }
    default: true
    sharing: overlap
  - name: fs
    mechanism: { driver: mprotect }
)");
  EXPECT_EQ(e.where.line, 6);
}

// --- The libraries mapping ----------------------------------------------------------

TEST(LibraryErrors, LibrariesMustBeAMapping) {
  const ConfigError e = only_error(std::string(kTwoCompartments.substr(0, kTwoCompartments.find("libraries:"))) +
                                   "libraries:\n  - vfs\n");
  EXPECT_EQ(e.where.line, 8);
  EXPECT_TRUE(contains(e.message, "`libraries` must be a mapping")) << e.describe();
}

TEST(LibraryErrors, UnknownLibrarySuggestsAndListsTheKnownOnes) {
  const ConfigError e = only_error(std::string(kTwoCompartments) + "  ramfz: { compartment: fs }\n");
  EXPECT_EQ(e.where.line, 9);
  EXPECT_EQ(e.where.column, 3);
  EXPECT_TRUE(contains(e.message, "unknown library 'ramfz' (did you mean 'ramfs'?)")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "vfs, ramfs, sqlite")) << e.describe();
}

TEST(LibraryErrors, PlacementMustNameADeclaredCompartment) {
  const ConfigError e = only_error(std::string(kTwoCompartments) + "  ramfs: { compartment: fss }\n");
  EXPECT_EQ(e.where.line, 9);
  EXPECT_TRUE(contains(e.message, "'fss', which is not a declared compartment (did you mean 'fs'?)")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "app, fs")) << e.describe();
}

TEST(LibraryErrors, EveryKnownLibraryNeedsACompartment) {
  const ConfigError e = only_error(R"(compartments:
  - name: app
    mechanism: { driver: fcalls }
  - name: fs
    mechanism: { driver: fcalls }
libraries:
  vfs: { compartment: fs }
  sqlite:
)");
  EXPECT_EQ(e.where.line, 1);
  EXPECT_TRUE(contains(e.message, "ramfs, sqlite have no compartment")) << e.describe();
  EXPECT_FALSE(contains(e.message, "vfs")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "mark one compartment `default: true` or place them under libraries:")) << e.describe();
}

TEST(LibraryErrors, NoDefaultIsFineWhenEveryLibraryIsPlaced) {
  auto config = parse(R"(compartments:
  - { name: app, mechanism: { driver: fcalls } }
libraries:
  vfs: { compartment: app }
  ramfs: { compartment: app }
  sqlite: { compartment: app }
)");
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_EQ(config->compartment_of("unlisted"), std::nullopt);
}

std::vector<KnownLibrary> vfs_needs_ramfs() { return {{"vfs", {"ramfs"}}, {"ramfs", {}}, {"sqlite", {}}}; }

TEST(LibraryErrors, LibrariesThatMustStayTogetherCannotBeSplit) {
  const ConfigError e = only_error(kTwoCompartments, vfs_needs_ramfs());
  EXPECT_EQ(e.where.line, 8) << "at vfs's placement";
  EXPECT_TRUE(contains(e.message, "'vfs' must share a compartment with 'ramfs'")) << e.describe();
  EXPECT_TRUE(contains(e.message, "'vfs' is in 'fs' and 'ramfs' is in 'app'")) << e.describe();
  EXPECT_TRUE(contains(e.fix, "ramfs: { compartment: fs }")) << e.describe();
}

TEST(LibraryErrors, SplitFromADefaultLibraryPointsAtTheDefault) {
  const ConfigError e = only_error(kTwoCompartments, {{"sqlite", {"vfs"}}, {"vfs", {}}});
  EXPECT_EQ(e.where.line, 2) << "sqlite is in the default compartment, declared on line 2";
  EXPECT_TRUE(contains(e.message, "'sqlite' is in 'app' and 'vfs' is in 'fs'")) << e.describe();
}

TEST(LibraryErrors, LibrariesKeptTogetherPass) {
  auto config = parse(std::string(kTwoCompartments) + "  ramfs: { compartment: fs }\n", vfs_needs_ramfs());
  EXPECT_TRUE(config) << describe_all(config.error());
}

TEST(ParseConfig, ReportsEveryErrorInOnePass) {
  const std::vector<ConfigError> errors = errors_of(R"(compartments:
  - name: app
    mechanism: { driver: mprotect }
    default: true
    heap: lots
  - name: fs
    mechanism: { driver: cheri }
    stak: 64KiB
libraries:
  vfs: { compartment: fs }
  ramfz: { compartment: app }
)");
  ASSERT_EQ(errors.size(), 4u) << describe_all(errors);
  std::vector<int> lines;
  for (const ConfigError& e : errors) lines.push_back(e.where.line);
  EXPECT_EQ(lines, (std::vector<int>{5, 7, 8, 11})) << "every error, in file order" << describe_all(errors);
  for (const ConfigError& e : errors) {
    EXPECT_FALSE(e.message.empty());
    EXPECT_FALSE(e.fix.empty()) << e.describe();
  }
}

// --- Queries, messages, files --------------------------------------------------------

TEST(Config, CompartmentOfFollowsPlacementsThenTheDefault) {
  auto config = parse(kTwoCompartments);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->compartment_of("vfs"), "fs");
  EXPECT_EQ(config->compartment_of("ramfs"), "app");
  Config no_default = *config;
  no_default.compartments[0].is_default = false;
  EXPECT_EQ(no_default.compartment_of("vfs"), "fs");
  EXPECT_EQ(no_default.compartment_of("ramfs"), std::nullopt);
}

TEST(Config, FindCompartmentByName) {
  auto config = parse(kTwoCompartments);
  ASSERT_TRUE(config);
  ASSERT_NE(config->find_compartment("fs"), nullptr);
  EXPECT_EQ(config->find_compartment("fs")->name, "fs");
  EXPECT_EQ(config->find_compartment("nope"), nullptr);
}

TEST(Config, BackendNames) {
  EXPECT_EQ(to_string(Backend::Fcall), "fcall");
  EXPECT_EQ(to_string(Backend::IntelPku), "intel-pku");
  EXPECT_EQ(to_string(Backend::Mprotect), "mprotect");
  EXPECT_EQ(to_string(Backend::Process), "process");
  EXPECT_EQ(to_string(Backend::Cheri), "cheri");
}

// Built as a named value: GCC 12 warns (falsely) about an aggregate temporary inside EXPECT_EQ.
std::string describe(int line, int column) {
  ConfigError error;
  error.where = {"x.yaml", line, column};
  error.message = "unknown library 'ramfz'";
  error.fix = "use one of vfs, ramfs";
  return error.describe();
}

TEST(ConfigErrorDescribe, GivesFileLineColumnMessageAndFix) {
  EXPECT_EQ(describe(12, 5), "x.yaml:12:5: unknown library 'ramfz'. Fix: use one of vfs, ramfs");
  EXPECT_EQ(describe(12, 0), "x.yaml:12: unknown library 'ramfz'. Fix: use one of vfs, ramfs");
  EXPECT_EQ(describe(0, 0), "x.yaml: unknown library 'ramfz'. Fix: use one of vfs, ramfs");
}

TEST(LoadConfig, MissingFileSaysWhichAndWhy) {
  auto config = load_config("/nonexistent/kraft.yaml", {});
  ASSERT_FALSE(config);
  ASSERT_EQ(config.error().size(), 1u);
  const ConfigError& e = config.error().front();
  EXPECT_TRUE(contains(e.message, "/nonexistent/kraft.yaml")) << e.describe();
  EXPECT_TRUE(contains(e.message, "No such file or directory")) << e.describe();
  EXPECT_EQ(e.fix, "check the path");
}

TEST(LoadConfig, FolderIsNotAFile) {
  auto config = load_config(kData, {});
  ASSERT_FALSE(config);
  ASSERT_EQ(config.error().size(), 1u);
  EXPECT_TRUE(contains(config.error().front().message, "Is a directory")) << config.error().front().describe();
}

TEST(LoadConfig, ErrorsNameTheFile) {
  const std::string path = std::string(kData) + "/flexos_style.yaml";
  auto config = load_config(path, {{"vfs", {}}});
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().front().where.file, path);
  EXPECT_EQ(config.error().front().describe().rfind(path + ":", 0), 0u) << config.error().front().describe();
}

TEST(LoadConfig, UncheckedLibrariesAreTakenAsGivenButTheRestIsChecked) {
  // What `flexcap build` reads before the image's build knows the application's libraries.
  auto config = parse_config(kTwoCompartments, "test.yaml", {}, LibraryCheck::Unchecked);
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_EQ(config->compartment_of("vfs"), "fs");
  auto bad = parse_config("compartments: [{name: app, default: true, mechanism: {driver: fcals}}]\n"
                          "libraries: {anything: {compartment: app}}\n",
                          "test.yaml", {}, LibraryCheck::Unchecked);
  ASSERT_FALSE(bad);
  ASSERT_EQ(bad.error().size(), 1u) << describe_all(bad.error());
  EXPECT_TRUE(contains(bad.error().front().message, "fcals")) << describe_all(bad.error());
}

// --- Whether this machine can run it ------------------------------------------------

TEST(BackendSupport, PortableBackendsRunHere) {
  for (Backend backend : {Backend::Fcall, Backend::Mprotect, Backend::Process, Backend::Cheri}) {
    EXPECT_TRUE(backend_support(backend).available) << to_string(backend);
  }
}

TEST(BackendSupport, IntelPkuSaysWhyWhenItCannotRun) {
  const BackendSupport pku = backend_support(Backend::IntelPku);
  if (!pku.available) {
    EXPECT_FALSE(pku.reason.empty());
    EXPECT_TRUE(contains(pku.reason, "pkey_alloc")) << pku.reason;
    EXPECT_TRUE(contains(pku.reason, "mprotect")) << "the reason suggests another driver: " << pku.reason;
  }
  // A process has 15 keys; asking more often than that shows the probe gives its key back.
  for (int i = 0; i < 32; ++i) {
    ASSERT_EQ(backend_support(Backend::IntelPku).available, pku.available) << "asking again, time " << i;
  }
}

TEST(CheckRunnable, IntelPkuIsRunnableExactlyWhenTheMachineHasKeys) {
  auto config = load_config(std::string(kExamples) + "/conformance/intel-pku.yaml",
                            {{"conformance_a", {}}, {"conformance_b", {}}, {"conformance_c", {}}});
  ASSERT_TRUE(config) << describe_all(config.error());
  const BackendSupport pku = backend_support(Backend::IntelPku);
  const std::vector<ConfigError> errors = check_runnable(*config);
  if (pku.available) {
    EXPECT_TRUE(errors.empty()) << describe_all(errors);
  } else {
    ASSERT_EQ(errors.size(), 1u) << describe_all(errors);
    EXPECT_EQ(errors[0].message, pku.reason);
    EXPECT_EQ(errors[0].where.line, config->compartments.front().driver_where.line);
    EXPECT_EQ(errors[0].where.line, 6) << "the first compartment's driver";
    EXPECT_TRUE(contains(errors[0].fix, "mprotect")) << errors[0].describe();
  }
}

TEST(CheckRunnable, PortableBackendsAreRunnable) {
  auto config = parse(kTwoCompartments);
  ASSERT_TRUE(config);
  EXPECT_TRUE(check_runnable(*config).empty());
}

TEST(CheckRunnable, CheriWithAPkuSubstrateNeedsKeys) {
  auto config = parse(R"(compartments:
  - { name: app, default: true, mechanism: { driver: cheri }, page-substrate: intel-pku }
)");
  ASSERT_TRUE(config) << describe_all(config.error());
  const std::vector<ConfigError> errors = check_runnable(*config);
  EXPECT_EQ(errors.empty(), backend_support(Backend::IntelPku).available) << describe_all(errors);
}

// --- The conformance examples ---------------------------------------------------------

class ConformanceExample : public ::testing::TestWithParam<std::pair<const char*, Backend>> {};

TEST_P(ConformanceExample, PlacesTheThreeLibrariesInThreeCompartments) {
  const auto [driver, backend] = GetParam();
  auto config = load_config(std::string(kExamples) + "/conformance/" + driver + ".yaml",
                            {{"conformance_a", {}}, {"conformance_b", {}}, {"conformance_c", {}}});
  ASSERT_TRUE(config) << describe_all(config.error());
  EXPECT_EQ(config->backend(), backend);
  ASSERT_EQ(config->compartments.size(), 3u);
  EXPECT_TRUE(config->find_compartment("app")->is_default);
  EXPECT_EQ(config->compartment_of("conformance_a"), "app");
  EXPECT_EQ(config->compartment_of("conformance_b"), "b");
  EXPECT_EQ(config->compartment_of("conformance_c"), "c");
  for (const CompartmentConfig& c : config->compartments) {
    EXPECT_EQ(c.backend, backend) << c.name;
    EXPECT_EQ(c.page_substrate, PageSubstrate::None) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, ConformanceExample,
                         ::testing::Values(std::pair{"fcalls", Backend::Fcall},
                                           std::pair{"mprotect", Backend::Mprotect},
                                           std::pair{"process", Backend::Process},
                                           std::pair{"process-pages", Backend::Process},
                                           std::pair{"cheri", Backend::Cheri},
                                           std::pair{"intel-pku", Backend::IntelPku}),
                         [](const auto& test) {
                           std::string name = test.param.first;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace flexcap::rt
