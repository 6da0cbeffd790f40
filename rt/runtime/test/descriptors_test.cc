// A compartment's host descriptors go with it when it restarts (rt/descriptors.hh).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include "flexcap/rt/descriptors.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::rt {
namespace {

Runtime& runtime() {
  static const CompartmentSpec compartments[] = {{"main", 1ull << 20, Sharing::Capability, RestartPolicy::Never},
                                                 {"service", 1ull << 20, Sharing::Capability, RestartPolicy::OnFault}};
  static const LibrarySpec libraries[] = {{"test", 0}};
  static Runtime& rt = Runtime::start(ImageSpec{"descriptors_test", Backend::Fcall, compartments, libraries, 0});
  return rt;
}

bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(Descriptors, ARestartClosesWhatTheCompartmentHeldAndNothingElse) {
  Runtime& rt = runtime();
  const int mains = open("/dev/null", O_RDONLY);
  ASSERT_GE(mains, 0);
  own_descriptor(mains);  // compartment 0's
  Runtime::set_current(1);
  const int kept = open("/dev/null", O_RDONLY);
  const int closed_by_it = open("/dev/null", O_RDONLY);
  const int held = open("/dev/null", O_RDONLY);
  own_descriptor(kept);
  own_descriptor(closed_by_it);
  own_descriptor(held);
  release_descriptor(kept);  // handed on: no longer the service's
  release_descriptor(closed_by_it);
  close(closed_by_it);
  Runtime::set_current(0);
  EXPECT_EQ(owned_descriptors(1), 1u);
  rt.restart(1);
  EXPECT_FALSE(is_open(held));
  EXPECT_TRUE(is_open(kept));
  EXPECT_TRUE(is_open(mains));
  EXPECT_EQ(owned_descriptors(1), 0u);
  EXPECT_EQ(owned_descriptors(0), 1u);
  // A number the kernel hands out again belongs to whoever owns it now.
  Runtime::set_current(1);
  const int reused = open("/dev/null", O_RDONLY);
  own_descriptor(reused);
  Runtime::set_current(0);
  own_descriptor(reused);
  EXPECT_EQ(owned_descriptors(1), 0u);
  rt.restart(1);
  EXPECT_TRUE(is_open(reused));
  release_descriptor(reused);
  release_descriptor(mains);
  close(reused);
  close(kept);
  close(mains);
}

}  // namespace
}  // namespace flexcap::rt
