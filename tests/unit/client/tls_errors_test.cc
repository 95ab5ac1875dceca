// A TLS mismatch is reported as one, not as a missing server: a client without a certificate
// talking to a server that requires mTLS, and a plaintext client talking to a TLS server.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/service_client.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "gtest/gtest.h"
#include "tests/unit/client/fake_workflow_service.h"

namespace kiln::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A CA, a server certificate for 127.0.0.1 and a client certificate, made by the openssl CLI.
class TlsErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kiln-tls-errors-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    const std::string d = dir_.string();
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    std::ofstream(dir_ / "server.ext") << "subjectAltName=IP:127.0.0.1\n";
    std::ofstream(dir_ / "client.ext") << "extendedKeyUsage=clientAuth\n";
    const std::string script =
        "cd '" + d + "' && openssl req -x509" + ec + " -keyout ca.key -out ca.pem -days 1" +
        " -subj /CN=kiln-test-ca 2>/dev/null && for n in server client; do openssl req" + ec +
        " -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null && openssl x509 -req -in $n.csr" +
        " -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 1 -extfile $n.ext" +
        " 2>/dev/null || exit 1; done";
    ASSERT_EQ(std::system(script.c_str()), 0) << "openssl could not make test certificates";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::shared_ptr<grpc::ServerCredentials> MutualTlsServer() {
    grpc::SslServerCredentialsOptions ssl(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = ReadFile(dir_ / "ca.pem");
    ssl.pem_key_cert_pairs.push_back(
        {ReadFile(dir_ / "server.key"), ReadFile(dir_ / "server.pem")});
    return grpc::SslServerCredentials(ssl);
  }

  ConnectionOptions Options(const std::string& address) {
    ConnectionOptions options;
    options.address = address;
    options.retry.max_attempts = 1;
    options.rpc_timeout = absl::Seconds(10);
    return options;
  }

  std::filesystem::path dir_;
};

TEST_F(TlsErrorsTest, ClientWithoutCertificateAtAnMtlsServerIsToldItIsTls) {
  testing::FakeWorkflowService server(MutualTlsServer());
  ConnectionOptions options = Options(server.address());
  options.tls.enabled = true;
  options.tls.server_ca_cert_pem = ReadFile(dir_ / "ca.pem");
  auto client = ServiceClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::Status status = (*client)->GetSystemInfo().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("TLS handshake with Temporal at " + server.address()));
  EXPECT_THAT(status.message(), HasSubstr("--tls-cert-path and --tls-key-path"));
  EXPECT_THAT(status.message(), Not(HasSubstr("start `kiln dev`")));
}

TEST_F(TlsErrorsTest, PlaintextClientAtATlsServerIsToldToUseTls) {
  testing::FakeWorkflowService server(MutualTlsServer());
  auto client = ServiceClient::Create(Options(server.address()));
  ASSERT_TRUE(client.ok()) << client.status();
  absl::Status status = (*client)->GetSystemInfo().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("the server may require TLS: add --tls"));
  EXPECT_THAT(status.message(), Not(HasSubstr("start `kiln dev`")));
}

TEST_F(TlsErrorsTest, WithItsCertificateTheClientGetsThrough) {
  testing::FakeWorkflowService server(MutualTlsServer());
  ConnectionOptions options = Options(server.address());
  options.tls.enabled = true;
  options.tls.server_ca_cert_pem = ReadFile(dir_ / "ca.pem");
  options.tls.client_cert_pem = ReadFile(dir_ / "client.pem");
  options.tls.client_key_pem = ReadFile(dir_ / "client.key");
  auto client = ServiceClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<wsv1::GetSystemInfoResponse> info = (*client)->GetSystemInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->server_version(), "fake-1.0");
}

TEST(RpcErrorTest, NothingListeningStillSaysStartKilnDev) {
  ConnectionOptions options;
  options.address = testing::DeadAddress();
  options.retry.max_attempts = 1;
  options.tls.enabled = true;
  auto client = ServiceClient::Create(options);
  absl::Status status = (*client)->GetSystemInfo().status();
  EXPECT_THAT(status.message(), HasSubstr("cannot reach Temporal at " + options.address));
  EXPECT_THAT(status.message(), HasSubstr("start `kiln dev`"));
}

}  // namespace
}  // namespace kiln::client
