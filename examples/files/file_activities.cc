#include "examples/files/file_activities.h"

#include <openssl/evp.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "httplib.h"
#include "kiln/payload.h"

namespace kiln::examples::files {
namespace {

namespace fs = std::filesystem;

std::string RequiredString(const nlohmann::json& in, const char* field, const char* activity) {
  if (!in.is_object() || !in.contains(field) || !in[field].is_string()) {
    throw ApplicationError(std::string(activity) + " input needs a string field \"" + field +
                               "\"; got " + in.dump(), "BadInput")
        .NonRetryable();
  }
  return in[field].get<std::string>();
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw ApplicationError("cannot read " + path + " on this host; was the chain pinned to the "
                           "host that downloaded it?", "FileNotFound")
        .NonRetryable();
  }
  std::ostringstream out;
  out << file.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!file) throw ApplicationError("cannot write " + path, "WriteFailed");
}

}  // namespace

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

nlohmann::json FileActivities::Download(ActivityContext& ctx, const nlohmann::json& input) const {
  const std::string url = RequiredString(input, "url", "download");
  std::smatch m;
  if (!std::regex_match(url, m, std::regex(R"((http://[^/]+)(/.*)?)"))) {
    throw ApplicationError("download: only http://host[:port]/path URLs are supported, not " + url,
                           "BadInput")
        .NonRetryable();
  }
  const std::string path = m[2].matched ? m[2].str() : "/";
  httplib::Client http(m[1].str());
  http.set_connection_timeout(10);
  http.set_read_timeout(60);
  httplib::Result response = http.Get(path);
  if (!response) {
    throw ApplicationError("download " + url + ": " + httplib::to_string(response.error()),
                           "HttpError");
  }
  if (response->status != 200) {
    ApplicationError error("download " + url + ": HTTP " + std::to_string(response->status),
                           "HttpError");
    if (response->status < 500) error.NonRetryable();
    throw error;
  }
  ctx.ThrowIfCancelled();
  const fs::path dir = fs::path(options_.work_dir) / ctx.info().activity_id;
  fs::create_directories(dir);
  std::string name = fs::path(path).filename().string();
  if (name.empty()) name = "index";
  const std::string local = (dir / name).string();
  WriteFile(local, response->body);
  return {{"path", local},
          {"bytes", response->body.size()},
          {"sha256", Sha256Hex(response->body)},
          {"host", options_.host_id},
          {"task_queue_for_host", options_.task_queue + "@" + options_.host_id}};
}

nlohmann::json FileActivities::Process(ActivityContext& ctx, const nlohmann::json& input) const {
  const std::string path = RequiredString(input, "path", "process");
  const std::string data = ReadFile(path);
  ctx.Heartbeat(nlohmann::json{{"progress", {{"fraction", 0.5}, {"message", "compressing"}}}});
  std::string compressed(ZSTD_compressBound(data.size()), '\0');
  const size_t size = ZSTD_compress(compressed.data(), compressed.size(), data.data(), data.size(),
                                    /*compressionLevel=*/3);
  if (ZSTD_isError(size)) {
    throw ApplicationError(std::string("zstd: ") + ZSTD_getErrorName(size), "CompressFailed");
  }
  compressed.resize(size);
  const std::string out = path + ".zst";
  WriteFile(out, compressed);
  return {{"path", path},
          {"bytes", data.size()},
          {"sha256", Sha256Hex(data)},
          {"compressed_path", out},
          {"compressed_bytes", compressed.size()},
          {"host", options_.host_id}};
}

nlohmann::json FileActivities::Upload(ActivityContext& ctx, const nlohmann::json& input) const {
  const std::string path = RequiredString(input, "path", "upload");
  const std::string destination = RequiredString(input, "destination_dir", "upload");
  if (!fs::exists(path)) {
    throw ApplicationError("upload: " + path + " does not exist on host " + options_.host_id,
                           "FileNotFound")
        .NonRetryable();
  }
  ctx.ThrowIfCancelled();
  fs::create_directories(destination);
  const fs::path target = fs::path(destination) / fs::path(path).filename();
  fs::copy_file(path, target, fs::copy_options::overwrite_existing);
  return {{"path", target.string()}, {"bytes", fs::file_size(target)}, {"host", options_.host_id}};
}

}  // namespace kiln::examples::files
