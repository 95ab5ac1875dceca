// tests/faults/disk_faults_test.cc — `kiln dev`'s SQLite file can no longer grow (the disk is
// full), then can again, two ways:
//
//   Tmpfs          the database lives on a 4 MiB tmpfs; a filler file takes all but 64 KiB of it
//                  (writes fail with ENOSPC: SQLite's "database or disk is full"); space returns
//                  when the filler is deleted. Needs the right to mount (skipped otherwise).
//   FileSizeLimit  no mount rights needed: the running kiln dev's RLIMIT_FSIZE is lowered with
//                  prlimit(2) to 64 KiB above its files' sizes (kiln dev starts with SIGXFSZ
//                  ignored, so writes past it fail with EFBIG: SQLite's "disk I/O error"), then
//                  raised again.
//
// What must hold:
//   - while full, the calls that must store something fail with RESOURCE_EXHAUSTED or
//     UNAVAILABLE and a message that says the disk is full and where;
//   - nothing is acknowledged that was not stored: after a kill -9 and a restart on the same file,
//     every start answered OK exists;
//   - once space returns, kiln dev serves again without a restart.
//
// A read-only directory is not simulated: root ignores permissions, and a filesystem with a file
// open for writing cannot be remounted read-only (EBUSY). kiln dev answers SQLite's read-only
// error as it does an I/O error (UNAVAILABLE).
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/faults/fault_cluster.h"

namespace kiln::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

uintmax_t FileSize(const std::string& path) {
  std::error_code ignored;
  const uintmax_t size = std::filesystem::file_size(path, ignored);
  return ignored ? 0 : size;
}

bool SetFileSizeLimit(pid_t pid, rlim_t bytes) {
  const rlimit limit{bytes, RLIM_INFINITY};
  return prlimit(pid, RLIMIT_FSIZE, &limit, nullptr) == 0;
}

wsv1::StartActivityExecutionRequest BigStart(const std::string& id) {
  auto start = SleepRequest(id, "disk", "10ms", 0);
  auto& metadata = *start.mutable_input()->mutable_payloads(0)->mutable_metadata();
  metadata["pad"] = std::string(16384, 'x');
  return start;
}

enum class Full { kTmpfs, kFileSizeLimit };

class DiskFaultsTest : public ::testing::TestWithParam<Full> {
 protected:
  void TearDown() override {
    if (!mounted_.empty()) umount2(mounted_.c_str(), MNT_DETACH);
  }
  // Where the database goes; empty when this way cannot be set up here (the test then skips).
  std::string DatabaseDir(const std::string& dir) {
    if (GetParam() == Full::kFileSizeLimit) return dir;
    const std::string fs = dir + "/tmpfs";
    std::filesystem::create_directories(fs);
    if (mount("tmpfs", fs.c_str(), "tmpfs", 0, "size=4m") != 0) return "";
    mounted_ = fs;
    return fs;
  }
  // The disk fills up to 64 KiB from full.
  bool Fill(pid_t dev) {
    if (GetParam() == Full::kFileSizeLimit) {
      limit_ = std::max(FileSize(db_), FileSize(db_ + "-wal")) + 65536;
      return SetFileSizeLimit(dev, limit_);
    }
    struct statvfs fs {};
    if (statvfs(mounted_.c_str(), &fs) != 0) return false;
    const uintmax_t free_bytes = static_cast<uintmax_t>(fs.f_bavail) * fs.f_frsize;
    std::ofstream filler(mounted_ + "/filler", std::ios::binary);
    const std::string block(4096, 'f');
    for (uintmax_t left = free_bytes - 65536; left >= block.size(); left -= block.size()) {
      filler.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    limit_ = 65536;
    return static_cast<bool>(filler.flush());
  }
  bool Free(pid_t dev) {
    if (GetParam() == Full::kFileSizeLimit) return SetFileSizeLimit(dev, RLIM_INFINITY);
    return std::filesystem::remove(mounted_ + "/filler");
  }
  const char* How() const {
    return GetParam() == Full::kTmpfs ? "tmpfs, 64 KiB left" : "file size limit, 64 KiB above";
  }

  std::string db_;
  std::string mounted_;
  uintmax_t limit_ = 0;
};

TEST_P(DiskFaultsTest, AFullDiskFailsCallsClearlyAcknowledgesNothingUnstoredAndRecovers) {
  const std::string dir = TempDir("disk_faults");
  const std::string where = DatabaseDir(dir);
  if (where.empty()) GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  const std::string db = db_ = where + "/dev.db";
  // Ignored signals stay ignored across exec: kiln dev gets EFBIG instead of dying of SIGXFSZ.
  signal(SIGXFSZ, SIG_IGN);
  auto dev = std::make_unique<KilnDevProcess>(
      KILN_BINARY, std::vector<std::string>{"--port", "0", "--db", db, "--log-level", "warn"});
  signal(SIGXFSZ, SIG_DFL);
  ASSERT_FALSE(dev->address().empty()) << dev->line();
  const std::string address = dev->address();
  const int port = dev->port();
  auto stub = Stub(address);

  std::set<std::string> acknowledged, refused;
  int n = 0;
  auto start = [&]() {
    const std::string id = absl::StrCat("disk-", n++);
    grpc::Status status = StartActivity(*stub, BigStart(id));
    (status.ok() ? acknowledged : refused).insert(id);
    return status;
  };
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(start().ok());

  // The disk fills up: the files may grow by 64 KiB more, each start adds 16 KiB.
  ASSERT_TRUE(Fill(dev->process().pid())) << std::strerror(errno);
  const size_t before_full = acknowledged.size();
  grpc::Status first_error;
  for (int i = 0; i < 200 && first_error.ok(); ++i) first_error = start();
  ASSERT_FALSE(first_error.ok()) << "200 starts of 16 KiB fit in 64 KiB (" << How() << ")";
  const size_t until_full = acknowledged.size() - before_full;
  int failed_while_full = 1, acked_while_full = 0;
  for (int i = 0; i < 10; ++i) (start().ok() ? acked_while_full : failed_while_full)++;
  // Reads still work.
  const auto described = Describe(*stub, "disk-0");

  // Space returns.
  ASSERT_TRUE(Free(dev->process().pid()));
  const auto freed_at = SteadyClock::now();
  grpc::Status recovered;
  while (!(recovered = start()).ok() && SteadyClock::now() - freed_at < seconds(15)) {
    std::this_thread::sleep_for(milliseconds(100));  // retrying, as a client does
  }
  const double recovery_s = Seconds(SteadyClock::now() - freed_at);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(start().ok());

  // kill -9 and restart on the same file: every acknowledged start is there.
  dev->Stop(SIGKILL);
  dev = std::make_unique<KilnDevProcess>(KILN_BINARY, where, port);
  ASSERT_EQ(dev->address(), address) << dev->line();
  stub = Stub(address);
  int lost = 0, refused_but_stored = 0;
  for (const std::string& id : acknowledged) {
    if (Describe(*stub, id).info().activity_id() != id) ++lost;
  }
  for (const std::string& id : refused) {
    if (Describe(*stub, id).info().activity_id() == id) ++refused_but_stored;
  }

  const std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(first_error.error_code()));
  std::printf("disk full (%s): %zu starts of 16 KiB acknowledged before it was full; then "
              "%s \"%s\"; %d of %d starts refused while full (%d acknowledged); describe while "
              "full: %s; served again %.2f s after space returned (%s); after kill -9 and restart "
              "%zu acknowledged starts checked, %d lost; %d refused starts were stored later "
              "(allowed: the client was told to retry)\n",
              How(), until_full, code.c_str(), first_error.error_message().c_str(),
              failed_while_full, failed_while_full + acked_while_full, acked_while_full,
              described.info().activity_id() == "disk-0" ? "OK" : "failed", recovery_s, recovered.ok() ? "OK" : recovered.error_message().c_str(),
              acknowledged.size(), lost, refused_but_stored);
  EXPECT_TRUE(first_error.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
              first_error.error_code() == grpc::StatusCode::UNAVAILABLE)
      << first_error.error_code() << " " << first_error.error_message();
  EXPECT_TRUE(first_error.error_message().find("full") != std::string::npos ||
              first_error.error_message().find("I/O error") != std::string::npos)
      << first_error.error_message();
  EXPECT_NE(first_error.error_message().find(db), std::string::npos) << first_error.error_message();
  EXPECT_EQ(acked_while_full, 0);
  EXPECT_EQ(described.info().activity_id(), "disk-0") << "reads failed while the disk was full";
  EXPECT_TRUE(recovered.ok()) << "not serving 15 s after space returned: "
                              << recovered.error_message();
  EXPECT_EQ(lost, 0);
}

INSTANTIATE_TEST_SUITE_P(Ways, DiskFaultsTest,
                         ::testing::Values(Full::kTmpfs, Full::kFileSizeLimit),
                         [](const auto& param) {
                           return param.param == Full::kTmpfs ? "Tmpfs" : "FileSizeLimit";
                         });

}  // namespace
}  // namespace kiln::testing
