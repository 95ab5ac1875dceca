#include "cli/client_flags.h"

#include "absl/strings/escaping.h"
#include "cli/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::cli {
namespace {

using ::testing::HasSubstr;

TEST(ParseGoDurationTest, AcceptsGoStyleDurations) {
  EXPECT_EQ(*ParseGoDuration("10s", "--x"), absl::Seconds(10));
  EXPECT_EQ(*ParseGoDuration("1m30s", "--x"), absl::Seconds(90));
  EXPECT_EQ(*ParseGoDuration("500ms", "--x"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseGoDuration("1.5h", "--x"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("0", "--x"), absl::ZeroDuration());
}

TEST(ParseGoDurationTest, RejectsMissingUnitsNegativesAndInfinityNamingTheFlag) {
  for (const char* bad : {"10", "ten seconds", "", "inf", "5d"}) {
    absl::Status status = ParseGoDuration(bad, "--heartbeat-timeout").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("--heartbeat-timeout")) << bad;
  }
  EXPECT_THAT(ParseGoDuration("-5s", "--x").status().message(), HasSubstr("negative"));
}

class ClientFlagsTest : public ::testing::Test {
 protected:
  ClientFlagsTest() { flags_.AddTo(app_.add_subcommand("cmd")); }
  void Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "cmd");
    std::reverse(args.begin(), args.end());  // CLI11 takes the vector in reverse order
    app_.parse(args);
  }
  CLI::App app_;
  ClientFlags flags_;
};

TEST_F(ClientFlagsTest, FlagsOverrideEnvironment) {
  Parse({"--address", "flag-host:1", "-n", "flag-ns"});
  client::Environment env = {{"TEMPORAL_ADDRESS", "env-host:2"},
                             {"TEMPORAL_NAMESPACE", "env-ns"},
                             {"TEMPORAL_API_KEY", "env-key"},
                             {"HOME", "/nonexistent-kiln-home"}};
  absl::StatusOr<client::ConnectionOptions> options = flags_.ResolveConnection(env);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->address, "flag-host:1");
  EXPECT_EQ(options->namespace_name, "flag-ns");
  EXPECT_EQ(options->api_key, "env-key");
}

TEST_F(ClientFlagsTest, UnsetFlagsLeaveTheEnvironmentInCharge) {
  Parse({});
  client::Environment env = {{"TEMPORAL_ADDRESS", "env-host:2"},
                             {"HOME", "/nonexistent-kiln-home"}};
  EXPECT_EQ(flags_.ResolveConnection(env)->address, "env-host:2");
  EXPECT_FALSE(flags_.ResolveConnection(env)->tls.enabled);
}

TEST_F(ClientFlagsTest, TlsFalseFlagBeatsApiKeyDefault) {
  Parse({"--tls=false"});
  client::Environment env = {{"TEMPORAL_API_KEY", "k"}, {"HOME", "/nonexistent-kiln-home"}};
  EXPECT_FALSE(flags_.ResolveConnection(env)->tls.enabled);
}

TEST_F(ClientFlagsTest, OutputJsonIsAccepted) {
  Parse({"-o", "json"});
  EXPECT_EQ(flags_.output(), OutputFormat::kJson);
}

TEST_F(ClientFlagsTest, BadOutputFormatIsAUsageError) {
  EXPECT_THROW(Parse({"--output", "yaml"}), CLI::ValidationError);
}

TEST_F(ClientFlagsTest, CodecKeysMakeAnEncryptingConverter) {
  std::string key = absl::Base64Escape(std::string(32, 'k'));
  Parse({"--codec-key", "new=" + key, "--codec-key", "old=" + key});
  absl::StatusOr<payload::DataConverter> converter = flags_.Converter();
  ASSERT_TRUE(converter.ok()) << converter.status();
  EXPECT_EQ(converter->ToPayload(1)->metadata().at("encryption-key-id"), "new");
}

TEST_F(ClientFlagsTest, BadCodecKeyExplainsTheFormat) {
  Parse({"--codec-key", "nonsense"});
  absl::Status status = flags_.Converter().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("ID=BASE64KEY"));
}

TEST(ReportErrorTest, MapsStatusCodesToDocumentedExitCodes) {
  EXPECT_EQ(ReportError(absl::UnavailableError("x")), kExitUnavailable);
  EXPECT_EQ(ReportError(absl::NotFoundError("x")), kExitNotFound);
  EXPECT_EQ(ReportError(absl::InvalidArgumentError("x")), kExitUsage);
  EXPECT_EQ(ReportError(absl::InternalError("x")), kExitFailure);
}

}  // namespace
}  // namespace kiln::cli
