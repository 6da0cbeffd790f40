// CheckCapability and the capability load/store rules.
#include "flexcap/cap/access.hh"

#include <gtest/gtest.h>

namespace flexcap::cap {
namespace {

constexpr std::uint64_t kBase = 0x40000;

Capability buffer(std::uint64_t length = 64) { return Capability::root().set_value(kBase).set_bounds_exact(length); }

FaultCheck check_of(const Expected<void, CapabilityFault>& r) { return r.error().check; }

TEST(CheckAccess, AllowsEveryByteInBoundsAndNothingOutside) {
  const Capability c = buffer(64);
  EXPECT_TRUE(check_access(c, Access::Load, kBase, 64));
  EXPECT_TRUE(check_access(c, Access::Store, kBase + 63, 1));
  EXPECT_EQ(check_of(check_access(c, Access::Load, kBase + 63, 2)), FaultCheck::Bounds);
  EXPECT_EQ(check_of(check_access(c, Access::Load, kBase - 1, 1)), FaultCheck::Bounds);
  EXPECT_TRUE(check_access(c, Access::Load, kBase + 64, 0)) << "an empty access at top is in bounds";
}

TEST(CheckAccess, ChecksInTheArchitecturesOrder) {
  const Capability key = Capability::root().restrict_permissions(Permission::Seal).set_value(99).set_bounds_exact(1);
  const Capability sealed = buffer().seal(key);
  ASSERT_TRUE(sealed.tag());
  // An untagged, sealed, permissionless capability accessed out of bounds: tag first.
  const Capability worst = sealed.clear_tag().clear_permissions(Permissions::all());
  EXPECT_EQ(check_of(check_access(worst, Access::Load, 0, 1)), FaultCheck::Tag);
  EXPECT_EQ(check_of(check_access(sealed, Access::Load, 0, 1)), FaultCheck::Seal);
  const Capability no_load = buffer().clear_permissions(Permission::Load);
  EXPECT_EQ(check_of(check_access(no_load, Access::Load, 0, 1)), FaultCheck::Permission);
}

TEST(CheckAccess, NamesTheMissingPermission) {
  const auto r = check_access(buffer().restrict_permissions(Permission::Load), Access::Store, kBase, 8);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().missing, Permissions(Permission::Store));
  EXPECT_EQ(r.error().address, kBase);
  EXPECT_EQ(r.error().size, 8u);
  const auto x = check_access(buffer(), Access::Execute, kBase, 4);
  EXPECT_TRUE(x) << "a root-derived buffer may execute";
  const auto nx = check_access(buffer().clear_permissions(Permission::Execute), Access::Execute, kBase, 4);
  EXPECT_EQ(nx.error().missing, Permissions(Permission::Execute));
}

TEST(CheckAccess, IgnoresTheTopByteOfTheAddress) {
  EXPECT_TRUE(check_access(buffer(), Access::Load, 0x5a00000000040000ULL, 8));
}

TEST(CheckAccess, CapabilityAccessesMustBeAligned) {
  EXPECT_EQ(check_of(check_access(buffer(), Access::LoadCapability, kBase + 8, 16)), FaultCheck::Alignment);
  EXPECT_TRUE(check_access(buffer(), Access::LoadCapability, kBase + 16, 16));
}

TEST(CapabilityStore, UntaggedValuesNeedOnlyStore) {
  const Capability authority = buffer().clear_permissions(Permission::StoreCap | Permission::StoreLocalCap);
  EXPECT_TRUE(check_capability_store(authority, kBase, buffer().clear_tag()));
  const auto r = check_capability_store(authority, kBase, buffer());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().check, FaultCheck::Permission);
  EXPECT_TRUE(r.error().missing.has(Permission::StoreCap));
}

TEST(CapabilityStore, LocalValuesNeedStoreLocalCap) {
  const Capability local = buffer().clear_permissions(Permission::Global);
  const Capability authority = buffer().clear_permissions(Permission::StoreLocalCap);
  EXPECT_TRUE(check_capability_store(authority, kBase, buffer())) << "a global value needs no StoreLocalCap";
  const auto r = check_capability_store(authority, kBase, local);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().missing, Permissions(Permission::StoreLocalCap));
  EXPECT_TRUE(check_capability_store(buffer(), kBase, local));
}

TEST(CapabilityLoad, WithoutLoadCapTheTagIsCleared) {
  const Capability loaded = apply_load_rules(buffer().clear_permissions(Permission::LoadCap), buffer());
  EXPECT_FALSE(loaded.tag());
}

TEST(CapabilityLoad, WithoutMutableLoadTheResultIsReadOnly) {
  const Capability authority = buffer().clear_permissions(Permission::MutableLoad);
  const Capability loaded = apply_load_rules(authority, buffer());
  EXPECT_TRUE(loaded.tag());
  EXPECT_FALSE(loaded.permissions().has(Permission::Store));
  EXPECT_FALSE(loaded.permissions().has(Permission::StoreCap));
  EXPECT_FALSE(loaded.permissions().has(Permission::StoreLocalCap));
  EXPECT_FALSE(loaded.permissions().has(Permission::MutableLoad));
  EXPECT_TRUE(loaded.permissions().has(Permission::Load));
  // A sealed capability is loaded as it is (changing it would clear its tag).
  const Capability key = Capability::root().restrict_permissions(Permission::Seal).set_value(9).set_bounds_exact(1);
  const Capability sealed = buffer().seal(key);
  EXPECT_EQ(apply_load_rules(authority, sealed), sealed);
}

TEST(Fault, DescribeSaysWhichCheckWhereAndWhat) {
  const auto r = check_access(buffer(64), Access::Store, kBase + 64, 8);
  ASSERT_FALSE(r);
  const std::string text = r.error().describe();
  EXPECT_NE(text.find("capability bounds fault"), std::string::npos) << text;
  EXPECT_NE(text.find("store of 8 bytes at 0x40040"), std::string::npos) << text;
  EXPECT_NE(text.find("[0x40000,0x40040)"), std::string::npos) << text;
}

}  // namespace
}  // namespace flexcap::cap
