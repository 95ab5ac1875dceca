// kiln dev + two real kiln-files-worker processes (different --host-id and work dirs) + an HTTP
// server in this test: each chain's process and upload run on the host that downloaded its file,
// because the client sends them to the `files@<host>` queue that download returned.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "examples/files/file_activities.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/integration/example_processes.h"

namespace kiln::testing {
namespace {

std::string Contents(int i) {
  std::string s;
  for (int k = 0; k < 20000; ++k) s += "chain " + std::to_string(i) + " line " + std::to_string(k) + "\n";
  return s;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(FilesWorkerPinningTest, EveryActivityOfAChainRunsOnTheHostThatDownloadedItsFile) {
  const std::string dir = TempDir("files_pinning");
  httplib::Server http;
  http.Get(R"(/data/(\d+)\.txt)", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(Contents(std::stoi(req.matches[1])), "text/plain");
  });
  const int http_port = http.bind_to_any_port("127.0.0.1");
  ASSERT_GT(http_port, 0);
  std::thread server([&http] { http.listen_after_bind(); });

  KilnDevProcess dev(KILN_BINARY, dir);
  ASSERT_FALSE(dev.address().empty()) << "kiln dev did not start: " << dev.line();
  ChildProcess worker_a({FILES_WORKER_BINARY, "--address", dev.address(), "--host-id", "host-a",
                         "--work-dir", dir + "/work-a"},
                        dir + "/worker-a.log");
  ChildProcess worker_b({FILES_WORKER_BINARY, "--address", dev.address(), "--host-id", "host-b",
                         "--work-dir", dir + "/work-b"},
                        dir + "/worker-b.log");
  auto client = ClientFor(dev.address());
  ASSERT_TRUE(client.ok()) << client.status();

  for (int i = 1; i <= 2; ++i) {
    SCOPED_TRACE("chain " + std::to_string(i));
    const std::string url = "http://127.0.0.1:" + std::to_string(http_port) + "/data/" +
                            std::to_string(i) + ".txt";
    const std::string expected_sha = examples::files::Sha256Hex(Contents(i));
    auto download = RunActivity(**client, "download-" + std::to_string(i), "download", "files",
                                {{"url", url}});
    ASSERT_TRUE(download.ok()) << download.status();
    const std::string host = (*download)["host"];
    const std::string pinned = (*download)["task_queue_for_host"];
    EXPECT_EQ(pinned, "files@" + host);
    EXPECT_EQ((*download)["sha256"], expected_sha);

    auto process = RunActivity(**client, "process-" + std::to_string(i), "process", pinned,
                               {{"path", (*download)["path"]}});
    ASSERT_TRUE(process.ok()) << process.status();
    EXPECT_EQ((*process)["host"], host);
    EXPECT_EQ((*process)["sha256"], expected_sha);
    EXPECT_TRUE(std::filesystem::exists((*process)["compressed_path"].get<std::string>()));
    EXPECT_LT((*process)["compressed_bytes"].get<int>(), (*process)["bytes"].get<int>());

    auto upload = RunActivity(**client, "upload-" + std::to_string(i), "upload", pinned,
                              {{"path", (*download)["path"]},
                               {"destination_dir", dir + "/uploaded-" + std::to_string(i)}});
    ASSERT_TRUE(upload.ok()) << upload.status();
    EXPECT_EQ((*upload)["host"], host);
    EXPECT_EQ(examples::files::Sha256Hex(ReadAll((*upload)["path"])), expected_sha);
  }
  http.stop();
  server.join();
}

TEST(FilesWorkerPinningTest, ProcessingAFileThatIsNotOnTheHostFailsWithoutRetrying) {
  const std::string dir = TempDir("files_missing");
  KilnDevProcess dev(KILN_BINARY, dir);
  ASSERT_FALSE(dev.address().empty()) << "kiln dev did not start: " << dev.line();
  ChildProcess worker({FILES_WORKER_BINARY, "--address", dev.address(), "--host-id", "host-a",
                       "--work-dir", dir + "/work-a"},
                      dir + "/worker-a.log");
  auto client = ClientFor(dev.address());
  ASSERT_TRUE(client.ok()) << client.status();
  auto process = RunActivity(**client, "process-missing", "process", "files@host-a",
                             {{"path", dir + "/nowhere.txt"}}, /*max_attempts=*/5);
  ASSERT_FALSE(process.ok());
  EXPECT_NE(process.status().message().find("cannot read"), std::string::npos) << process.status();
}

}  // namespace
}  // namespace kiln::testing
