// examples/files/file_activities.h — the file-processing chain, pinned to the host that holds
// the file: `download` fetches a URL into this host's work dir and returns the host-specific
// queue `files@<host>`; the client sends `process` and `upload` there, so they find the file.
//
//   download {url}            -> {path, bytes, sha256, host, task_queue_for_host}
//   process  {path}           -> {path, bytes, sha256, compressed_path, compressed_bytes, host}
//   upload   {path, destination_dir} -> {path, bytes, host}
//
// Every result carries `host` (this worker's host id) so callers can check the pinning. Errors
// are ApplicationErrors: a missing file or a bad URL is non-retryable; HTTP transport failures
// and 5xx are retryable.
//
// Thread safety: the methods may run concurrently.
//
//   FileActivities files({.work_dir = "/tmp/files-a", .host_id = "a"});
//   worker.RegisterActivity("download", [&](kiln::ActivityContext& c, nlohmann::json in) {
//     return files.Download(c, in);
//   });
#pragma once

#include <string>

#include "kiln/activity.h"
#include "nlohmann/json.hpp"

namespace kiln::examples::files {

struct FileActivitiesOptions {
  std::string work_dir = "work";
  std::string host_id{};
  std::string task_queue = "files";
};

class FileActivities {
 public:
  explicit FileActivities(FileActivitiesOptions options) : options_(std::move(options)) {}
  nlohmann::json Download(ActivityContext& ctx, const nlohmann::json& input) const;
  nlohmann::json Process(ActivityContext& ctx, const nlohmann::json& input) const;
  nlohmann::json Upload(ActivityContext& ctx, const nlohmann::json& input) const;

 private:
  const FileActivitiesOptions options_;
};

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(const std::string& data);

}  // namespace kiln::examples::files
