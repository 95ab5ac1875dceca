// kiln dev + real kiln-files-worker processes with --max-sessions 1 + client/session.h: a chain
// run in a session runs every activity on the session's host; each worker holds one session at
// a time, so a third session waits until one is completed; a session whose worker is killed
// reports failed after its heartbeat timeout.
#include <signal.h>

#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "client/session.h"
#include "examples/files/file_activities.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/integration/example_processes.h"

namespace kiln::testing {
namespace {

client::SessionOptions Options(absl::Duration creation_timeout) {
  return {.creation_timeout = creation_timeout, .heartbeat_timeout = absl::Seconds(4)};
}

std::unique_ptr<ChildProcess> StartWorker(const std::string& address, const std::string& dir,
                                          const std::string& host) {
  return std::make_unique<ChildProcess>(
      std::vector<std::string>{FILES_WORKER_BINARY, "--address", address, "--host-id", host,
                               "--work-dir", dir + "/work-" + host, "--max-sessions", "1"},
      dir + "/worker-" + host + ".log");
}

TEST(FilesSessionsTest, ChainsRunOnTheirSessionsHostAndEachWorkerHoldsOneSessionAtATime) {
  const std::string dir = TempDir("files_sessions");
  httplib::Server http;
  http.Get(R"(/data/(\d+)\.txt)", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(std::string(50000, static_cast<char>('a' + std::stoi(req.matches[1]))),
                    "text/plain");
  });
  const int http_port = http.bind_to_any_port("127.0.0.1");
  ASSERT_GT(http_port, 0);
  std::thread server([&http] { http.listen_after_bind(); });

  KilnDevProcess dev(KILN_BINARY, dir);
  ASSERT_FALSE(dev.address().empty()) << "kiln dev did not start: " << dev.line();
  auto worker_a = StartWorker(dev.address(), dir, "host-a");
  auto worker_b = StartWorker(dev.address(), dir, "host-b");
  auto client = ClientFor(dev.address());
  ASSERT_TRUE(client.ok()) << client.status();
  auto rpcs = client::SessionRpcsFor(**client);

  auto first = client::CreateSession(*rpcs, "files", Options(absl::Seconds(20)));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->task_queue(), "files@" + first->host_id());

  // The whole chain, sent to the session's queue, runs on the session's host.
  const std::string url = "http://127.0.0.1:" + std::to_string(http_port) + "/data/1.txt";
  auto download = RunActivity(**client, "s-download", "download", first->task_queue(),
                              {{"url", url}});
  ASSERT_TRUE(download.ok()) << download.status();
  EXPECT_EQ((*download)["host"], first->host_id());
  auto process = RunActivity(**client, "s-process", "process", first->task_queue(),
                             {{"path", (*download)["path"]}});
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ((*process)["host"], first->host_id());
  auto upload = RunActivity(**client, "s-upload", "upload", first->task_queue(),
                            {{"path", (*download)["path"]}, {"destination_dir", dir + "/up"}});
  ASSERT_TRUE(upload.ok()) << upload.status();
  EXPECT_EQ((*upload)["host"], first->host_id());

  // One session slot per worker: the second session lands on the other host...
  auto second = client::CreateSession(*rpcs, "files", Options(absl::Seconds(20)));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(second->host_id(), first->host_id());

  // ...and a third finds no free slot.
  auto refused = client::CreateSession(*rpcs, "files", Options(absl::Seconds(1)));
  ASSERT_TRUE(absl::IsDeadlineExceeded(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("no worker with a free session slot"),
            std::string::npos);

  // A third that waits gets the slot the first session frees when it is completed.
  auto third = std::async(std::launch::async, [&] {
    return client::CreateSession(*rpcs, "files", Options(absl::Seconds(30)));
  });
  ASSERT_TRUE(first->Complete().ok());
  auto closed = first->Status();
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->state, client::SessionState::kClosed);
  auto third_session = third.get();
  ASSERT_TRUE(third_session.ok()) << third_session.status();
  EXPECT_EQ(third_session->host_id(), first->host_id());

  client::wsv1::StartActivityExecutionRequest late;
  EXPECT_TRUE(absl::IsFailedPrecondition(first->Pin(late)));
  EXPECT_TRUE(second->Complete().ok());
  EXPECT_TRUE(third_session->Complete().ok());
  http.stop();
  server.join();
}

TEST(FilesSessionsTest, ASessionWhoseWorkerIsKilledReportsFailedAfterItsHeartbeatTimeout) {
  const std::string dir = TempDir("files_sessions_kill");
  KilnDevProcess dev(KILN_BINARY, dir);
  ASSERT_FALSE(dev.address().empty()) << "kiln dev did not start: " << dev.line();
  auto worker = StartWorker(dev.address(), dir, "host-a");
  auto client = ClientFor(dev.address());
  ASSERT_TRUE(client.ok()) << client.status();
  auto rpcs = client::SessionRpcsFor(**client);
  auto session = client::CreateSession(*rpcs, "files", Options(absl::Seconds(20)));
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_EQ(session->host_id(), "host-a");
  ASSERT_EQ(session->Status()->state, client::SessionState::kOpen);

  ASSERT_EQ(kill(worker->pid(), SIGKILL), 0);  // reaped by ~ChildProcess
  absl::StatusOr<client::SessionStatus> status = session->Status();
  for (int i = 0; i < 300 && status.ok() && status->state == client::SessionState::kOpen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = session->Status();
  }
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, client::SessionState::kFailed);
  EXPECT_NE(status->detail.find("stopped heartbeating"), std::string::npos) << status->detail;
  client::wsv1::StartActivityExecutionRequest next;
  EXPECT_TRUE(absl::IsFailedPrecondition(session->Pin(next)));
}

}  // namespace
}  // namespace kiln::testing
