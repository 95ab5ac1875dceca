// main() for the tests labelled `gpu`. Without a device they skip with the reason, so that
// scripts/test passes on machines without a GPU. With KILN_REQUIRE_GPU=1 (scripts/gpu-check
// sets it) a skipped test fails the binary instead: on a host whose nvidia-smi works but where
// CUDA sees no device, every test would otherwise skip and the check would pass.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  const char* require = std::getenv("KILN_REQUIRE_GPU");
  if (require == nullptr || std::string(require) != "1") return rc;
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  if (unit.skipped_test_count() == 0) return rc;
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const ::testing::TestSuite& suite = *unit.GetTestSuite(i);
    for (int j = 0; j < suite.total_test_count(); ++j) {
      const ::testing::TestInfo& test = *suite.GetTestInfo(j);
      if (test.result() == nullptr || !test.result()->Skipped()) continue;
      std::fprintf(stderr, "KILN_REQUIRE_GPU=1: %s.%s skipped, which counts as a failure here\n",
                   suite.name(), test.name());
    }
  }
  std::fprintf(stderr,
               "KILN_REQUIRE_GPU=1 but %d test(s) skipped: this host must run them on a CUDA "
               "device (see each skip's reason above; check the driver with nvidia-smi and that "
               "CUDA_VISIBLE_DEVICES does not hide the GPUs)\n",
               unit.skipped_test_count());
  return 1;
}
