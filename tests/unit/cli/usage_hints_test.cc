// Typos in flags and commands get the nearest valid spelling, as git and the temporal CLI do.
#include "cli/usage_hints.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::cli {
namespace {

using ::testing::HasSubstr;

// A small command tree shaped like `kiln`'s: worker (flags only), activity (a command group).
class UsageHintsTest : public ::testing::Test {
 protected:
  UsageHintsTest() {
    app_.require_subcommand(1);
    app_.set_version_flag("--version", "1");
    CLI::App* worker = app_.add_subcommand("worker", "w");
    worker->add_option("--task-queue,-q", queues_);
    worker->add_option("--max-concurrent-activities", number_);
    worker->add_flag("--tls", flag_);
    CLI::App* activity = app_.add_subcommand("activity", "a");
    activity->require_subcommand(1);
    for (const char* name : {"start", "execute", "list", "describe"}) {
      activity->add_subcommand(name, name)->add_option("--input,-i", inputs_);
    }
    app_.add_subcommand("dev", "d")->add_option("--port", number_);
  }

  std::string Explain(std::vector<std::string> args) { return ExplainUsageError(app_, args); }

  CLI::App app_{"kiln"};
  std::vector<std::string> queues_, inputs_;
  int number_ = 0;
  bool flag_ = false;
};

TEST(EditDistanceTest, CountsEditsAndNeighbourSwapsAsOne) {
  EXPECT_EQ(EditDistance("list", "list"), 0u);
  EXPECT_EQ(EditDistance("lst", "list"), 1u);
  EXPECT_EQ(EditDistance("lsit", "list"), 1u);
  EXPECT_EQ(EditDistance("--task-queu", "--task-queue"), 1u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

TEST(NearestNameTest, SuggestsOnlyPlausibleTypos) {
  EXPECT_EQ(NearestName("lst", {"start", "list", "describe"}), "list");
  EXPECT_EQ(NearestName("--task-queu", {"--task-queue", "--tls"}), "--task-queue");
  EXPECT_EQ(NearestName("--max-concurrent", {"--max-concurrent-activities", "--tls"}),
            "--max-concurrent-activities");  // a unique prefix, near enough
  EXPECT_EQ(NearestName("xyz", {"start", "list"}), "");
  EXPECT_EQ(NearestName("--frobnicate", {"--task-queue", "--tls"}), "");
}

TEST_F(UsageHintsTest, UnknownFlagNamesTheNearestOne) {
  EXPECT_EQ(Explain({"worker", "--task-queu", "demo"}),
            "unknown flag --task-queu for `kiln worker`; did you mean --task-queue?");
  EXPECT_EQ(Explain({"worker", "--task-queue=demo", "--tsl"}),
            "unknown flag --tsl for `kiln worker`; did you mean --tls?");
}

TEST_F(UsageHintsTest, UnknownFlagWithoutNearNameSaysWhereToLook) {
  EXPECT_EQ(Explain({"worker", "-q", "demo", "--frobnicate"}),
            "unknown flag --frobnicate for `kiln worker` (see `kiln worker --help`)");
  EXPECT_THAT(Explain({"worker", "--version"}),
              HasSubstr("--version belongs before the command"));
  // The worker's -q is not a flag of `activity execute` (which takes -t); no guess among the
  // one-letter flags, whose every pair is one edit apart.
  EXPECT_EQ(Explain({"activity", "execute", "-q", "demo"}),
            "unknown flag -q for `kiln activity execute` (see `kiln activity execute --help`)");
}

TEST_F(UsageHintsTest, FlagValuesAreNotMistakenForCommands) {
  // "lst" is the value of --input here, and list options take every word up to the next flag.
  EXPECT_EQ(Explain({"activity", "start", "--input", "lst", "\"x\"", "--max"}),
            "unknown flag --max for `kiln activity start` (see `kiln activity start --help`)");
  EXPECT_EQ(Explain({"worker", "--max-concurrent-activities", "-5", "--tlss"}),
            "unknown flag --tlss for `kiln worker`; did you mean --tls?");
}

TEST_F(UsageHintsTest, UnknownSubcommandNamesTheNearestOne) {
  EXPECT_EQ(Explain({"activity", "lst"}),
            "unknown command `lst` for `kiln activity`; did you mean `kiln activity list`?");
  EXPECT_EQ(Explain({"wroker", "-q", "x"}),
            "unknown command `wroker` for `kiln`; did you mean `kiln worker`?");
  EXPECT_EQ(Explain({"activity", "zap"}),
            "unknown command `zap` for `kiln activity`; its commands are start, execute, list, "
            "describe (see `kiln activity --help`)");
}

TEST_F(UsageHintsTest, TemporalsServerStartDevPointsToKilnDev) {
  std::string hint = Explain({"server", "start-dev"});
  EXPECT_THAT(hint, HasSubstr("unknown command `server` for `kiln`"));
  EXPECT_THAT(hint, HasSubstr("`kiln dev`"));
  EXPECT_THAT(hint, HasSubstr("temporal server start-dev"));
}

TEST_F(UsageHintsTest, MissingCommandListsTheCommands) {
  EXPECT_EQ(Explain({"activity"}),
            "`kiln activity` needs a command: start, execute, list, describe (see `kiln activity "
            "--help`)");
}

TEST_F(UsageHintsTest, UnexpectedWordForAFlagsOnlyCommand) {
  EXPECT_EQ(Explain({"worker", "-q", "a", "--tls", "extra"}),
            "unexpected argument 'extra' for `kiln worker` (it takes flags only; see `kiln "
            "worker --help`)");
}

TEST_F(UsageHintsTest, NothingToSayWhenNamesAreRight) {
  // e.g. a missing required flag or a bad value: CLI11's own message is the right one.
  EXPECT_EQ(Explain({"worker", "-q", "a", "--max-concurrent-activities", "x"}), "");
  EXPECT_EQ(Explain({"dev", "--port=70000"}), "");
}

}  // namespace
}  // namespace kiln::cli
