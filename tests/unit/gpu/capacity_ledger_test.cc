#include "gpu/capacity_ledger.h"

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kGiB64 = kGiB;

TEST(CapacityLedgerTest, DefaultBudgetIsFreeMemoryLessTheReserve) {
  DeviceInfo device;
  device.total_memory_bytes = 80 * kGiB64;
  device.free_memory_bytes = 79 * kGiB64;
  DeviceCapacity capacity = DefaultCapacity(device, {});
  EXPECT_EQ(capacity.slots, 1);
  EXPECT_EQ(capacity.memory_bytes, 78 * kGiB64);

  CapacityOptions options;
  options.slots_per_device = 4;
  options.memory_reserve_bytes = 4 * kGiB64;
  EXPECT_EQ(DefaultCapacity(device, options).memory_bytes, 75 * kGiB64);
  EXPECT_EQ(DefaultCapacity(device, options).slots, 4);
  options.memory_budget_bytes = 10 * kGiB64;
  EXPECT_EQ(DefaultCapacity(device, options).memory_bytes, 10 * kGiB64);
}

TEST(CapacityLedgerTest, ReserveIsClampedAtZeroWhenReserveExceedsFreeMemory) {
  DeviceInfo device;
  device.free_memory_bytes = kGiB64 / 2;
  EXPECT_EQ(DefaultCapacity(device, {}).memory_bytes, 0u);
}

TEST(CapacityLedgerTest, ReservationsTakeCapacityAndGiveItBackWhenDestroyed) {
  CapacityLedger ledger("GPU-a", {2, 10 * kGiB64});
  {
    auto first = ledger.TryReserve({1, 6 * kGiB64});
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_EQ(ledger.Snapshot().slots_reserved, 1);
    EXPECT_EQ(ledger.Snapshot().memory_reserved, 6 * kGiB64);
    auto second = ledger.TryReserve({1, 5 * kGiB64});
    EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(second.status().message(), HasSubstr("GPU-a"));
    auto third = ledger.TryReserve({1, 4 * kGiB64});
    ASSERT_TRUE(third.ok());
    EXPECT_FALSE(ledger.CanFit({1, 0}));  // both slots taken
  }
  LedgerSnapshot after = ledger.Snapshot();
  EXPECT_EQ(after.slots_reserved, 0);
  EXPECT_EQ(after.memory_reserved, 0u);
  EXPECT_EQ(after.reservations, 0);
}

TEST(CapacityLedgerTest, RequestThatCanNeverFitIsAFailedPrecondition) {
  CapacityLedger ledger("GPU-a", {1, 10 * kGiB64});
  auto r = ledger.TryReserve({1, 11 * kGiB64});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("can never fit"));
  EXPECT_EQ(ledger.TryReserve({2, 0}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ledger.TryReserve({-1, 0}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CapacityLedgerTest, CommitMarksUseAndCanShrinkToTheTasksRealNeed) {
  CapacityLedger ledger("GPU-a", {1, 10 * kGiB64});
  auto r = ledger.TryReserve({1, 8 * kGiB64});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->Commit(ResourceRequest{1, 3 * kGiB64}).ok());
  LedgerSnapshot s = ledger.Snapshot();
  EXPECT_EQ(s.slots_committed, 1);
  EXPECT_EQ(s.memory_committed, 3 * kGiB64);
  EXPECT_EQ(s.memory_reserved, 3 * kGiB64);
  EXPECT_EQ(r->Commit().code(), absl::StatusCode::kFailedPrecondition);
  r->Release();
  s = ledger.Snapshot();
  EXPECT_EQ(s.slots_committed, 0);
  EXPECT_EQ(s.memory_committed, 0u);
  EXPECT_EQ(s.memory_reserved, 0u);
}

TEST(CapacityLedgerTest, CommitCannotGrowAReservation) {
  CapacityLedger ledger("GPU-a", {2, 10 * kGiB64});
  auto r = ledger.TryReserve({1, 2 * kGiB64});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Commit(ResourceRequest{1, 3 * kGiB64}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r->Commit(ResourceRequest{2, 0}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ledger.Snapshot().memory_reserved, 2 * kGiB64);
}

TEST(CapacityLedgerTest, MovedReservationIsReleasedOnce) {
  CapacityLedger ledger("GPU-a", {1, kGiB64});
  auto r = ledger.TryReserve({1, kGiB64});
  ASSERT_TRUE(r.ok());
  Reservation moved = std::move(*r);
  EXPECT_FALSE(r->held());
  EXPECT_TRUE(moved.held());
  EXPECT_EQ(ledger.Snapshot().slots_reserved, 1);
  moved.Release();
  moved.Release();
  EXPECT_EQ(ledger.Snapshot().slots_reserved, 0);
}

TEST(CapacityLedgerTest, ClosedLedgerRefusesNewReservationsButKeepsExistingOnes) {
  CapacityLedger ledger("GPU-a", {2, kGiB64});
  auto held = ledger.TryReserve({1, 0});
  ASSERT_TRUE(held.ok());
  ledger.Close(absl::UnavailableError("GPU-a is unhealthy: Xid 79"));
  auto refused = ledger.TryReserve({1, 0});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("Xid 79"));
  EXPECT_FALSE(ledger.CanFit({0, 0}));
  EXPECT_TRUE(held->held());
  held->Release();
  EXPECT_EQ(ledger.Snapshot().slots_reserved, 0);
}

TEST(CapacityLedgerTest, ListenersHearWhenCapacityComesBack) {
  CapacityLedger ledger("GPU-a", {1, 4 * kGiB64});
  int calls = 0;
  int id = ledger.AddCapacityListener([&] { ++calls; });
  auto r = ledger.TryReserve({1, 4 * kGiB64});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(r->Commit(ResourceRequest{1, kGiB64}).ok());  // shrink frees 3 GiB
  EXPECT_EQ(calls, 1);
  r->Release();
  EXPECT_EQ(calls, 2);
  ledger.RemoveCapacityListener(id);
  ASSERT_TRUE(ledger.TryReserve({1, 0}).ok());  // temporary released at once
  EXPECT_EQ(calls, 2);
}

TEST(CapacityLedgerTest, ReservationOutlivingTheLedgerObjectIsSafe) {
  auto ledger = std::make_unique<CapacityLedger>("GPU-a", DeviceCapacity{1, kGiB64});
  auto r = ledger->TryReserve({1, kGiB64});
  ASSERT_TRUE(r.ok());
  ledger.reset();
  EXPECT_EQ(r->device_uuid(), "GPU-a");
  r->Release();
}

TEST(CapacityLedgerTest, ConcurrentReserveAndReleaseNeverOversubscribe) {
  constexpr int kSlots = 3;
  constexpr uint64_t kBudget = 10 * kGiB64;
  CapacityLedger ledger("GPU-a", {kSlots, kBudget});
  std::atomic<int> max_slots{0};
  std::atomic<uint64_t> max_memory{0};
  std::atomic<int> granted{0};
  std::atomic<bool> violated{false};
  // Independent count of what holders have, raised after a grant and lowered before release:
  // it can only exceed the capacity if the ledger granted too much.
  std::atomic<int> live_slots{0};
  std::atomic<uint64_t> live_memory{0};
  auto worker = [&](int seed) {
    std::mt19937 rng(seed);  // seeded per thread: visible and reproducible
    std::uniform_int_distribution<int> gib(0, 6);
    for (int i = 0; i < 2000; ++i) {
      auto r = ledger.TryReserve({1, static_cast<uint64_t>(gib(rng)) * kGiB64});
      if (!r.ok()) continue;
      ++granted;
      const uint64_t bytes = r->request().memory_bytes;
      if (live_slots.fetch_add(1) + 1 > kSlots) violated = true;
      if (live_memory.fetch_add(bytes) + bytes > kBudget) violated = true;
      if (i % 2 == 0) {
        ASSERT_TRUE(r->Commit().ok());
      }
      LedgerSnapshot s = ledger.Snapshot();
      if (s.slots_reserved > kSlots || s.memory_reserved > kBudget) violated = true;
      int seen = s.slots_reserved;
      int prev = max_slots.load();
      while (seen > prev && !max_slots.compare_exchange_weak(prev, seen)) {}
      uint64_t mem = s.memory_reserved;
      uint64_t prev_mem = max_memory.load();
      while (mem > prev_mem && !max_memory.compare_exchange_weak(prev_mem, mem)) {}
      live_slots.fetch_sub(1);
      live_memory.fetch_sub(bytes);
      r->Release();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) threads.emplace_back(worker, 1000 + t);
  for (auto& t : threads) t.join();
  EXPECT_FALSE(violated);
  EXPECT_LE(max_slots.load(), kSlots);
  EXPECT_LE(max_memory.load(), kBudget);
  EXPECT_GT(granted.load(), 0);
  LedgerSnapshot end = ledger.Snapshot();
  EXPECT_EQ(end.slots_reserved, 0);
  EXPECT_EQ(end.slots_committed, 0);
  EXPECT_EQ(end.memory_reserved, 0u);
  EXPECT_EQ(end.memory_committed, 0u);
  EXPECT_EQ(end.reservations, 0);
}

}  // namespace
}  // namespace kiln::gpu
