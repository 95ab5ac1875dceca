// fuzz/client_profile_fuzzer.cc — libFuzzer target: the Temporal client profiles file
// (temporal.toml: [profile.NAME], its [tls] and [grpc_meta] tables), which every `kiln` client
// command, `kiln worker` and the SDK read through client::ResolveConnectionOptions
// (client/env_config.h). The input is the file's text, written to a temporary file named by
// TEMPORAL_CONFIG_FILE. Resolving never crashes and refuses with INVALID_ARGUMENT.
// Inputs that name device or proc files (/dev/, /proc/, /sys/) as TLS paths are skipped: reading
// /dev/zero as a certificate is the operator's choice, not a parsing bug.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "client/env_config.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "client profile fuzzer: %s\n", what.c_str());
  std::abort();
}

const std::string& ProfilesFile() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir ? dir : "/tmp") + "/kiln-fuzz-profile-" + std::to_string(getpid()) +
           ".toml";
  }();
  // The run's scratch file goes with the process; registered once `path` is made, so it runs
  // before `path` is destroyed.
  static const bool removed_at_exit = [] {
    return std::atexit([] { std::remove(ProfilesFile().c_str()); }) == 0;
  }();
  (void)removed_at_exit;
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* special : {"/dev/", "/proc/", "/sys/"}) {
    if (text.find(special) != std::string::npos) return 0;
  }
  std::ofstream(ProfilesFile(), std::ios::binary | std::ios::trunc) << text;
  for (const char* profile : {"default", "prod"}) {
    kiln::client::Environment env = {{"TEMPORAL_CONFIG_FILE", ProfilesFile()},
                                     {"TEMPORAL_PROFILE", profile}};
    std::vector<std::string> warnings;
    auto options = kiln::client::ResolveConnectionOptions({}, env, &warnings);
    if (!options.ok() && options.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("an error is not INVALID_ARGUMENT: " + options.status().ToString());
    }
  }
  return 0;
}
