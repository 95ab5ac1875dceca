// kiln-files-worker: a Worker Program serving download, process and upload (file_activities.h)
// on the `files` queue and files@<host-id>, keeping files under --work-dir. With --max-sessions N
// it also serves sessions (client/session.h): a client opens one on `files` and runs its whole
// chain on the session's host. The rest of its command line is `kiln worker`'s (kiln::WorkerMain:
// connection flags like the `temporal` CLI, --host-id, --config, --metrics-port, ...).
#include <optional>
#include <string>

#include "examples/files/file_activities.h"
#include "kiln/worker_main.h"

int main(int argc, char** argv) {
  std::string work_dir = "work";
  int max_sessions = 0;
  std::optional<kiln::examples::files::FileActivities> files;
  auto register_files = [&](kiln::Worker& worker) -> absl::Status {
    files.emplace(kiln::examples::files::FileActivitiesOptions{
        .work_dir = work_dir,
        .host_id = worker.host_id(),
        .task_queue = worker.options().task_queues.front()});
    using Json = nlohmann::json;
    absl::Status s = worker.RegisterActivity(
        "download", [&files](kiln::ActivityContext& c, Json in) { return files->Download(c, in); });
    if (s.ok()) {
      s = worker.RegisterActivity(
          "process", [&files](kiln::ActivityContext& c, Json in) { return files->Process(c, in); });
    }
    if (s.ok()) {
      s = worker.RegisterActivity(
          "upload", [&files](kiln::ActivityContext& c, Json in) { return files->Upload(c, in); });
    }
    return s;
  };
  return kiln::WorkerMain(
      argc, argv, register_files,
      {.about = "kiln-files-worker: serves download, process and upload, pinned per host",
       .task_queues = {"files"},
       .add_flags =
           [&](CLI::App& app) {
             app.add_option("--work-dir", work_dir, "Where downloaded files are kept")
                 ->capture_default_str();
             app.add_option("--max-sessions", max_sessions,
                            "Enable sessions (client/session.h): hold at most this many at once; "
                            "0: off")
                 ->check(CLI::NonNegativeNumber)
                 ->capture_default_str();
           },
       .configure =
           [&](kiln::WorkerOptions& options) {
             options.sessions = {.enabled = max_sessions > 0,
                                 .max_concurrent_sessions = max_sessions};
           }});
}
