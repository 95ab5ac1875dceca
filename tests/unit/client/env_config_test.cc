#include "client/env_config.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::client {
namespace {

using ::testing::HasSubstr;

class EnvConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kiln-envconfig-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    env_["HOME"] = dir_.string();  // so the default profiles file is ours (absent unless written)
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::filesystem::path path = dir_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }
  std::string WriteDefaultConfig(const std::string& text) {
    return Write(".config/temporalio/temporal.toml", text);
  }

  std::filesystem::path dir_;
  Environment env_;
  ConnectionOverrides flags_;
};

TEST_F(EnvConfigTest, DefaultsAreLocalDevClusterInDefaultNamespaceWithoutTls) {
  absl::StatusOr<ConnectionOptions> options = ResolveConnectionOptions(flags_, env_);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->address, "127.0.0.1:7233");
  EXPECT_EQ(options->namespace_name, "default");
  EXPECT_FALSE(options->tls.enabled);
  EXPECT_EQ(options->api_key, "");
}

TEST_F(EnvConfigTest, DefaultProfileFromTheDefaultFileIsUsed) {
  WriteDefaultConfig(R"([profile.default]
address = "prod.example:7233"
namespace = "prod"
)");
  absl::StatusOr<ConnectionOptions> options = ResolveConnectionOptions(flags_, env_);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->address, "prod.example:7233");
  EXPECT_EQ(options->namespace_name, "prod");
}

TEST_F(EnvConfigTest, PrecedenceIsFlagsThenEnvironmentThenProfile) {
  env_["TEMPORAL_CONFIG_FILE"] = Write("conf.toml", R"([profile.staging]
address = "profile:1"
namespace = "profile-ns"
api_key = "profile-key"
[profile.staging.tls]
disabled = true
)");
  env_["TEMPORAL_PROFILE"] = "staging";
  env_["TEMPORAL_NAMESPACE"] = "env-ns";
  env_["TEMPORAL_ADDRESS"] = "env:2";
  flags_.address = "flag:3";
  absl::StatusOr<ConnectionOptions> options = ResolveConnectionOptions(flags_, env_);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->address, "flag:3");
  EXPECT_EQ(options->namespace_name, "env-ns");
  EXPECT_EQ(options->api_key, "profile-key");
  EXPECT_FALSE(options->tls.enabled);  // the profile disabled TLS despite the API key
}

TEST_F(EnvConfigTest, ProfileFlagBeatsTemporalProfileVariable) {
  env_["TEMPORAL_CONFIG_FILE"] = Write("conf.toml", R"([profile.a]
namespace = "from-a"
[profile.b]
namespace = "from-b"
)");
  env_["TEMPORAL_PROFILE"] = "a";
  flags_.profile = "b";
  EXPECT_EQ(ResolveConnectionOptions(flags_, env_)->namespace_name, "from-b");
}

TEST_F(EnvConfigTest, ApiKeyTurnsTlsOnUnlessTemporalTlsIsFalse) {
  env_["TEMPORAL_API_KEY"] = "k";
  absl::StatusOr<ConnectionOptions> options = ResolveConnectionOptions(flags_, env_);
  EXPECT_TRUE(options->tls.enabled);
  EXPECT_EQ(options->api_key, "k");
  env_["TEMPORAL_TLS"] = "false";
  EXPECT_FALSE(ResolveConnectionOptions(flags_, env_)->tls.enabled);
  flags_.tls = true;
  EXPECT_TRUE(ResolveConnectionOptions(flags_, env_)->tls.enabled);
}

TEST_F(EnvConfigTest, TlsFilesAreReadFromProfilePaths) {
  std::string ca = Write("ca.pem", "CA PEM");
  std::string cert = Write("client.pem", "CERT PEM");
  std::string key = Write("client.key", "KEY PEM");
  WriteDefaultConfig("[profile.default.tls]\nclient_cert_path = \"" + cert +
                     "\"\nclient_key_path = \"" + key + "\"\nserver_ca_cert_path = \"" + ca +
                     "\"\nserver_name = \"frontend.internal\"\n");
  absl::StatusOr<ConnectionOptions> options = ResolveConnectionOptions(flags_, env_);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->tls.enabled);
  EXPECT_EQ(options->tls.server_ca_cert_pem, "CA PEM");
  EXPECT_EQ(options->tls.client_cert_pem, "CERT PEM");
  EXPECT_EQ(options->tls.client_key_pem, "KEY PEM");
  EXPECT_EQ(options->tls.server_name, "frontend.internal");
}

TEST_F(EnvConfigTest, EnvironmentTlsPathOverridesProfileAndEnablesTls) {
  env_["TEMPORAL_TLS_SERVER_CA_CERT_PATH"] = Write("env-ca.pem", "ENV CA");
  absl::StatusOr<ConnectionOptions> options = ResolveConnectionOptions(flags_, env_);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->tls.enabled);
  EXPECT_EQ(options->tls.server_ca_cert_pem, "ENV CA");
}

TEST_F(EnvConfigTest, UnreadableTlsFileNamesThePathAndWhereItCameFrom) {
  flags_.tls_ca_path = (dir_ / "missing-ca.pem").string();
  absl::Status status = ResolveConnectionOptions(flags_, env_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("missing-ca.pem"));
  EXPECT_THAT(status.message(), HasSubstr("--tls-ca-path"));
}

TEST_F(EnvConfigTest, ClientCertificateWithoutKeyIsRejected) {
  env_["TEMPORAL_TLS_CLIENT_CERT_PATH"] = Write("c.pem", "CERT");
  absl::Status status = ResolveConnectionOptions(flags_, env_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("private key"));
}

TEST_F(EnvConfigTest, PathAndDataForTheSameSettingAreRejected) {
  env_["TEMPORAL_TLS_SERVER_CA_CERT_PATH"] = "/x";
  env_["TEMPORAL_TLS_SERVER_CA_CERT_DATA"] = "PEM";
  EXPECT_THAT(ResolveConnectionOptions(flags_, env_).status().message(),
              HasSubstr("not both"));
}

TEST_F(EnvConfigTest, UnknownExplicitProfileIsAnError) {
  WriteDefaultConfig("[profile.default]\naddress = \"a:1\"\n");
  flags_.profile = "prod";
  absl::Status status = ResolveConnectionOptions(flags_, env_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("profile 'prod' not found"));
}

TEST_F(EnvConfigTest, MissingExplicitConfigFileIsAnError) {
  flags_.config_file = (dir_ / "nope.toml").string();
  absl::Status status = ResolveConnectionOptions(flags_, env_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("nope.toml"));
}

TEST_F(EnvConfigTest, MalformedTomlReportsTheLine) {
  env_["TEMPORAL_CONFIG_FILE"] = Write("bad.toml", "[profile.default]\naddress = \n");
  absl::Status status = ResolveConnectionOptions(flags_, env_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("line 2"));
}

TEST_F(EnvConfigTest, BadTemporalTlsValueIsRejected) {
  env_["TEMPORAL_TLS"] = "yes please";
  EXPECT_THAT(ResolveConnectionOptions(flags_, env_).status().message(),
              HasSubstr("TEMPORAL_TLS must be true or false"));
}

TEST_F(EnvConfigTest, GrpcMetaComesFromProfileAndEnvironment) {
  WriteDefaultConfig("[profile.default.grpc_meta]\nx_team = \"vision\"\nx-env = \"prod\"\n");
  env_["TEMPORAL_GRPC_META_X_ENV"] = "staging";
  absl::StatusOr<ConnectionOptions> options = ResolveConnectionOptions(flags_, env_);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->grpc_metadata.at("x-team"), "vision");
  EXPECT_EQ(options->grpc_metadata.at("x-env"), "staging");
}

}  // namespace
}  // namespace kiln::client

namespace kiln::client {
namespace {

class EnvConfigUnknownKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kiln-envconfig-keys-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    env_["HOME"] = dir_.string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteConfig(const std::string& text) {
    std::filesystem::path path = dir_ / "temporal.toml";
    std::ofstream(path) << text;
    env_["TEMPORAL_CONFIG_FILE"] = path.string();
    return path.string();
  }

  std::filesystem::path dir_;
  Environment env_;
};

TEST_F(EnvConfigUnknownKeysTest, MisspeltKeyIsReportedWithFileLineAndKnownKeys) {
  std::string file = WriteConfig(R"([profile.default]
namespace = "prod"
adress = "prod.example:7233"
)");
  std::vector<std::string> warnings;
  absl::StatusOr<ConnectionOptions> options = ResolveConnectionOptions({}, env_, &warnings);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->namespace_name, "prod");  // the rest of the profile still applies
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr(file + ":3: unknown key profile.default.adress (ignored)"));
  EXPECT_THAT(warnings[0], HasSubstr("known keys are profile.default.address, "
                                     "profile.default.namespace, profile.default.api_key"));
}

TEST_F(EnvConfigUnknownKeysTest, UnknownTlsAndTopLevelKeysAreReportedInEveryProfile) {
  std::string file = WriteConfig(R"(profiles = 1
[profile.default]
address = "a:1"
[profile.staging.tls]
server_nam = "x"
)");
  std::vector<std::string> warnings;
  ASSERT_TRUE(ResolveConnectionOptions({}, env_, &warnings).ok());
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_THAT(warnings[0], HasSubstr(file + ":1: unknown key profiles (ignored); known keys are "
                                     "profile"));
  EXPECT_THAT(warnings[1], HasSubstr(file + ":5: unknown key profile.staging.tls.server_nam"));
  EXPECT_THAT(warnings[1], HasSubstr("profile.staging.tls.server_name"));
}

TEST_F(EnvConfigUnknownKeysTest, TemporalsOwnKeysGiveNoWarning) {
  WriteConfig(R"([profile.default]
address = "a:1"
namespace = "n"
api_key = "k"
[profile.default.tls]
disabled = true
server_name = "s"
disable_host_verification = false
[profile.default.codec]
endpoint = "http://localhost:8081"
[profile.default.grpc_meta]
my-header = "v"
)");
  std::vector<std::string> warnings;
  ASSERT_TRUE(ResolveConnectionOptions({}, env_, &warnings).ok());
  EXPECT_THAT(warnings, ::testing::IsEmpty());
}

}  // namespace
}  // namespace kiln::client
