// metrics/http_route.h — `HttpRoute`: an extra endpoint served on the metrics port
// beside /metrics (e.g. the GPU state and admin endpoints of executor/gpu_admin.h), without
// exposing the HTTP library to its callers.
//
// Thread safety: handlers run on the server's threads, concurrently; they must be thread-safe.
//
//   HttpRoute{"GET", "/gpus", [](const HttpRequest&) { return HttpReply{200, "{}"}; }};
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kiln::metrics {

struct HttpRequest {
  std::string method{};                         // "GET", "POST"
  std::string path{};
  std::vector<std::string> matches{};           // the pattern's groups; [0] is the whole path
  std::map<std::string, std::string> params{};  // query (and form) parameters
  bool from_loopback = false;                   // the client is on this host (127.0.0.1, ::1)
};

struct HttpReply {
  int status = 200;
  std::string body{};
  std::string content_type = "application/json";
};

struct HttpRoute {
  std::string method{};   // "GET" or "POST"
  std::string pattern{};  // a regular expression matched against the whole path
  std::function<HttpReply(const HttpRequest&)> handler{};
};

}  // namespace kiln::metrics
