// Every line of the Morello reference vectors (cap/test/data, copied from the shared
// conformance suite) must come out of the model bit for bit.
#include "flexcap/cap/conformance.hh"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace flexcap::cap {
namespace {

// The build passes the source tree's test data folder, so the test runs from anywhere.
constexpr const char* kVectors = FLEXCAP_CAP_TEST_DATA "/morello-cap-vectors.txt";

// The lines of one operation, as one stream.
std::istringstream lines_of(const std::string& op, std::size_t* count) {
  std::ifstream file(kVectors);
  EXPECT_TRUE(file) << "cannot open " << kVectors;
  std::string line;
  std::string selected;
  *count = 0;
  while (std::getline(file, line)) {
    if (line.rfind(op + " ", 0) == 0) {
      selected += line + "\n";
      ++*count;
    }
  }
  return std::istringstream(selected);
}

class Conformance : public ::testing::TestWithParam<std::pair<const char*, std::size_t>> {};

TEST_P(Conformance, EveryVectorMatches) {
  const auto [op, expected_lines] = GetParam();
  std::size_t count = 0;
  std::istringstream lines = lines_of(op, &count);
  EXPECT_EQ(count, expected_lines) << "the vector file changed: update the expected count only if that was intended";
  const CheckReport report = check_vectors(lines, 5);
  EXPECT_EQ(report.matched, count);
  for (const Mismatch& m : report.first_mismatches) {
    ADD_FAILURE() << op << " vector " << m.line_number << "\n  expected: " << m.expected
                  << "\n  actual:   " << m.actual;
  }
}

INSTANTIATE_TEST_SUITE_P(Morello, Conformance,
                         ::testing::Values(std::pair{"decode", 4067}, std::pair{"setbounds", 4000},
                                           std::pair{"fastrep", 4000}, std::pair{"preciserep", 4000},
                                           std::pair{"crrl", 2400}, std::pair{"cram", 2346}),
                         [](const auto& test) { return std::string(test.param.first); });

TEST(ConformanceFile, HoldsAllTwentyThousandEightHundredThirteenCases) {
  std::ifstream file(kVectors);
  ASSERT_TRUE(file);
  const CheckReport report = check_vectors(file, 0);
  EXPECT_EQ(report.lines, 20813u);
  EXPECT_TRUE(report.all_matched());
}

TEST(EvaluateLine, WritesTheVectorsFormat) {
  EXPECT_EQ(*evaluate_vector_line("crrl fff00000"), "crrl fff00000 => 100000000");
  EXPECT_EQ(*evaluate_vector_line("decode 0 0 0 => anything here is ignored"),
            "decode 0 0 0 => 0 10000000000000000 3f 1 1 0 0");
  EXPECT_EQ(*evaluate_vector_line("  cram   0010  "), "cram 10 => ffffffffffffffff") << "numbers come out canonical";
}

TEST(EvaluateLine, ExplainsWhatIsWrong) {
  auto expect_error = [](const std::string& line, const std::string& part) {
    auto r = evaluate_vector_line(line);
    ASSERT_FALSE(r) << line;
    EXPECT_NE(r.error().find(part), std::string::npos) << "for '" << line << "': " << r.error();
  };
  expect_error("frobnicate 1", "unknown operation 'frobnicate'");
  expect_error("decode 1 2", "decode takes 3 arguments (PESBT CURSOR TAG), got 2");
  expect_error("crrl 0x10", "not hexadecimal");
  expect_error("decode 0 0 2", "TAG '2' does not fit in 1 bits");
  expect_error("crrl 10000000000000000", "does not fit in 64 bits");
  expect_error("setbounds 0 0 1 10000000000000001", "larger than 2^64");
  expect_error("", "empty line");
}

}  // namespace
}  // namespace flexcap::cap
