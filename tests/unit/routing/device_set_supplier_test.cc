// DeviceSlotSupplier with multi-GPU requests (Q:gpusN) over simulated topologies: all-or-nothing
// reservation, placement, no starvation by single-GPU work, and drains inside a set.
#include <optional>
#include <vector>

#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/device_slot_supplier.h"
#include "tests/unit/routing/device_supplier_fixture.h"

namespace kiln::routing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Devices;
using testing::Pinned;
using testing::Reserve;
using testing::Slot;

constexpr char kSet[] = "ml:gpus4";
constexpr char kSingle[] = "ml:sm90";

SlotRequest Set(int gpus, Interconnect interconnect = Interconnect::kAny,
                const char* queue = kSet) {
  return {.task_queue = queue, .needs = ResourceNeeds::Gpus(gpus, 0, interconnect)};
}
SlotRequest Single() { return {.task_queue = kSingle, .needs = ResourceNeeds::Gpu(0)}; }

class DeviceSetSupplierTest : public ::testing::Test {
 protected:
  void Make(const std::string& spec, int slots_per_device) {
    supplier_ = std::make_unique<DeviceSlotSupplier>(
        100, Devices(spec, slots_per_device),
        DeviceSupplierOptions{.clock = &clock_, .multi_gpu_hold_after = absl::Seconds(30)});
    std::vector<int> all;
    for (size_t i = 0; i < supplier_->DeviceSnapshots().size(); ++i) all.push_back(i);
    for (const char* q : {kSet, kSingle, "ml:gpus2", "ml:gpus4-nvlink"}) {
      supplier_->SetSharedQueueDevices(q, all);
    }
  }
  int Reserved(int device) const { return supplier_->DeviceSnapshots()[device].slots_reserved; }

  base::SimulatedClock clock_{absl::FromUnixSeconds(1000)};
  std::unique_ptr<DeviceSlotSupplier> supplier_;
};

TEST_F(DeviceSetSupplierTest, TwoOfEightGoOnAnNvlinkPairAndThePermitListsBoth) {
  Make("8xH100:80:sm90:nvlink=0-1+2-3+4-5+6-7", 1);
  Slot busy;
  Reserve(*supplier_, Pinned(0), busy);
  Slot pair;
  Reserve(*supplier_, Set(2, Interconnect::kAny, "ml:gpus2"), pair);
  ASSERT_TRUE(pair.granted());
  EXPECT_THAT(pair.indices(), ElementsAre(2, 3));
  std::optional<AssignedDevice> first = pair.permit->device();
  EXPECT_EQ(first->index, 2);
  EXPECT_TRUE(first->Holds(3));
  EXPECT_FALSE(first->Holds(0));
  EXPECT_EQ(CudaVisibleDevices(first->All()),
            "GPU-51300000-0000-4000-8000-000000000002,GPU-51300000-0000-4000-8000-000000000003");
}

TEST_F(DeviceSetSupplierTest, FourOfEightTakeOneWholeNvlinkDomain) {
  Make("8xH100:80:sm90:nvlink=0-3+4-7", 2);
  Slot single;
  Reserve(*supplier_, Pinned(1, 10LL << 30), single);  // 0-3 has less free memory: 4-7 wins
  Slot a, b;
  Reserve(*supplier_, Set(4, Interconnect::kNvlink, "ml:gpus4-nvlink"), a);
  Reserve(*supplier_, Set(4, Interconnect::kNvlink, "ml:gpus4-nvlink"), b);
  ASSERT_TRUE(a.granted());
  EXPECT_THAT(a.indices(), ElementsAre(4, 5, 6, 7));
  ASSERT_TRUE(b.granted()) << "a second set of four fits beside the first: one poll per device";
  EXPECT_THAT(b.indices(), ElementsAre(0, 1, 2, 3));
}

TEST_F(DeviceSetSupplierTest, AllOrNothingAWaitingSetHoldsNoDevice) {
  Make("8xH100:80:sm90", 1);
  std::vector<Slot> singles(5);
  for (int i = 0; i < 5; ++i) Reserve(*supplier_, Pinned(i), singles[i]);
  Slot set;
  Reserve(*supplier_, Set(4), set);
  EXPECT_FALSE(set.granted());
  for (int i = 5; i < 8; ++i) EXPECT_EQ(Reserved(i), 0) << "gpu" << i << " is partly held";
  Slot other;  // the three free devices still serve single-GPU work
  Reserve(*supplier_, Single(), other);
  EXPECT_TRUE(other.granted());
  other.permit->Release();
  singles[0].permit->Release();  // four free now: the set takes them in one step
  ASSERT_TRUE(set.granted());
  EXPECT_THAT(set.indices(), ElementsAre(0, 5, 6, 7));
}

TEST_F(DeviceSetSupplierTest, TwoSetsCompetingForTheSameDevicesDoNotDeadlock) {
  Make("4xH100:80:sm90", 1);
  Slot a, b;
  Reserve(*supplier_, Set(4), a);
  Reserve(*supplier_, Set(4, Interconnect::kAny, "other:gpus4"), b);
  supplier_->SetSharedQueueDevices("other:gpus4", {0, 1, 2, 3});
  ASSERT_TRUE(a.granted());
  EXPECT_FALSE(b.granted());
  a.permit->Release();
  EXPECT_TRUE(b.granted());
}

// The no-starvation bound: a stream of 1-GPU work keeps every device busy, each released slot
// taken again at once. Before the bound the 4-GPU request waits; once it has waited 30 s, the
// devices of its target set are held back from single-GPU work, and it starts as soon as the
// activities running there finish.
TEST_F(DeviceSetSupplierTest, FourGpuRequestIsNotStarvedByAStreamOfOneGpuWork) {
  Make("8xH100:80:sm90:nvlink=0-3+4-7", 1);
  std::vector<std::unique_ptr<Slot>> running;
  std::vector<std::unique_ptr<Slot>> queued;
  auto add_single = [&] {
    queued.push_back(std::make_unique<Slot>());
    Reserve(*supplier_, Single(), *queued.back());
  };
  for (int i = 0; i < 8; ++i) add_single();
  for (auto& s : queued) {
    ASSERT_TRUE(s->granted());
    s->permit->MarkUsed({.activity_type = "infer"});
  }
  running = std::move(queued);
  queued.clear();
  for (int i = 0; i < 16; ++i) add_single();  // the flood waiting behind them

  Slot set;
  Reserve(*supplier_, Set(4, Interconnect::kNvlink), set);
  // Before the bound: each finished 1-GPU activity's device goes to the next 1-GPU request.
  running[0]->permit->Release();
  EXPECT_FALSE(set.granted());
  EXPECT_TRUE(queued[0]->granted());

  clock_.Advance(absl::Seconds(31));
  // Past the bound: the 4-GPU request's target domain is held back; finished work there is
  // not replaced, while the other domain keeps serving 1-GPU requests.
  int granted_before = 0;
  for (auto& s : queued) granted_before += s->granted() ? 1 : 0;
  std::vector<int> freed;
  for (auto& slot : running) {
    if (!set.granted() && slot->permit && slot->permit->device()->index < 4) {
      freed.push_back(slot->permit->device()->index);
      slot->permit->Release();
    }
  }
  queued[0]->permit->Release();  // gpu0's replacement finishes too
  ASSERT_TRUE(set.granted()) << "the 4-GPU request still waits after its devices drained";
  EXPECT_THAT(set.indices(), ElementsAre(0, 1, 2, 3));
  int granted_after = 0;
  for (auto& s : queued) granted_after += s->granted() ? 1 : 0;
  EXPECT_EQ(granted_after, granted_before) << "1-GPU work took a held-back device";
  for (auto& s : queued) {
    if (s->pending) s->pending->Cancel();
  }
}

TEST_F(DeviceSetSupplierTest, ARequestWaitingOnlyForItsOwnQueuesPollHoldsNothingBack) {
  Make("4xH100:80:sm90", 2);
  Slot polling, second;
  Reserve(*supplier_, Set(4), polling);  // the queue's poll is out on all four devices
  Reserve(*supplier_, Set(4), second);   // its second poller waits for that poll to return
  ASSERT_TRUE(polling.granted());
  EXPECT_FALSE(second.granted());
  clock_.Advance(absl::Minutes(5));
  Slot single;
  Reserve(*supplier_, Single(), single);
  EXPECT_TRUE(single.granted()) << "an idle second poller held single-GPU work back";
  second.pending->Cancel();
}

TEST_F(DeviceSetSupplierTest, DrainingOneDeviceWithdrawsTheSetsPollAndKeepsTheOthersOpen) {
  Make("4xH100:80:sm90", 1);
  std::vector<uint64_t> withdrawn;
  supplier_->AddWithdrawListener(
      [&](const std::vector<uint64_t>& ids) { withdrawn.insert(withdrawn.end(), ids.begin(), ids.end()); });
  Slot set;
  Reserve(*supplier_, Set(4), set);
  ASSERT_TRUE(set.granted());
  supplier_->CloseDevice(2, absl::UnavailableError("Xid 79"));
  EXPECT_THAT(withdrawn, ElementsAre(set.permit->id()));
  absl::Status used = set.permit->TryMarkUsed({.activity_type = "train4"});
  EXPECT_TRUE(absl::IsUnavailable(used)) << used;
  EXPECT_THAT(used.message(), HasSubstr("gpu2"));
  set.permit->Release();
  Slot single;  // the other three devices still take work; the set cannot fit any more
  Reserve(*supplier_, Pinned(3), single);
  EXPECT_TRUE(single.granted());
  Slot again;
  Reserve(*supplier_, Set(4), again);
  EXPECT_FALSE(again.granted());
  supplier_->ReopenDevice(2);
  single.permit->Release();
  EXPECT_TRUE(again.granted());
}

TEST_F(DeviceSetSupplierTest, AMultiGpuActivityPolledFromASingleDeviceQueueIsRefused) {
  Make("2xH100:80:sm90", 1);
  Slot single;
  Reserve(*supplier_, Pinned(0), single);
  ASSERT_TRUE(single.granted());
  absl::Status used =
      single.permit->TryMarkUsed({.activity_type = "train4", .needs = ResourceNeeds::Gpus(4, 0)});
  EXPECT_EQ(used.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(used.message(), HasSubstr("Q:gpus4"));
}

}  // namespace
}  // namespace kiln::routing
