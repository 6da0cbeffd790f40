// abi: purecap in an image: purecap C (table/src/table.c) in compartment `a`, reached
// through a gate. Its own objects are bounded as on Morello on every driver; a pointer
// it gets from the C++ beside it is derived from the compartment's DDC (cheri).
#include <gtest/gtest.h>

#include <string>

#include "flexcap/lib/purecap_table.hh"
#include "flexcap/rt/call.hh"

namespace flexcap {
namespace {

namespace table = lib::purecap_table;
constexpr bool kCheri = image::Backend::kKind == rt::Backend::Cheri;

TEST(PurecapImage, ItsOwnGlobalIsBoundedToTheObject) {
  auto inside = rt::call<table::Exports::at>(15);
  ASSERT_TRUE(inside) << inside.error().describe();
  EXPECT_EQ(inside->unsafe_unverified(), 16);
  auto past = rt::call<table::Exports::at>(16);
  ASSERT_FALSE(past) << "element 16 of a 16-element table was read";
  EXPECT_EQ(past.error().kind, rt::GateErrorKind::Fault) << past.error().describe();
  EXPECT_NE(past.error().describe().find("capability bounds fault: load of 8 bytes"), std::string::npos)
      << past.error().describe();
  // The compartment goes on (restart: on-fault), its table intact.
  auto again = rt::call<table::Exports::at>(0);
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(again->unsafe_unverified(), 1);
}

TEST(PurecapImage, APointerFromOtherCodeIsDerivedFromTheDdc) {
  auto sum = rt::call<table::Exports::sum>(8);
  ASSERT_TRUE(sum) << sum.error().describe();
  EXPECT_EQ(sum->unsafe_unverified(), 36);
  if (!kCheri) GTEST_SKIP() << "without a DDC (driver " << rt::to_string(image::Backend::kKind)
                            << ") a foreign pointer reaches all of memory, as a hybrid pointer does";
  // Far past the 8 values, past the compartment's region: the DDC's bounds stop it.
  auto past = rt::call<table::Exports::sum>(std::uint64_t{1} << 40);
  ASSERT_FALSE(past);
  EXPECT_NE(past.error().describe().find("capability bounds fault: load of 8 bytes"), std::string::npos)
      << past.error().describe();
}

}  // namespace
}  // namespace flexcap

int main(int argc, char** argv) {
  flexcap::image::start();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
