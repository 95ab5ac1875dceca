// The --follow progress display: the heartbeat-details convention, the ETA from the fraction's
// rate, TTY redraws, rate-limited plain lines, and the raw-details fallback.
#include "cli/activity_progress.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kiln::cli {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

ProgressSnapshot Running(nlohmann::json details, absl::Time at, int attempt = 1) {
  ProgressSnapshot s;
  s.status = "RUNNING";
  s.attempt = attempt;
  s.has_details = true;
  s.details = std::move(details);
  s.heartbeat_time = at;
  return s;
}

nlohmann::json Fraction(double f, const std::string& message = "") {
  nlohmann::json p = {{"fraction", f}};
  if (!message.empty()) p["message"] = message;
  return {{"progress", p}};
}

TEST(ParseProgressTest, ReadsEveryFieldOfTheConvention) {
  auto p = ParseProgress(nlohmann::json::parse(
      R"({"progress": {"fraction": 0.25, "message": "epoch 1/4", "current": 1, "total": 4,
          "unit": "epochs"}, "checkpoint": {"weights": [1, 2]}})"));
  ASSERT_TRUE(p.has_value());
  EXPECT_DOUBLE_EQ(*p->fraction, 0.25);
  EXPECT_EQ(p->message, "epoch 1/4");
  EXPECT_DOUBLE_EQ(*p->current, 1);
  EXPECT_DOUBLE_EQ(*p->total, 4);
  EXPECT_EQ(p->unit, "epochs");
}

TEST(ParseProgressTest, DerivesTheFractionFromCurrentAndTotalAndClampsIt) {
  auto derived = ParseProgress({{"progress", {{"current", 30}, {"total", 120}}}});
  ASSERT_TRUE(derived.has_value());
  EXPECT_DOUBLE_EQ(*derived->fraction, 0.25);
  EXPECT_DOUBLE_EQ(*ParseProgress(Fraction(1.7))->fraction, 1.0);
  EXPECT_DOUBLE_EQ(*ParseProgress(Fraction(-0.5))->fraction, 0.0);
  auto indeterminate = ParseProgress({{"progress", {{"current", 7}, {"unit", "files"}}}});
  ASSERT_TRUE(indeterminate.has_value());
  EXPECT_FALSE(indeterminate->fraction.has_value());
}

TEST(ParseProgressTest, RejectsDetailsOutsideTheConvention) {
  EXPECT_FALSE(ParseProgress(1234).has_value());
  EXPECT_FALSE(ParseProgress("half done").has_value());
  EXPECT_FALSE(ParseProgress({{"fraction", 0.5}}).has_value());
  EXPECT_FALSE(ParseProgress({{"progress", 0.5}}).has_value());
  EXPECT_FALSE(ParseProgress({{"progress", {{"fraction", "half"}}}}).has_value());
  EXPECT_FALSE(ParseProgress({{"progress", {{"message", 3}}}}).has_value());
}

TEST(FormatTest, EtaAndBar) {
  EXPECT_EQ(FormatEta(absl::Seconds(12)), "12s");
  EXPECT_EQ(FormatEta(absl::Milliseconds(200)), "1s");
  EXPECT_EQ(FormatEta(absl::Seconds(185)), "3m05s");
  EXPECT_EQ(FormatEta(absl::Hours(2) + absl::Minutes(3)), "2h03m");
  EXPECT_EQ(FormatEta(absl::InfiniteDuration()), "-");
  EXPECT_EQ(FormatBar(0.5, 10), "[#####-----]");
  EXPECT_EQ(FormatBar(1.0, 4), "[####]");
  EXPECT_EQ(FormatBar(0.0, 4), "[----]");
}

TEST(EtaEstimatorTest, ExtrapolatesTheRateAndRestartsOnANewAttempt) {
  EtaEstimator eta;
  eta.Add(1, 0.1, kT0);
  EXPECT_FALSE(eta.Eta().has_value()) << "one sample gives no rate";
  eta.Add(1, 0.3, kT0 + absl::Seconds(10));  // 0.2 per 10 s -> 0.7 left takes 35 s
  ASSERT_TRUE(eta.Eta().has_value());
  EXPECT_EQ(*eta.Eta(), absl::Seconds(35));
  eta.Add(2, 0.3, kT0 + absl::Seconds(60));  // a retry: the old rate says nothing
  EXPECT_FALSE(eta.Eta().has_value());
  eta.Add(2, 0.2, kT0 + absl::Seconds(61));  // going back restarts too
  EXPECT_FALSE(eta.Eta().has_value());
}

TEST(EtaEstimatorTest, UsesTheRecentRateNotTheRateSinceTheFirstHeartbeat) {
  // A slow start (loading, a first heartbeat sent at once and then throttled), then a steady
  // 0.1 per second: the ETA follows the steady rate.
  EtaEstimator eta;
  eta.Add(1, 0.00, kT0);
  eta.Add(1, 0.01, kT0 + absl::Seconds(10));
  for (size_t i = 1; i <= EtaEstimator::kWindow; ++i) {
    eta.Add(1, 0.01 + 0.1 * i, kT0 + absl::Seconds(10 + i));
  }
  // Now at 0.41 after 14 s; 0.59 left at 0.1/s is 5.9 s (since the first heartbeat it would
  // be 0.59 x 14 / 0.41 = 20 s).
  ASSERT_TRUE(eta.Eta().has_value());
  EXPECT_NEAR(absl::ToDoubleSeconds(*eta.Eta()), 5.9, 0.01);
}

TEST(EtaEstimatorTest, CountsFromNowNotFromTheLastHeartbeat) {
  // A 10 s sleep heartbeating 0.05 at 0.5 s and 0.2 at 2 s (throttled): at 3 s, 7 s are left.
  EtaEstimator eta;
  eta.Add(1, 0.05, kT0 + absl::Milliseconds(500));
  eta.Add(1, 0.20, kT0 + absl::Seconds(2));
  ASSERT_TRUE(eta.Eta().has_value());
  EXPECT_NEAR(absl::ToDoubleSeconds(*eta.Eta()), 8, 1e-6);  // at the heartbeat
  EXPECT_NEAR(absl::ToDoubleSeconds(*eta.Eta(kT0 + absl::Seconds(3))), 7, 1e-6);
  EXPECT_EQ(*eta.Eta(kT0 + absl::Seconds(30)), absl::ZeroDuration()) << "never negative";
}

TEST(EtaEstimatorTest, APauseLowersTheRateAndTheSameHeartbeatTwiceCountsOnce) {
  EtaEstimator eta;
  eta.Add(1, 0.1, kT0);
  eta.Add(1, 0.2, kT0 + absl::Seconds(1));
  eta.Add(1, 0.2, kT0 + absl::Seconds(1));  // the same heartbeat described again
  EXPECT_NEAR(absl::ToDoubleSeconds(*eta.Eta()), 8, 1e-6);
  eta.Add(1, 0.2, kT0 + absl::Seconds(3));  // no progress for 2 s: 0.1 per 3 s
  EXPECT_NEAR(absl::ToDoubleSeconds(*eta.Eta()), 24, 1e-6);
}

TEST(ProgressRendererTest, EtaCountsDownBetweenHeartbeats) {
  ProgressRenderer r({.tty = true, .width = 200});
  r.Update(Running(Fraction(0.1), kT0), kT0);
  auto first = r.Update(Running(Fraction(0.3), kT0 + absl::Seconds(10)), kT0 + absl::Seconds(10));
  ASSERT_TRUE(first.has_value());
  EXPECT_NE(first->find("ETA 35s"), std::string::npos) << *first;
  auto later = r.Update(Running(Fraction(0.3), kT0 + absl::Seconds(10)), kT0 + absl::Seconds(15));
  ASSERT_TRUE(later.has_value());
  EXPECT_NE(later->find("ETA 30s"), std::string::npos) << *later;
}

TEST(ProgressRendererTest, LineShowsBarPercentEtaAttemptAndMessage) {
  ProgressRenderer r({.tty = false, .width = 200});
  r.Line(Running(Fraction(0.1, "warming up"), kT0));
  std::string line = r.Line(Running(
      {{"progress", {{"fraction", 0.3}, {"current", 3}, {"total", 10}, {"unit", "epochs"},
                     {"message", "loss 0.25"}}}},
      kT0 + absl::Seconds(10)));
  EXPECT_EQ(line, "[######--------------]  30%  ETA 35s  attempt 1  3/10 epochs  loss 0.25");
}

TEST(ProgressRendererTest, ARetryShowsTheAttemptAndTheLastFailure) {
  ProgressRenderer r({.tty = false, .width = 200});
  ProgressSnapshot s = Running(Fraction(0.5), kT0, 2);
  s.last_failure = "CUDA out of memory\nat layer 3";
  std::string line = r.Line(s);
  EXPECT_NE(line.find("attempt 2 (retry after: CUDA out of memory at layer 3)"), std::string::npos)
      << line;
}

TEST(ProgressRendererTest, OtherDetailsAreShownRawAndTruncated) {
  ProgressRenderer r({.tty = false, .width = 200});
  EXPECT_EQ(r.Line(Running(4200, kT0)), "attempt 1  details: 4200");
  std::string long_line = r.Line(Running({{"log", std::string(300, 'x')}}, kT0));
  EXPECT_LT(long_line.size(), 100u);
  EXPECT_EQ(long_line.substr(long_line.size() - 3), "...");
  ProgressSnapshot waiting;
  waiting.status = "SCHEDULED";
  EXPECT_EQ(r.Line(waiting), "SCHEDULED  attempt 1  waiting for a worker");
}

TEST(ProgressRendererTest, TtyRedrawsInPlaceOnlyWhenTheLineChanges) {
  ProgressRenderer r({.tty = true, .width = 200});
  auto first = r.Update(Running(Fraction(0.5, "half"), kT0), kT0);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->front(), '\r');
  EXPECT_NE(first->find("50%"), std::string::npos);
  EXPECT_EQ(first->substr(first->size() - 3), "\x1b[K");
  EXPECT_FALSE(r.Update(Running(Fraction(0.5, "half"), kT0), kT0).has_value());
  EXPECT_TRUE(r.Update(Running(Fraction(0.6, "more"), kT0), kT0).has_value());
  EXPECT_EQ(r.Finish(), "\n");
}

TEST(ProgressRendererTest, PlainOutputIsOneLinePerChangeRateLimitedWithoutEscapes) {
  ProgressRenderer r({.tty = false, .width = 200, .min_line_interval = absl::Seconds(1)});
  std::vector<std::string> written;
  // `after`: when the heartbeat was recorded; `seen`: when the display saw it (default: then).
  auto feed = [&](double f, absl::Duration after, absl::Duration seen = absl::ZeroDuration()) {
    if (auto out = r.Update(Running(Fraction(f), kT0 + after), kT0 + std::max(after, seen))) {
      written.push_back(*out);
    }
  };
  feed(0.10, absl::ZeroDuration());
  feed(0.12, absl::Milliseconds(300));  // too soon: held back
  feed(0.15, absl::Milliseconds(600));  // too soon: held back
  feed(0.20, absl::Milliseconds(1100));
  feed(0.20, absl::Milliseconds(1100), absl::Milliseconds(1500));  // same heartbeat: nothing
  feed(0.90, absl::Milliseconds(1900));  // too soon after 1100, but Finish() shows it
  std::string last = r.Finish();
  ASSERT_EQ(written.size(), 2u);
  EXPECT_NE(written[0].find(" 10%"), std::string::npos) << written[0];
  EXPECT_NE(written[1].find(" 20%"), std::string::npos) << written[1];
  EXPECT_NE(last.find(" 90%"), std::string::npos) << last;
  for (const std::string& line : {written[0], written[1], last}) {
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
    EXPECT_EQ(line.find('\r'), std::string::npos);
    EXPECT_EQ(line.find('\x1b'), std::string::npos);
  }
  EXPECT_EQ(r.Finish(), "") << "nothing left to show";
}

TEST(ProgressRendererTest, PlainOutputWritesAStateChangeAtOnce) {
  ProgressRenderer r({.tty = false, .width = 200, .min_line_interval = absl::Seconds(10)});
  ProgressSnapshot scheduled;
  scheduled.status = "SCHEDULED";
  ASSERT_TRUE(r.Update(scheduled, kT0).has_value());
  auto running = r.Update(Running(Fraction(0.1), kT0), kT0 + absl::Milliseconds(10));
  ASSERT_TRUE(running.has_value());
  // The last heartbeat said 80% (heartbeats are throttled); completed means done.
  ProgressSnapshot done = Running(Fraction(0.8, "epoch 8/10"), kT0 + absl::Milliseconds(20));
  done.status = "COMPLETED";
  auto completed = r.Update(done, kT0 + absl::Milliseconds(20));
  ASSERT_TRUE(completed.has_value());
  EXPECT_NE(completed->find("COMPLETED"), std::string::npos);
  EXPECT_NE(completed->find("100%"), std::string::npos);
  EXPECT_NE(completed->find("(last heartbeat: epoch 8/10)"), std::string::npos)
      << "the 80% message is older than the 100% bar: " << *completed;
}

TEST(ProgressRendererTest, ACompletedActivityWhoseLastHeartbeatSaidDoneShowsItsMessagePlainly) {
  ProgressRenderer r({.tty = false, .width = 200});
  ProgressSnapshot done = Running(Fraction(1.0, "all 10 epochs"), kT0);
  done.status = "COMPLETED";
  std::string line = r.Line(done);
  EXPECT_NE(line.find("100%  attempt 1  all 10 epochs"), std::string::npos) << line;
  EXPECT_EQ(line.find("last heartbeat"), std::string::npos) << line;
}

}  // namespace
}  // namespace kiln::cli
