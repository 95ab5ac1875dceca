// kiln dev's access control (cluster/auth.h), poll limits (cluster/call_limits.h), task-token
// seal (cluster/task_token.h) and its key kept in the SQLite file (cluster/auth_secret.h).
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster/auth.h"
#include "cluster/auth_secret.h"
#include "cluster/call_limits.h"
#include "cluster/task_token.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::cluster {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kKeyA[] = "0123456789abcdef-key-a";
constexpr char kKeyB[] = "fedcba9876543210-key-b";
constexpr char kKeyAll[] = "ffffffffffffffff-admin";

// In a file of this process's own: CTest runs the tests of this file as parallel processes,
// and a shared /tmp/keys.txt let one test read another's keys half written.
// Each file goes when the test process ends.
std::string WriteFile(const std::string& name, const std::string& text) {
  struct Written {
    ~Written() {
      std::error_code ignored;
      for (const std::string& path : paths) std::filesystem::remove(path, ignored);
    }
    std::vector<std::string> paths;
  };
  static Written written;
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / (std::to_string(getpid()) + "-" + name))
          .string();
  std::ofstream(path) << text;
  chmod(path.c_str(), 0600);
  written.paths.push_back(path);
  return path;
}

std::string Bearer(const std::string& key) { return "Bearer " + key; }

AccessOptions Options(std::string key_file, std::vector<std::string> cert_map,
                      std::vector<std::string> served) {
  AccessOptions options;
  options.api_key_file = std::move(key_file);
  options.tls_client_namespaces = std::move(cert_map);
  options.served_namespaces = std::move(served);
  return options;
}

ServerLimits Limits(int streams, int per_connection, int total) {
  ServerLimits limits;
  limits.max_concurrent_streams = streams;
  limits.max_polls_per_connection = per_connection;
  limits.max_polls = total;
  return limits;
}

std::unique_ptr<AccessControl> Keys(const std::string& text,
                                    std::vector<std::string> served = {"default", "team-b"}) {
  auto access = AccessControl::Create(Options(WriteFile("keys.txt", text), {}, std::move(served)));
  EXPECT_TRUE(access.ok()) << access.status();
  return access.ok() ? *std::move(access) : nullptr;
}

TEST(AccessControlTest, NoOptionsMeansNoChecks) {
  auto access = AccessControl::Create({});
  ASSERT_TRUE(access.ok());
  EXPECT_EQ(*access, nullptr);
}

TEST(AccessControlTest, EachKeyMayUseItsNamespacesOnly) {
  auto access = Keys(std::string("# team keys\n") + kKeyA + " default\n\n" + kKeyB +
                     "\tteam-b   # comment\n" + kKeyB + " default\n" + kKeyAll + " *\n");
  ASSERT_NE(access, nullptr);
  EXPECT_EQ(access->key_count(), 3u);

  auto a = access->Authenticate({Bearer(kKeyA)}, {});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE((*a)->Allows("default").ok());
  absl::Status denied = (*a)->Allows("team-b");
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.message(), HasSubstr("namespace team-b is not allowed"));
  EXPECT_THAT(denied.message(), HasSubstr("it may use default"));
  EXPECT_THAT(denied.message(), Not(HasSubstr(kKeyA)));

  auto b = access->Authenticate({"bearer  " + std::string(kKeyB) + " "}, {});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE((*b)->Allows("team-b").ok());
  EXPECT_TRUE((*b)->Allows("default").ok());

  auto all = access->Authenticate({Bearer(kKeyAll)}, {});
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE((*all)->Allows("anything").ok());
}

TEST(AccessControlTest, MissingOrWrongKeysAreUnauthenticatedAndNeverEchoed) {
  auto access = Keys(std::string(kKeyA) + " default\n");
  ASSERT_NE(access, nullptr);
  for (const std::vector<std::string>& header :
       std::vector<std::vector<std::string>>{{},
                                             {"Bearer garbage"},
                                             {Bearer(std::string(kKeyA) + "x")},
                                             {Bearer(std::string(kKeyA).substr(1))},
                                             {kKeyA},
                                             {"Basic dXNlcjpwYXNz"},
                                             {Bearer(kKeyA), Bearer(kKeyA)}}) {
    auto grant = access->Authenticate(header, {});
    EXPECT_EQ(grant.status().code(), absl::StatusCode::kUnauthenticated)
        << (header.empty() ? "(none)" : header.front());
    EXPECT_THAT(grant.status().message(), Not(HasSubstr("garbage")));
    EXPECT_THAT(grant.status().message(), Not(HasSubstr(kKeyA)));
  }
  EXPECT_THAT(access->Authenticate({}, {}).status().message(), HasSubstr("--api-key"));
}

TEST(AccessControlTest, BadKeyFilesAreRejectedWithTheLine) {
  struct Case {
    std::string text;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"short default\n", "line 1: a key must be at least 16"},
           {std::string("\n") + kKeyA + "\n", "line 2: expected `KEY NAMESPACE`"},
           {std::string(kKeyA) + " default extra\n", "found 3 fields"},
           {std::string(kKeyA) + " nowhere\n", "namespace nowhere is not served"},
           {"# only comments\n", "holds no keys"}}) {
    auto access = AccessControl::Create(Options(WriteFile("bad-keys.txt", c.text), {}, {"default"}));
    EXPECT_EQ(access.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(access.status().message(), HasSubstr(c.says));
    EXPECT_THAT(access.status().message(), Not(HasSubstr(kKeyA)));
  }
  auto missing = AccessControl::Create(Options("/nonexistent/keys.txt", {}, {}));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("cannot read the API key file"));
}

TEST(AccessControlTest, CertificateSubjectsMapToNamespaces) {
  auto access = AccessControl::Create(
      Options("", {"worker-a=default", "ops=*", "x=y=team-b"}, {"default", "team-b"}));
  ASSERT_TRUE(access.ok()) << access.status();
  auto a = (*access)->Authenticate({}, {"worker-a"});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE((*a)->Allows("default").ok());
  EXPECT_EQ((*a)->Allows("team-b").code(), absl::StatusCode::kPermissionDenied);
  auto ops = (*access)->Authenticate({}, {"ops"});
  ASSERT_TRUE(ops.ok());
  EXPECT_TRUE((*ops)->Allows("team-b").ok());
  auto eq = (*access)->Authenticate({}, {"x=y"});
  ASSERT_TRUE(eq.ok());
  EXPECT_TRUE((*eq)->Allows("team-b").ok());

  auto unmapped = (*access)->Authenticate({}, {"intruder"});
  EXPECT_EQ(unmapped.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(unmapped.status().message(), HasSubstr("CN=intruder is mapped to no namespace"));
  EXPECT_EQ((*access)->Authenticate({}, {}).status().code(), absl::StatusCode::kUnauthenticated);

  EXPECT_EQ(AccessControl::Create(Options("", {"no-namespace"}, {})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AccessControlTest, AKeyDecidesOverACertificate) {
  auto access = AccessControl::Create(
      Options(WriteFile("k.txt", std::string(kKeyA) + " default\n"), {"ops=*"}, {"default"}));
  ASSERT_TRUE(access.ok()) << access.status();
  EXPECT_EQ((*access)->Authenticate({"Bearer wrong"}, {"ops"}).status().code(),
            absl::StatusCode::kUnauthenticated);
  auto cert = (*access)->Authenticate({}, {"ops"});
  ASSERT_TRUE(cert.ok());
  EXPECT_TRUE((*cert)->all_namespaces);
}

TEST(PollLimiterTest, ConnectionAndGlobalLimitsNameThemselvesAndFreeOnRelease) {
  PollLimiter polls(Limits(10, 2, 3));
  auto a1 = polls.Acquire("ipv4:127.0.0.1:1");
  auto a2 = polls.Acquire("ipv4:127.0.0.1:1");
  ASSERT_TRUE(a1.ok() && a2.ok());
  auto a3 = polls.Acquire("ipv4:127.0.0.1:1");
  EXPECT_EQ(a3.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(a3.status().message(), HasSubstr("--max-polls-per-connection (2)"));
  EXPECT_TRUE(a3.status()
                  .GetPayload("type.googleapis.com/temporal.api.errordetails.v1."
                              "ResourceExhaustedFailure")
                  .has_value());
  auto b1 = polls.Acquire("ipv4:127.0.0.1:2");
  ASSERT_TRUE(b1.ok());
  auto b2 = polls.Acquire("ipv4:127.0.0.1:2");
  EXPECT_EQ(b2.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(b2.status().message(), HasSubstr("--max-polls (3)"));
  EXPECT_EQ(polls.held(), 3);
  a1->reset();
  EXPECT_EQ(polls.held_by("ipv4:127.0.0.1:1"), 1);
  EXPECT_TRUE(polls.Acquire("ipv4:127.0.0.1:2").ok());  // freed, and released again at once
  EXPECT_EQ(polls.held(), 2);
}

TEST(ServerLimitsTest, PollsMustStayBelowTheStreamLimit) {
  EXPECT_TRUE(CheckServerLimits({}).ok());
  absl::Status s = CheckServerLimits(Limits(100, 100, 10000));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("--max-polls-per-connection"));
  EXPECT_EQ(CheckServerLimits(Limits(1000, 50, 10)).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TaskTokenSignerTest, OnlySealedTokensOpen) {
  TaskTokenSigner signer(TaskTokenSigner::NewKey());
  const std::string token = EncodeTaskToken({"default", "act-1", "run-1", 3});
  const std::string sealed = signer.Seal(token);
  auto opened = signer.Open(sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, token);

  std::string flipped = sealed;
  flipped[flipped.size() - 1] ^= 1;
  TaskTokenSigner other(TaskTokenSigner::NewKey());
  // Forged from what Describe shows (the same encoding, another key or no MAC), truncated,
  // extended, empty: INVALID_ARGUMENT, never a crash.
  for (const std::string& bad : {token, other.Seal(token), flipped, sealed.substr(0, 10),
                                 sealed + "x", std::string(), std::string("x")}) {
    auto result = signer.Open(bad);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(result.status().message(), HasSubstr("malformed task token"));
  }
}

// The MAC is HMAC-SHA256 truncated to 16 bytes, so tokens a worker holds across an upgrade of
// kiln dev (same database, same key) still open. RFC 4231 test cases 2 (a short key) and 6 (a
// key longer than SHA-256's block, hashed first).
TEST(TaskTokenSignerTest, MacIsTruncatedHmacSha256) {
  const auto unhex = [](const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
  };
  const std::string data = "what do ya want for nothing?";
  EXPECT_EQ(TaskTokenSigner("Jefe").Seal(data),
            data + unhex("5bdcc146bf60754e6a042426089575c7"));
  const std::string long_data = "Test Using Larger Than Block-Size Key - Hash Key First";
  EXPECT_EQ(TaskTokenSigner(std::string(131, '\xaa')).Seal(long_data),
            long_data + unhex("60e431591ee0b67f0d8a26aacbf5b77f"));
  // Many threads seal and open at once with one signer.
  TaskTokenSigner signer("Jefe");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (signer.Seal(data) != data + unhex("5bdcc146bf60754e6a042426089575c7")) ++wrong;
        if (!signer.Open(signer.Seal(data + std::to_string(i))).ok()) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(TokenKeyTest, KeptInTheDatabaseAcrossRestarts) {
  const std::string db = (std::filesystem::path(::testing::TempDir()) / "key-test.db").string();
  std::filesystem::remove(db);
  auto first = LoadOrCreateTokenKey(db);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), TaskTokenSigner::kKeyBytes);
  auto again = LoadOrCreateTokenKey(db);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  EXPECT_NE(*LoadOrCreateTokenKey(":memory:"), *first);
  EXPECT_EQ(LoadOrCreateTokenKey("/nonexistent/dir/x.db").status().code(),
            absl::StatusCode::kUnavailable);
  std::filesystem::remove(db);
}

}  // namespace
}  // namespace kiln::cluster
