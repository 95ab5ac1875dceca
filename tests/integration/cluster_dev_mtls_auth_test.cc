// kiln dev under mTLS with --tls-client-namespace: a verified client certificate's subject CN is
// mapped to the namespaces it may use, through a real TLS handshake on 127.0.0.1:0 (certificates
// made here by the openssl CLI: a CA, a server certificate, two client certificates).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cluster/dev_server.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster {
namespace {

using ::testing::HasSubstr;
using wsv1::WorkflowService;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// ca.pem, server.pem/.key (SAN IP:127.0.0.1) and <client>.pem/.key for each client CN in `dir`.
bool MakeCertificates(const std::string& dir, const std::vector<std::string>& clients) {
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  std::string script = "cd '" + dir + "' && openssl req -x509 " + ec +
                       " -keyout ca.key -out ca.pem -days 2 -subj '/CN=Kiln test CA'"
                       " -addext basicConstraints=critical,CA:TRUE"
                       " -addext keyUsage=critical,keyCertSign,cRLSign";
  auto leaf = [&](const std::string& name, const std::string& cn, const std::string& ext) {
    std::ofstream(dir + "/" + name + ".ext") << ext;
    script += " && openssl req " + ec + " -keyout " + name + ".key -out " + name + ".csr -subj '/CN=" +
              cn + "' && openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key"
              " -CAcreateserial -out " + name + ".pem -days 2 -extfile " + name + ".ext";
  };
  leaf("server", "127.0.0.1",
       "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
       "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const std::string& cn : clients) {
    leaf(cn, cn, "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n");
  }
  return std::system((script + " >/dev/null 2>&1").c_str()) == 0;
}

class DevMtlsAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeCertificates(dir_, {"worker-a", "intruder"})) << "openssl failed in " << dir_;
    DevServerOptions options;
    options.port = 0;
    options.more_namespaces = {"team-b"};
    options.tls_cert_path = dir_ + "/server.pem";
    options.tls_key_path = dir_ + "/server.key";
    options.tls_client_ca_path = dir_ + "/ca.pem";
    options.tls_client_namespaces = {"worker-a=default"};
    auto server = DevServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  // The server first (it read the files), then this test's certificates and keys.
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::unique_ptr<WorkflowService::Stub> Client(const std::string& cn) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read(dir_ + "/ca.pem");
    ssl.pem_cert_chain = Read(dir_ + "/" + cn + ".pem");
    ssl.pem_private_key = Read(dir_ + "/" + cn + ".key");
    return WorkflowService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::SslCredentials(ssl)));
  }
  grpc::Status Start(WorkflowService::Stub& stub, const std::string& ns, const std::string& id) {
    auto r = testing::StartRequest(id);
    r.set_namespace_(ns);
    r.set_request_id("req-" + id);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    wsv1::StartActivityExecutionResponse response;
    return stub.StartActivityExecution(&ctx, r, &response);
  }

  std::string dir_ = [] {
    auto d = std::filesystem::path(::testing::TempDir()) /
             ("kiln-mtls-auth-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  std::unique_ptr<DevServer> server_;
};

TEST_F(DevMtlsAuthTest, ACertificateSubjectMapsToItsNamespaceOnly) {
  auto worker = Client("worker-a");
  grpc::Status ok = Start(*worker, "default", "a-1");
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  grpc::Status other = Start(*worker, "team-b", "b-1");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(other.error_message(), HasSubstr("client certificate CN=worker-a"));

  auto intruder = Client("intruder");
  grpc::Status denied = Start(*intruder, "default", "a-2");
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("CN=intruder is mapped to no namespace"));
}

TEST(DevMtlsAuthOptionsTest, AMappingWithoutClientCertificatesIsRefused) {
  DevServerOptions options;
  options.port = 0;
  options.tls_client_namespaces = {"worker-a=default"};
  auto server = DevServer::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("--tls-client-ca"));
}

}  // namespace
}  // namespace kiln::cluster
