#include "gpu/visible_devices.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::HasSubstr;

std::vector<DeviceInfo> FourGpus() {
  std::vector<DeviceInfo> all(4);
  const char* uuids[] = {"GPU-8932f937-d72c-4106-c12f-20bd9faed9f6",
                         "GPU-8932aaaa-0000-0000-0000-000000000001",
                         "GPU-1234abcd-0000-0000-0000-000000000002",
                         "GPU-ffff0000-0000-0000-0000-000000000003"};
  for (int i = 0; i < 4; ++i) {
    all[i].index = i;
    all[i].uuid = uuids[i];
  }
  return all;
}

std::vector<int> Indices(const VisibleSelection& s) {
  std::vector<int> out;
  for (const auto& d : s.devices) out.push_back(d.index);
  return out;
}

std::vector<int> Ordinals(const VisibleSelection& s) {
  std::vector<int> out;
  for (const auto& d : s.devices) out.push_back(d.cuda_ordinal);
  return out;
}

VisibleSelection Apply(std::optional<std::string> env) {
  return ApplyVisibleDevices(FourGpus(), ParseVisibleDevices(env));
}

TEST(VisibleDevicesTest, UnsetShowsEveryDevice) {
  VisibleSelection s = Apply(std::nullopt);
  EXPECT_EQ(Indices(s), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(Ordinals(s), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE(s.reason_if_empty.empty());
}

TEST(VisibleDevicesTest, IndicesSelectDevicesAndListOrderGivesCudaOrdinals) {
  VisibleSelection s = Apply("3, 1");
  EXPECT_EQ(Indices(s), (std::vector<int>{1, 3}));   // PCI order
  EXPECT_EQ(Ordinals(s), (std::vector<int>{1, 0}));  // gpu3 is CUDA device 0 in this process
}

TEST(VisibleDevicesTest, UuidsAndUniqueUuidPrefixesSelectDevices) {
  EXPECT_EQ(Indices(Apply("GPU-1234abcd-0000-0000-0000-000000000002")), (std::vector<int>{2}));
  EXPECT_EQ(Indices(Apply("GPU-ffff,0")), (std::vector<int>{0, 3}));
  EXPECT_EQ(Indices(Apply("gpu-1234")), (std::vector<int>{2}));
}

TEST(VisibleDevicesTest, FirstInvalidEntryEndsTheListLikeCuda) {
  VisibleSelection s = Apply("2,7,0");
  EXPECT_EQ(Indices(s), (std::vector<int>{2}));
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_THAT(s.notes[0], HasSubstr("'7'"));
  EXPECT_EQ(Indices(Apply("1,GPU-8932,3")), (std::vector<int>{1}));  // ambiguous prefix
  EXPECT_EQ(Indices(Apply("1,1,3")), (std::vector<int>{1}));         // duplicate
  EXPECT_EQ(Indices(Apply("0,,1")), (std::vector<int>{0}));          // empty entry
}

TEST(VisibleDevicesTest, EmptyValueHidesAllAndSaysWhy) {
  VisibleSelection s = Apply("");
  EXPECT_TRUE(s.devices.empty());
  EXPECT_THAT(s.reason_if_empty, HasSubstr("CUDA_VISIBLE_DEVICES is set to an empty value"));
}

TEST(VisibleDevicesTest, MinusOneHidesAllAndSaysWhy) {
  VisibleSelection s = Apply("-1");
  EXPECT_TRUE(s.devices.empty());
  EXPECT_THAT(s.reason_if_empty, HasSubstr("selects none of the 4 GPU(s)"));
  EXPECT_THAT(s.reason_if_empty, HasSubstr("'-1'"));
}

TEST(VisibleDevicesTest, MigEntriesAreSkippedWithANote) {
  VisibleSelection s = Apply("MIG-0123,1");
  EXPECT_EQ(Indices(s), (std::vector<int>{1}));
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_THAT(s.notes[0], HasSubstr("MIG instance"));
}

TEST(VisibleDevicesTest, NoDevicesOnHostSaysSo) {
  VisibleSelection s = ApplyVisibleDevices({}, ParseVisibleDevices(std::nullopt));
  EXPECT_EQ(s.reason_if_empty, "no GPU found on this host");
}

}  // namespace
}  // namespace kiln::gpu
