// VersionSets: every UpdateWorkerBuildIdCompatibility operation, the forbidden ones, the limits,
// GetWorkerBuildIdCompatibility's max_sets, stable set ids across promotions and merges, and the
// persisted form.
#include "cluster/version_sets.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kiln::cluster {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
using Request = wsv1::UpdateWorkerBuildIdCompatibilityRequest;
using Sets = std::vector<std::vector<std::string>>;

Request NewDefault(const std::string& id) {
  Request r;
  r.set_task_queue("q");
  r.set_add_new_build_id_in_new_default_set(id);
  return r;
}
Request Compatible(const std::string& id, const std::string& existing, bool make_default = false) {
  Request r;
  r.set_task_queue("q");
  r.mutable_add_new_compatible_build_id()->set_new_build_id(id);
  r.mutable_add_new_compatible_build_id()->set_existing_compatible_build_id(existing);
  r.mutable_add_new_compatible_build_id()->set_make_set_default(make_default);
  return r;
}
Request PromoteSet(const std::string& id) {
  Request r;
  r.set_promote_set_by_build_id(id);
  return r;
}
Request PromoteWithinSet(const std::string& id) {
  Request r;
  r.set_promote_build_id_within_set(id);
  return r;
}
Request Merge(const std::string& primary, const std::string& secondary) {
  Request r;
  r.mutable_merge_sets()->set_primary_set_build_id(primary);
  r.mutable_merge_sets()->set_secondary_set_build_id(secondary);
  return r;
}

// The sets as GetWorkerBuildIdCompatibility shows them (overall default last).
Sets Shown(const VersionSets& v, int max_sets = 0) {
  Sets out;
  const auto response = v.Describe(max_sets);
  for (const auto& set : response.major_version_sets()) {
    out.emplace_back(set.build_ids().begin(), set.build_ids().end());
  }
  return out;
}

class VersionSetsTest : public ::testing::Test {
 protected:
  void Apply(const Request& r) {
    auto changed = sets_.Apply(r, limits_);
    ASSERT_TRUE(changed.ok()) << changed.status();
  }
  absl::StatusCode Fails(const Request& r) {
    const Sets before = Shown(sets_);
    auto changed = sets_.Apply(r, limits_);
    EXPECT_EQ(Shown(sets_), before) << "a failed operation must change nothing";
    last_error_ = changed.ok() ? "" : std::string(changed.status().message());
    return changed.status().code();
  }
  VersionSets sets_;
  VersionSets::Limits limits_;
  std::string last_error_;
};

// The seed's walkthrough: 1.0 -> 2.0 -> 2.1 compatible -> 3.0 -> promote 2.x back.
TEST_F(VersionSetsTest, SeedWalkthrough) {
  EXPECT_FALSE(sets_.DefaultSetId().has_value());
  Apply(NewDefault("1.0"));
  EXPECT_EQ(Shown(sets_), (Sets{{"1.0"}}));
  const std::string set1 = *sets_.DefaultSetId();
  Apply(NewDefault("2.0"));
  const std::string set2 = *sets_.DefaultSetId();
  EXPECT_EQ(Shown(sets_), (Sets{{"1.0"}, {"2.0"}}));
  EXPECT_EQ(sets_.DefaultOf(set2), "2.0");
  Apply(Compatible("2.1", "2.0"));
  EXPECT_EQ(Shown(sets_), (Sets{{"1.0"}, {"2.0", "2.1"}}));
  EXPECT_EQ(sets_.DefaultOf(set2), "2.1");  // open 2.0 runs move to 2.1
  EXPECT_EQ(sets_.DefaultOf(set1), "1.0");
  Apply(NewDefault("3.0"));
  EXPECT_EQ(Shown(sets_), (Sets{{"1.0"}, {"2.0", "2.1"}, {"3.0"}}));
  EXPECT_EQ(sets_.DefaultBuildId(), "3.0");
  Apply(PromoteSet("2.0"));
  EXPECT_EQ(Shown(sets_), (Sets{{"1.0"}, {"3.0"}, {"2.0", "2.1"}}));
  EXPECT_EQ(sets_.DefaultSetId(), set2);
  EXPECT_EQ(sets_.DefaultBuildId(), "2.1");  // new runs start on 2.1
  EXPECT_EQ(sets_.BuildIdCount(), 4);
}

TEST_F(VersionSetsTest, CompatibleIdCanMakeItsSetTheDefault) {
  Apply(NewDefault("1.0"));
  Apply(NewDefault("2.0"));
  Apply(Compatible("1.1", "1.0", /*make_default=*/true));
  EXPECT_EQ(Shown(sets_), (Sets{{"2.0"}, {"1.0", "1.1"}}));
  EXPECT_EQ(sets_.DefaultBuildId(), "1.1");
}

TEST_F(VersionSetsTest, PromoteWithinSetMakesAnOlderIdTheSetDefault) {
  Apply(NewDefault("2.0"));
  Apply(Compatible("2.1", "2.0"));
  const std::string set = *sets_.DefaultSetId();
  Apply(PromoteWithinSet("2.0"));
  EXPECT_EQ(Shown(sets_), (Sets{{"2.1", "2.0"}}));
  EXPECT_EQ(sets_.DefaultOf(set), "2.0");
}

TEST_F(VersionSetsTest, MergeKeepsThePrimarysPlaceAndDefaultAndBothSetIds) {
  Apply(NewDefault("1.0"));
  const std::string set1 = *sets_.DefaultSetId();
  Apply(NewDefault("2.0"));
  const std::string set2 = *sets_.DefaultSetId();
  Apply(NewDefault("3.0"));
  Apply(Merge("1.0", "2.0"));
  EXPECT_EQ(Shown(sets_), (Sets{{"2.0", "1.0"}, {"3.0"}}));
  // Runs assigned either set now go to the merged set's default.
  EXPECT_EQ(sets_.DefaultOf(set1), "1.0");
  EXPECT_EQ(sets_.DefaultOf(set2), "1.0");
  EXPECT_TRUE(sets_.SetHas(set2, "1.0"));
  // Merging the default set into an older one moves the default to the primary's place.
  Apply(Merge("1.0", "3.0"));
  EXPECT_EQ(Shown(sets_), (Sets{{"3.0", "2.0", "1.0"}}));
  EXPECT_EQ(sets_.DefaultBuildId(), "1.0");
}

TEST_F(VersionSetsTest, RepeatedRequestsChangeNothingAndSucceed) {
  Apply(NewDefault("1.0"));
  EXPECT_FALSE(*sets_.Apply(NewDefault("1.0"), limits_));
  Apply(Compatible("1.1", "1.0"));
  EXPECT_FALSE(*sets_.Apply(Compatible("1.1", "1.0"), limits_));
  EXPECT_FALSE(*sets_.Apply(PromoteSet("1.1"), limits_));
  EXPECT_FALSE(*sets_.Apply(PromoteWithinSet("1.1"), limits_));
  EXPECT_FALSE(*sets_.Apply(Merge("1.0", "1.1"), limits_));
  EXPECT_EQ(Shown(sets_), (Sets{{"1.0", "1.1"}}));
}

TEST_F(VersionSetsTest, ForbiddenOperationsAreRejected) {
  Apply(NewDefault("1.0"));
  Apply(NewDefault("2.0"));
  // An existing id cannot be added again, as a new set or into another set.
  EXPECT_EQ(Fails(NewDefault("1.0")), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(last_error_.find("already exists"), std::string::npos) << last_error_;
  EXPECT_EQ(Fails(Compatible("1.0", "2.0")), absl::StatusCode::kInvalidArgument);
  // Unknown ids.
  EXPECT_EQ(Fails(Compatible("9.1", "9.0")), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(last_error_.find("\"9.0\""), std::string::npos) << last_error_;
  EXPECT_EQ(Fails(PromoteSet("9.0")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fails(PromoteWithinSet("9.0")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fails(Merge("1.0", "9.0")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fails(Merge("9.0", "1.0")), absl::StatusCode::kInvalidArgument);
  // Empty ids and no operation at all.
  EXPECT_EQ(Fails(NewDefault("")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fails(Compatible("", "1.0")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fails(Request()), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(last_error_.find("one operation"), std::string::npos) << last_error_;
}

TEST_F(VersionSetsTest, BuildIdLimitCountsEveryIdOfEverySet) {
  limits_.max_build_ids = 3;
  Apply(NewDefault("1.0"));
  Apply(Compatible("1.1", "1.0"));
  Apply(NewDefault("2.0"));
  EXPECT_EQ(Fails(Compatible("2.1", "2.0")), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(last_error_.find("limit.versionBuildIdLimitPerQueue = 3"), std::string::npos)
      << last_error_;
  EXPECT_EQ(Fails(NewDefault("3.0")), absl::StatusCode::kFailedPrecondition);
  // Promotions and merges add no id: still allowed at the limit.
  Apply(PromoteSet("1.0"));
  Apply(Merge("2.0", "1.1"));
  EXPECT_EQ(Shown(sets_), (Sets{{"1.0", "1.1", "2.0"}}));
}

TEST_F(VersionSetsTest, SetLimit) {
  limits_.max_sets = 2;
  Apply(NewDefault("1.0"));
  Apply(NewDefault("2.0"));
  EXPECT_EQ(Fails(NewDefault("3.0")), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(last_error_.find("limit.versionCompatibleSetLimitPerQueue = 2"), std::string::npos)
      << last_error_;
  Apply(Compatible("2.1", "2.0"));  // a compatible id adds no set
  Apply(Merge("2.1", "1.0"));
  Apply(NewDefault("3.0"));  // room again after the merge
  EXPECT_EQ(Shown(sets_), (Sets{{"1.0", "2.0", "2.1"}, {"3.0"}}));
}

TEST_F(VersionSetsTest, BuildIdSizeLimit) {
  limits_.max_build_id_size = 8;
  Apply(NewDefault("12345678"));
  EXPECT_EQ(Fails(NewDefault("123456789")), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(last_error_.find("limit.workerBuildIdSize = 8"), std::string::npos) << last_error_;
  EXPECT_EQ(Fails(Compatible("123456789", "12345678")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fails(Compatible("1", "123456789")), absl::StatusCode::kInvalidArgument);
  // The default: 255.
  VersionSets defaults;
  EXPECT_TRUE(defaults.Apply(NewDefault(std::string(255, 'b')), {}).ok());
  EXPECT_EQ(defaults.Apply(NewDefault(std::string(256, 'b')), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(VersionSetsTest, MaxSetsShowsTheNewestSets) {
  for (const char* id : {"1.0", "2.0", "3.0"}) Apply(NewDefault(id));
  EXPECT_EQ(Shown(sets_, 2), (Sets{{"2.0"}, {"3.0"}}));
  EXPECT_EQ(Shown(sets_, 1), (Sets{{"3.0"}}));
  EXPECT_EQ(Shown(sets_, 0), (Sets{{"1.0"}, {"2.0"}, {"3.0"}}));
  EXPECT_EQ(Shown(sets_, 9), (Sets{{"1.0"}, {"2.0"}, {"3.0"}}));
}

TEST_F(VersionSetsTest, PersistedFormRoundTrips) {
  Apply(NewDefault("1.0"));
  const std::string set1 = *sets_.DefaultSetId();
  Apply(NewDefault("2.0"));
  Apply(Merge("2.0", "1.0"));
  Apply(NewDefault("3.0"));
  auto decoded = VersionSets::Decode(sets_.Encode());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(Shown(*decoded), Shown(sets_));
  EXPECT_EQ(decoded->DefaultOf(set1), "2.0");
  EXPECT_EQ(decoded->DefaultSetId(), sets_.DefaultSetId());
  EXPECT_EQ(VersionSets::Decode("\xff\xff garbage").status().code(), absl::StatusCode::kDataLoss);
}

TEST(DynamicConfigTest, SetsTheSeedsLimitsByName) {
  VersionSets::Limits limits;
  ASSERT_TRUE(SetDynamicConfig("limit.versionBuildIdLimitPerQueue=7", limits).ok());
  ASSERT_TRUE(SetDynamicConfig("limit.versionCompatibleSetLimitPerQueue=3", limits).ok());
  ASSERT_TRUE(SetDynamicConfig("limit.workerBuildIdSize=40", limits).ok());
  EXPECT_EQ(limits.max_build_ids, 7);
  EXPECT_EQ(limits.max_sets, 3);
  EXPECT_EQ(limits.max_build_id_size, 40);
  auto unknown = SetDynamicConfig("limit.nope=1", limits);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("limit.workerBuildIdSize"), std::string::npos);
  EXPECT_EQ(SetDynamicConfig("limit.workerBuildIdSize=0", limits).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetDynamicConfig("limit.workerBuildIdSize", limits).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln::cluster
