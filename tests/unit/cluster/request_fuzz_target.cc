// A libFuzzer entry point: the first byte picks a request that writes a stored run, the rest is its
// wire bytes. The request is parsed as DevService parses it; one that does not parse must be given
// a reason; one that parses is run through an engine whose store encodes and decodes every run
// written, and aborts if one does not read back equal ("whatever kiln dev acknowledges it can read
// back").
//
// Built as a fuzzer only with clang and -DKILN_FUZZ=ON (cluster_request_fuzzer); the deterministic
// cluster_fuzz_test links it too and feeds it generated inputs, so it is compiled and run in CI.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "cluster/engine.h"
#include "cluster/internal/proto_codec.h"
#include "cluster/memory_task_store.h"
#include "google/protobuf/util/message_differencer.h"

namespace kiln::cluster {
namespace {

class ReadBackOrAbortStore final : public TaskStoreWrapper {
 public:
  explicit ReadBackOrAbortStore(TaskStore& target) : TaskStoreWrapper(target) {}
  void Put(const ActivityState& state) override {
    auto decoded = internal::DecodeState(internal::EncodeState(state));
    if (!decoded.ok() || !google::protobuf::util::MessageDifferencer::Equals(*decoded, state)) {
      std::fprintf(stderr, "stored run %s does not read back: %s\n",
                   state.info().activity_id().c_str(), decoded.status().ToString().c_str());
      std::abort();
    }
    TaskStoreWrapper::Put(state);
  }
};

template <typename Req>
bool Parse(std::string_view bytes, Req& out) {
  if (internal::ParseWithLimit(bytes, kRequestRecursionLimit, out)) return true;
  if (internal::DiagnoseParseFailure(*Req::descriptor(), bytes, kRequestRecursionLimit).empty()) {
    std::fprintf(stderr, "a request that does not parse got no reason\n");
    std::abort();
  }
  return false;
}

// An engine with one running activity ("fuzz" on queue "q"), and its task token.
struct Harness {
  base::SimulatedClock clock{absl::FromUnixSeconds(1'700'000'000)};
  MemoryTaskStore memory;
  ReadBackOrAbortStore store{memory};
  ActivityEngine engine{ActivityEngine::Options(), store, clock};
  std::string token;

  Harness() {
    if (!engine.Recover().ok()) std::abort();
    wsv1::StartActivityExecutionRequest start;
    start.set_namespace_("default");
    start.set_activity_id("fuzz");
    start.mutable_activity_type()->set_name("work");
    start.mutable_task_queue()->set_name("q");
    start.mutable_start_to_close_timeout()->set_seconds(60);
    engine.StartActivityExecution(start, [](auto) {});
    wsv1::PollActivityTaskQueueRequest poll;
    poll.set_namespace_("default");
    poll.mutable_task_queue()->set_name("q");
    auto got = std::make_shared<std::string>();
    engine.PollActivityTaskQueue(poll, clock.Now(), [got](auto task) {
      if (task.ok()) *got = task->task_token();
    });
    token = *got;
  }
  ~Harness() { engine.Shutdown(); }
};

}  // namespace
}  // namespace kiln::cluster

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln::cluster;  // NOLINT: a fuzzer entry point outside the namespace
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  Harness h;
  auto ignore = [](const auto&) {};
  switch (data[0] % 4) {
    case 0: {
      wsv1::StartActivityExecutionRequest r;
      if (Parse(bytes, r)) h.engine.StartActivityExecution(r, ignore);
      break;
    }
    case 1: {
      wsv1::RespondActivityTaskFailedRequest r;
      if (!Parse(bytes, r)) break;
      r.set_namespace_("default");
      r.set_task_token(h.token);
      h.engine.RespondActivityTaskFailed(r, ignore);
      break;
    }
    case 2: {
      wsv1::RespondActivityTaskCompletedRequest r;
      if (!Parse(bytes, r)) break;
      r.set_namespace_("default");
      r.set_task_token(h.token);
      h.engine.RespondActivityTaskCompleted(r, ignore);
      break;
    }
    default: {
      wsv1::RecordActivityTaskHeartbeatRequest r;
      if (!Parse(bytes, r)) break;
      r.set_namespace_("default");
      r.set_task_token(h.token);
      h.engine.RecordActivityTaskHeartbeat(r, ignore);
      break;
    }
  }
  return 0;
}
