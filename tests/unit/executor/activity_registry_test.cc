#include "executor/activity_registry.h"

#include <map>
#include <string>
#include <vector>

#include "executor/activity_attempt.h"
#include "executor/diagnostic_activities.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace kiln::executor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ActivityRegistryTest : public ::testing::Test {
 protected:
  // Runs `name` with `input` and returns the outcome.
  ActivityFuture<payload::Payloads>::Result Call(const std::string& name,
                                                 const payload::Payloads& input) {
    auto def = registry_.Find(name);
    EXPECT_NE(def, nullptr);
    ActivityFuture<payload::Payloads>::Result out;
    try {
      def->function(context_, input).Then([&](auto r) { out = std::move(r); });
    } catch (...) {
      out.error = std::current_exception();
    }
    return out;
  }
  template <typename... T>
  payload::Payloads Args(const T&... values) {
    return *converter_.ToPayloads(values...);
  }
  static ApplicationError ErrorOf(const ActivityFuture<payload::Payloads>::Result& r) {
    try {
      std::rethrow_exception(r.error);
    } catch (const ApplicationError& e) {
      return e;
    } catch (...) {
    }
    return ApplicationError("not an ApplicationError", "WrongType");
  }

  payload::DataConverter converter_;
  ActivityInfo info_{.activity_type = "t", .activity_id = "a1"};
  ActivityAttempt attempt_{info_, converter_, nullptr, std::nullopt,
                           routing::ResourceNeeds::Cpu()};
  ActivityContext& context_ = attempt_.context();
  ActivityRegistry registry_;
};

TEST_F(ActivityRegistryTest, TypedActivityDecodesArgumentsAndEncodesItsResult) {
  ASSERT_TRUE(registry_
                  .Register("add",
                            [](ActivityContext&, int a, const std::map<std::string, int>& m) {
                              return a + m.at("b");
                            })
                  .ok());
  auto r = Call("add", Args(2, std::map<std::string, int>{{"b", 40}}));
  ASSERT_TRUE(r.value.has_value());
  EXPECT_EQ(*converter_.FromPayloads<int>(*r.value, 0), 42);
  EXPECT_EQ(payload::EncodingOf(r.value->payloads(0)), "json/plain");
}

TEST_F(ActivityRegistryTest, VoidActivityReturnsOneBinaryNullPayload) {
  ASSERT_TRUE(registry_.Register("noop", [](ActivityContext&) {}).ok());
  auto r = Call("noop", {});
  ASSERT_TRUE(r.value.has_value());
  ASSERT_EQ(r.value->payloads_size(), 1);
  EXPECT_EQ(payload::EncodingOf(r.value->payloads(0)), "binary/null");
}

TEST_F(ActivityRegistryTest, RawActivitySeesPayloadsExactlyAsSent) {
  ASSERT_TRUE(registry_.RegisterRaw("count", [](ActivityContext&, const payload::Payloads& in) {
    payload::Payloads out;
    out.add_payloads()->set_data(std::to_string(in.payloads_size()));
    return out;
  }).ok());
  auto r = Call("count", Args(1, 2, 3));
  ASSERT_TRUE(r.value.has_value());
  EXPECT_EQ(r.value->payloads(0).data(), "3");
}

TEST_F(ActivityRegistryTest, AsynchronousActivityCompletesWhenItsPromiseIsFulfilled) {
  ActivityPromise<std::string> promise;
  ASSERT_TRUE(
      registry_.Register("later", [&](ActivityContext&) { return promise.GetFuture(); }).ok());
  std::optional<ActivityFuture<payload::Payloads>::Result> out;
  registry_.Find("later")->function(context_, {}).Then([&](auto r) { out = std::move(r); });
  EXPECT_FALSE(out.has_value());
  promise.SetValue("done");
  ASSERT_TRUE(out.has_value() && out->value.has_value());
  EXPECT_EQ(*converter_.FromPayloads<std::string>(*out->value, 0), "done");
}

TEST_F(ActivityRegistryTest, DroppedPromiseFailsTheActivityInsteadOfHangingIt) {
  ASSERT_TRUE(registry_.Register("forgot", [](ActivityContext&) {
    ActivityPromise<int> promise;
    return promise.GetFuture();
  }).ok());
  auto r = Call("forgot", {});
  EXPECT_FALSE(r.value.has_value());
  EXPECT_TRUE(r.error);
}

TEST_F(ActivityRegistryTest, UndecodableArgumentIsANonRetryableConversionFailure) {
  ASSERT_TRUE(registry_.Register("square", [](ActivityContext&, int x) { return x * x; }).ok());
  auto r = Call("square", Args(std::string("not a number")));
  ApplicationError e = ErrorOf(r);
  EXPECT_EQ(e.type(), "PayloadConversionError");
  EXPECT_TRUE(e.non_retryable());
  EXPECT_THAT(e.message(), HasSubstr("argument 0"));
}

TEST_F(ActivityRegistryTest, NamesAreUniqueAndListedSorted) {
  ASSERT_TRUE(registry_.Register("b", [](ActivityContext&) {}).ok());
  ASSERT_TRUE(registry_.Register("a", [](ActivityContext&) {}).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(registry_.Register("a", [](ActivityContext&) {})));
  EXPECT_TRUE(absl::IsInvalidArgument(registry_.Register("", [](ActivityContext&) {})));
  EXPECT_THAT(registry_.Names(), ElementsAre("a", "b"));
}

TEST_F(ActivityRegistryTest, GpuNeedsAreRecordedWithTheDefinition) {
  ASSERT_TRUE(registry_.Register("train", [](ActivityContext&) {},
                                 {.needs = routing::ResourceNeeds::Gpu(int64_t{8} << 30)}).ok());
  ASSERT_TRUE(registry_.Register("small", [](ActivityContext&) {},
                                 {.needs = routing::ResourceNeeds::Gpu(int64_t{1} << 30)}).ok());
  EXPECT_TRUE(registry_.Find("train")->needs.needs_gpu());
  EXPECT_EQ(registry_.MaxGpuMemoryBytes(), int64_t{8} << 30);
}

TEST_F(ActivityRegistryTest, DeviceSetNeedsMergeTheActivitiesOfOneDeviceCount) {
  using routing::Interconnect;
  using routing::ResourceNeeds;
  ASSERT_TRUE(registry_.Register("single", [](ActivityContext&) {},
                                 {.needs = ResourceNeeds::Gpu(int64_t{2} << 30)}).ok());
  ASSERT_TRUE(registry_.Register("tp4", [](ActivityContext&) {},
                                 {.needs = ResourceNeeds::Gpus(4, int64_t{70} << 30,
                                                               Interconnect::kNvlink)}).ok());
  ASSERT_TRUE(registry_.Register("dp4", [](ActivityContext&) {},
                                 {.needs = ResourceNeeds::Gpus(4, int64_t{40} << 30)}).ok());
  // A Q:gpus4 poll reserves for the largest and strictest of the 4-GPU activities.
  std::optional<ResourceNeeds> four = registry_.DeviceSetNeeds(4);
  ASSERT_TRUE(four.has_value());
  EXPECT_EQ(four->gpus, 4);
  EXPECT_EQ(four->gpu_memory_bytes, int64_t{70} << 30);
  EXPECT_EQ(four->interconnect, Interconnect::kNvlink);
  EXPECT_FALSE(registry_.DeviceSetNeeds(2).has_value()) << "no activity needs two devices";
  // Single-device polls are not sized by the 70 GiB per device of the 4-GPU activities.
  EXPECT_EQ(registry_.MaxGpuMemoryBytes(), int64_t{2} << 30);
}

TEST_F(ActivityRegistryTest, EchoReturnsItsInputUnchanged) {
  ASSERT_TRUE(RegisterDiagnosticActivities(registry_).ok());
  payload::Payloads input = Args(std::string("hi"), 7);
  auto r = Call(kEchoActivity, input);
  ASSERT_TRUE(r.value.has_value());
  EXPECT_EQ(r.value->SerializeAsString(), input.SerializeAsString());
}

TEST_F(ActivityRegistryTest, FailThrowsTheRequestedApplicationError) {
  ASSERT_TRUE(RegisterDiagnosticActivities(registry_).ok());
  ApplicationError e = ErrorOf(Call(kFailActivity, Args(std::string("Bad"), std::string("boom"), true)));
  EXPECT_EQ(e.type(), "Bad");
  EXPECT_EQ(e.message(), "boom");
  EXPECT_TRUE(e.non_retryable());
  EXPECT_EQ(e.details().payloads_size(), 0);
  ApplicationError d = ErrorOf(Call(kFailActivity, {}));
  EXPECT_EQ(d.type(), "KilnFail");
  EXPECT_FALSE(d.non_retryable());
}

TEST_F(ActivityRegistryTest, FailCarriesItsFourthArgumentAsTheFailureDetails) {
  ASSERT_TRUE(RegisterDiagnosticActivities(registry_).ok());
  const nlohmann::json details = {{"order", 42}, {"retry_at", "tomorrow"}};
  ApplicationError e =
      ErrorOf(Call(kFailActivity, Args(std::string("Bad"), std::string("boom"), false, details)));
  ASSERT_EQ(e.details().payloads_size(), 1);
  absl::StatusOr<nlohmann::json> decoded =
      converter_.FromPayload<nlohmann::json>(e.details().payloads(0));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, details);
}

TEST_F(ActivityRegistryTest, SleepReturnsAtOnceWhenAlreadyCancelled) {
  ASSERT_TRUE(RegisterDiagnosticActivities(registry_).ok());
  attempt_.Cancel(CancelReason::kRequested, "test");
  auto r = Call(kSleepActivity, Args(std::string("1h")));
  ASSERT_TRUE(r.error);
  EXPECT_THROW(std::rethrow_exception(r.error), CancelledError);
}

}  // namespace
}  // namespace kiln::executor
