// fuzz/task_token_fuzzer.cc — libFuzzer target: task-token parsing (cluster/task_token.h).
// Any bytes a worker sends as a task token are decoded; the decoder must never crash, must refuse
// with INVALID_ARGUMENT ("malformed task token ..."), and what it accepts must mean one attempt:
// re-encoding it and decoding again gives the same fields. The other way round, every token
// EncodeTaskToken makes from fields taken from the input decodes back to those fields.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "cluster/task_token.h"

namespace {

using kiln::cluster::DecodeTaskToken;
using kiln::cluster::EncodeTaskToken;
using kiln::cluster::TaskToken;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "task token fuzzer: %s\n", what);
  std::abort();
}

bool Same(const TaskToken& a, const TaskToken& b) {
  return a.namespace_name == b.namespace_name && a.activity_id == b.activity_id &&
         a.run_id == b.run_id && a.attempt == b.attempt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = DecodeTaskToken(bytes);
  if (!decoded.ok()) {
    if (decoded.status().code() != absl::StatusCode::kInvalidArgument ||
        !absl::StrContains(decoded.status().message(), "malformed task token")) {
      Fail("a refused token is not INVALID_ARGUMENT \"malformed task token\"");
    }
  } else {
    auto again = DecodeTaskToken(EncodeTaskToken(*decoded));
    if (!again.ok() || !Same(*again, *decoded)) Fail("an accepted token does not re-encode");
  }

  FuzzedDataProvider in(data, size);
  TaskToken token;
  token.namespace_name = in.ConsumeRandomLengthString(64);
  token.activity_id = in.ConsumeRandomLengthString(300);
  token.run_id = in.ConsumeRandomLengthString(64);
  token.attempt = in.ConsumeIntegral<int32_t>();
  auto round = DecodeTaskToken(EncodeTaskToken(token));
  const bool valid = token.attempt >= 1 && !token.activity_id.empty() && !token.run_id.empty();
  if (valid && (!round.ok() || !Same(*round, token))) Fail("an issued token does not decode back");
  if (!valid && round.ok()) Fail("a token with an empty id or attempt < 1 decodes");
  return 0;
}
