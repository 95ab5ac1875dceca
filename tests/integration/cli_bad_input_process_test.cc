// The bad-input catalogue of the `kiln` command line and its config files (docs/RELIABILITY.md,
// "Bad-input catalogue"), run as real processes: unknown flags and commands, bad durations, bad
// --input JSON, bad --codec-key, bad --simulate-gpus, bad `kiln dev` flags, and bad TOML for
// `kiln worker --config` and the Temporal profiles file. Each must exit with the project's usage
// code (2, cli/commands.h) and a first line that says what was wrong, at once, without a crash and
// without reaching for a server (the address given is a closed port).
//
// The exit code and first line of each case must be the row of the table in docs/RELIABILITY.md;
// KILN_UPDATE_CATALOGUE=1 writes the table from what the program printed instead.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "example_processes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::testing {
namespace {

constexpr char kClosed[] = "127.0.0.1:1";  // nothing listens there
constexpr char kBegin[] = "<!-- catalogue:cli begin";
constexpr char kEnd[] = "<!-- catalogue:cli end -->";

struct Case {
  std::string id;
  std::vector<std::string> args;              // after `kiln`; "{dir}" is the case's directory
  std::map<std::string, std::string> files;  // written into the directory first
  int exit_code = 2;
  std::string says;  // the first line must contain this
  std::string shown = "";  // the command as the table shows it ("" = the args)
};

std::vector<Case> Cases() {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::vector<std::string> start = {"activity", "start", "--address", kClosed, "--task-queue", "q",
                                    "--type", "t", "--start-to-close-timeout", "10s"};
  auto with = [](std::vector<std::string> base, std::vector<std::string> more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
  };
  std::vector<std::string> worker = {"worker", "--address", kClosed, "--task-queue", "q"};
  return {
      {"cli.unknown-flag", with(start, {"--bogus"}), {}, 2, "unknown flag --bogus"},
      {"cli.flag-typo", {"activity", "list", "--addres", kClosed}, {}, 2, "did you mean --address"},
      {"cli.unknown-command", {"actvity", "list"}, {}, 2, "did you mean `kiln activity`"},
      {"cli.missing-required-flag", {"activity", "describe", "--address", kClosed}, {}, 2,
       "--activity-id is required"},
      {"cli.bad-choice", with(start, {"--output", "yaml"}), {}, 2, "yaml"},
      {"cli.duration.no-unit", with(start, {"--heartbeat-timeout", "5"}), {}, 2, "use Go-style"},
      {"cli.duration.negative", with(start, {"--heartbeat-timeout", "-5s"}), {}, 2,
       "must not be negative"},
      {"cli.duration.garbage", with(start, {"--retry-initial-interval", "1x"}), {}, 2,
       "invalid duration '1x'"},
      {"cli.duration.huge", with(start, {"--heartbeat-timeout", "99999999999h"}), {}, 2,
       "at most 100 years"},
      {"cli.input.bad-json", with(start, {"--input", "{\"a\":"}), {}, 2, "is not valid JSON"},
      {"cli.input.deep-json", with(start, {"--input-file", "{dir}/deep.json"}), {{"deep.json", deep}},
       3, "cannot reach Temporal", "kiln activity start ... --input-file deep.json (100,000 nested arrays)"},
      {"cli.input.missing-file", with(start, {"--input-file", "{dir}/none.json"}), {}, 2,
       "cannot be read"},
      {"cli.input.meta-not-key-value", with(start, {"--input", "1", "--input-meta", "x"}), {}, 2,
       "is not KEY=VALUE"},
      {"cli.codec-key.no-id", with(start, {"--codec-key", "abc"}), {}, 2, "has no '='"},
      {"cli.codec-key.not-base64", with(start, {"--codec-key", "k=!!!"}), {}, 2,
       "not valid base64"},
      {"cli.codec-key.short", with(start, {"--codec-key", "k=AAAA"}), {}, 2, "not 32"},
      {"cli.address.port-out-of-range", {"activity", "list", "--address", "127.0.0.1:99999"}, {}, 2,
       "outside 1 to 65535"},
      {"cli.simulate-gpus.garbage", {"gpus", "--simulate-gpus", "garbage"}, {}, 2,
       "expected COUNTxNAME:MEMORY_GIB:ARCH"},
      {"cli.simulate-gpus.zero", {"gpus", "--simulate-gpus", "0xH100:80:sm90"}, {}, 2, "0xH100"},
      {"cli.simulate-gpus.negative-memory", {"gpus", "--simulate-gpus", "1xH100:-80:sm90"}, {}, 2,
       "-80"},
      {"cli.worker.bad-queue-name", {"worker", "--address", kClosed, "--task-queue", "q@@x"}, {}, 2,
       "q@@x"},
      {"cli.worker.simulate-gpus", with(worker, {"--simulate-gpus", "2xH100"}), {}, 2, "2xH100"},
      {"dev.port-out-of-range", {"dev", "--port", "70000"}, {}, 2, "70000"},
      {"dev.max-payload-bytes", {"dev", "--max-payload-bytes", "-1"}, {}, 2, "not in range"},
      {"dev.log-level", {"dev", "--log-level", "loud"}, {}, 2, "unknown log level 'loud'"},
      {"dev.tls-cert-missing", {"dev", "--tls-cert", "{dir}/none.pem", "--tls-key", "{dir}/none.key"},
       {}, 2, "cannot read the TLS server certificate"},
      {"worker-config.missing-file", {"worker", "--address", kClosed, "--config", "{dir}/none.toml"},
       {}, 2, "cannot read the Kiln worker settings file"},
      {"worker-config.not-toml", {"worker", "--address", kClosed, "--config", "{dir}/w.toml"},
       {{"w.toml", "task_queues = [\n"}}, 2, "not valid TOML"},
      {"worker-config.unknown-key", {"worker", "--address", kClosed, "--config", "{dir}/w.toml"},
       {{"w.toml", "task_queue = [\"q\"]\n"}}, 2, "unknown key"},
      {"worker-config.wrong-type", {"worker", "--address", kClosed, "--config", "{dir}/w.toml"},
       {{"w.toml", "task_queues = [\"q\"]\nmax_concurrent_activities = \"ten\"\n"}}, 2,
       "expected an integer"},
      {"worker-config.queue-not-string", {"worker", "--address", kClosed, "--config", "{dir}/w.toml"},
       {{"w.toml", "task_queues = [\"a\", 5]\n"}}, 2, "non-empty strings"},
      {"worker-config.bad-duration", {"worker", "--address", kClosed, "--config", "{dir}/w.toml"},
       {{"w.toml", "task_queues = [\"q\"]\ngraceful_shutdown_timeout = \"soon\"\n"}}, 2, "soon"},
      {"worker-config.invalid-utf8", {"worker", "--address", kClosed, "--config", "{dir}/w.toml"},
       {{"w.toml", "task_queues = [\"\xff\xfe\"]\n"}}, 2, "w.toml"},
      {"profile.not-toml", {"activity", "list", "--config-file", "{dir}/t.toml"},
       {{"t.toml", "[profile.default\n"}}, 2, "not valid TOML"},
      {"profile.unknown-profile", {"activity", "list", "--config-file", "{dir}/t.toml", "--profile", "x"},
       {{"t.toml", "[profile.default]\naddress = \"127.0.0.1:1\"\n"}}, 2, "profile 'x' not found"},
      {"profile.wrong-type", {"activity", "list", "--config-file", "{dir}/t.toml"},
       {{"t.toml", "[profile.default]\naddress = 5\n"}}, 2, "address must be a string"},
      {"profile.missing-file", {"activity", "list", "--config-file", "{dir}/none.toml"}, {}, 2,
       "cannot be read"},
  };
}

// The first line of `output`, without a log line's time, level and pid, with `dir` as DIR.
std::string FirstLine(const std::string& output, const std::string& dir) {
  std::istringstream in(absl::StrReplaceAll(output, {{dir, "DIR"}}));
  std::string line;
  while (std::getline(in, line) && line.empty()) {
  }
  static const std::regex kLogPrefix(R"(^\d{4}-\d\d-\d\dT[\d:.]+ +\w+ +\[\d+\] +)");
  return std::regex_replace(line, kLogPrefix, "");
}

// Bytes outside ASCII as \xNN, so the doc stays UTF-8 whatever a program echoes.
std::string HexHigh(const std::string& text) {
  std::string out;
  for (unsigned char ch : text) {
    if (ch < 0x80) {
      out += static_cast<char>(ch);
    } else {
      out += absl::StrCat("\\x", absl::Hex(ch, absl::kZeroPad2));
    }
  }
  return out;
}

std::string Escape(std::string text) {
  if (text.size() > 240) text = text.substr(0, 239) + "…";
  return absl::StrReplaceAll(text, {{"|", "\\|"}, {"`", "'"}});
}

std::string Row(const Case& c, int exit_code, const std::string& line) {
  std::string shown = c.shown;
  if (shown.empty()) {
    std::vector<std::string> args = {"kiln"};
    for (const auto& a : c.args) {
      std::string arg = HexHigh(absl::StrReplaceAll(a, {{"{dir}/", ""}}));
      args.push_back(arg.find_first_of(" \"{") != std::string::npos ? "'" + arg + "'" : arg);
    }
    shown = absl::StrJoin(args, " ");
    for (const auto& [name, content] : c.files) {
      shown += absl::StrCat(" (", name, ": ", absl::StrReplaceAll(HexHigh(content), {{"\n", "⏎"}}), ")");
    }
  }
  return absl::StrCat("| `", c.id, "` | `", Escape(shown), "` | ", exit_code, " | ", Escape(line),
                      " |");
}

TEST(CliBadInputProcessTest, EveryBadCommandLineAndConfigFileIsAUsageErrorSayingWhatIsWrong) {
  std::vector<std::string> rows;
  for (const Case& c : Cases()) {
    const std::string dir = TempDir("badinput_" + c.id);
    for (const auto& [name, content] : c.files) std::ofstream(dir + "/" + name) << content;
    std::vector<std::string> argv = {KILN_BINARY};
    for (const auto& a : c.args) argv.push_back(absl::StrReplaceAll(a, {{"{dir}", dir}}));
    RunOptions options;
    options.cwd = dir;
    options.env = std::map<std::string, std::string>{
        {"HOME", dir}, {"TMPDIR", dir}, {"PATH", "/usr/bin:/bin"}};
    options.timeout = std::chrono::seconds(30);
    ProcessRun run = RunToEnd(argv, options);
    const std::string line = HexHigh(FirstLine(run.output, dir));
    EXPECT_EQ(run.exit_code, c.exit_code) << c.id << "\n" << run.output.substr(0, 2000);
    EXPECT_THAT(line, ::testing::HasSubstr(c.says)) << c.id;
    rows.push_back(Row(c, run.exit_code, line));
  }

  std::ifstream in(KILN_RELIABILITY_MD);
  std::stringstream text;
  text << in.rdbuf();
  std::string doc = text.str();
  const size_t begin = doc.find(kBegin);
  const size_t end = doc.find(kEnd);
  ASSERT_NE(begin, std::string::npos) << "docs/RELIABILITY.md has no " << kBegin << " marker";
  ASSERT_NE(end, std::string::npos);
  const size_t body = doc.find('\n', begin) + 1;
  std::string table =
      absl::StrCat(rows.size(), " cases, each exited at once, without a crash, with the code and "
                   "first line below.\n\n") +
      "| case | command (DIR: a fresh directory; files written there first) | exit code | first "
      "line of output |\n| --- | --- | ---: | --- |\n" +
      absl::StrJoin(rows, "\n") + "\n";
  if (const char* update = std::getenv("KILN_UPDATE_CATALOGUE"); update && std::string(update) == "1") {
    std::ofstream(KILN_RELIABILITY_MD) << doc.substr(0, body) << table << doc.substr(end);
    return;
  }
  EXPECT_EQ(doc.substr(body, end - body), table)
      << "docs/RELIABILITY.md's command-line catalogue differs from what kiln printed; "
         "KILN_UPDATE_CATALOGUE=1 rewrites it";
}

}  // namespace
}  // namespace kiln::testing
