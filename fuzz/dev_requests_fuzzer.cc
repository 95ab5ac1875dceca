// fuzz/dev_requests_fuzzer.cc — libFuzzer target: every request type `kiln dev` serves, as a
// sequence of calls on one ActivityEngine (cluster/engine.h) over a store, with restarts.
//
// The input is a program: each step picks a request type (or "advance the clock", or "restart"),
// gives its wire bytes, and a byte of flags. The bytes are parsed as DevService parses them (a
// request that does not parse must be given a reason) and the request goes through validation
// and the engine. Unless the flags say otherwise, the namespace is "default", and task tokens and
// activity ids are replaced by ones this program obtained (so the fuzzer reaches deep states).
//
// What must hold:
//   - every call answers exactly once;
//   - every run the engine writes encodes and decodes as the SQLite store does, equal;
//   - whatever is acknowledged reads back: after each restart (a new engine recovering the same
//     store), every acknowledged start is described (unless an acknowledged delete removed it),
//     and every acknowledged completion is COMPLETED with exactly the result that was sent.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "cluster/engine.h"
#include "cluster/internal/proto_codec.h"
#include "cluster/memory_task_store.h"
#include "cluster/task_token.h"
#include "google/protobuf/util/message_differencer.h"

namespace kiln::cluster {
namespace {

using google::protobuf::util::MessageDifferencer;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "dev requests fuzzer: %s\n", what.c_str());
  std::abort();
}

class ReadBackOrAbortStore final : public TaskStoreWrapper {
 public:
  explicit ReadBackOrAbortStore(TaskStore& target) : TaskStoreWrapper(target) {}
  void Put(const ActivityState& state) override {
    auto decoded = internal::DecodeState(internal::EncodeState(state));
    if (!decoded.ok() || !MessageDifferencer::Equals(*decoded, state)) {
      Fail("stored run " + state.info().run_id() + " does not read back");
    }
    TaskStoreWrapper::Put(state);
  }
};

enum Flags : uint8_t { kKeepNamespace = 1, kKeepIds = 2 };

struct Acknowledged {
  std::string activity_id;
  bool completed = false;
  temporal::api::common::v1::Payloads result;
};

class Program {
 public:
  Program() { Restart(); }
  ~Program() { Stop(); }

  void Step(FuzzedDataProvider& in) {
    const uint8_t op = in.ConsumeIntegral<uint8_t>();
    const uint8_t flags = in.ConsumeIntegral<uint8_t>();
    const std::string bytes = in.ConsumeRandomLengthString(4096);
    flags_ = flags;
    pick_ = static_cast<size_t>(flags >> 2);
    switch (op % 22) {
      case 0: Start(bytes); break;
      case 1: Call<wsv1::DescribeActivityExecutionRequest>(bytes, [&](auto& r, auto done) {
          Ids(r);
          engine_->DescribeActivityExecution(r, clock_.Now(), done);
        }); break;
      case 2: Call<wsv1::PollActivityExecutionRequest>(bytes, [&](auto& r, auto done) {
          Ids(r);
          engine_->PollActivityExecution(r, clock_.Now() + absl::Seconds(1), done);
        }); break;
      case 3: Call<wsv1::RequestCancelActivityExecutionRequest>(bytes, [&](auto& r, auto done) {
          Ids(r);
          engine_->RequestCancelActivityExecution(r, done);
        }); break;
      case 4: Call<wsv1::TerminateActivityExecutionRequest>(bytes, [&](auto& r, auto done) {
          Ids(r);
          engine_->TerminateActivityExecution(r, done);
        }); break;
      case 5: Delete(bytes); break;
      case 6: Call<wsv1::ListActivityExecutionsRequest>(bytes, [&](auto& r, auto done) {
          engine_->ListActivityExecutions(r, done);
        }); break;
      case 7: Call<wsv1::CountActivityExecutionsRequest>(bytes, [&](auto& r, auto done) {
          engine_->CountActivityExecutions(r, done);
        }); break;
      case 8: Poll(bytes); break;
      case 9: Call<wsv1::PollNexusTaskQueueRequest>(bytes, [&](auto& r, auto done) {
          engine_->PollNexusTaskQueue(r, clock_.Now() + absl::Seconds(1), done);
        }); break;
      case 10: Call<wsv1::RecordActivityTaskHeartbeatRequest>(bytes, [&](auto& r, auto done) {
          Token(r);
          engine_->RecordActivityTaskHeartbeat(r, done);
        }); break;
      case 11: Call<wsv1::RecordActivityTaskHeartbeatByIdRequest>(bytes, [&](auto& r, auto done) {
          Ids(r);
          engine_->RecordActivityTaskHeartbeatById(r, done);
        }); break;
      case 12: Complete<wsv1::RespondActivityTaskCompletedRequest>(
          bytes, [&](auto& r) { Token(r); },
          [&](auto& r, auto done) { engine_->RespondActivityTaskCompleted(r, done); });
        break;
      case 13: Complete<wsv1::RespondActivityTaskCompletedByIdRequest>(
          bytes, [&](auto& r) { Ids(r); },
          [&](auto& r, auto done) { engine_->RespondActivityTaskCompletedById(r, done); });
        break;
      case 14: Call<wsv1::RespondActivityTaskFailedRequest>(bytes, [&](auto& r, auto done) {
          Token(r);
          engine_->RespondActivityTaskFailed(r, done);
        }); break;
      case 15: Call<wsv1::RespondActivityTaskFailedByIdRequest>(bytes, [&](auto& r, auto done) {
          Ids(r);
          engine_->RespondActivityTaskFailedById(r, done);
        }); break;
      case 16: Call<wsv1::RespondActivityTaskCanceledRequest>(bytes, [&](auto& r, auto done) {
          Token(r);
          engine_->RespondActivityTaskCanceled(r, done);
        }); break;
      case 17: Call<wsv1::RespondActivityTaskCanceledByIdRequest>(bytes, [&](auto& r, auto done) {
          Ids(r);
          engine_->RespondActivityTaskCanceledById(r, done);
        }); break;
      case 18: Call<wsv1::ShutdownWorkerRequest>(bytes, [&](auto& r, auto done) {
          engine_->ShutdownWorker(r, done);
        }); break;
      case 19: Call<wsv1::DescribeTaskQueueRequest>(bytes, [&](auto& r, auto done) {
          engine_->DescribeTaskQueue(r, done);
        }); break;
      case 20:  // time passes: timeouts, retries and held polls fire
        clock_.Advance(absl::Milliseconds(static_cast<int64_t>(flags) * 500));
        engine_->FireDueTimers();
        break;
      default:
        Restart();
        break;
    }
  }

  // Stops the engine, checks every call was answered, recovers a new one and checks that every
  // acknowledged start and completion reads back.
  void Restart() {
    Stop();
    engine_ = std::make_unique<ActivityEngine>(ActivityEngine::Options(), store_, clock_);
    if (absl::Status s = engine_->Recover(); !s.ok()) Fail("recovery failed: " + s.ToString());
    tokens_.clear();
    for (const auto& [run_id, ack] : acknowledged_) CheckReadsBack(run_id, ack);
  }

 private:
  template <typename Req>
  bool Parse(const std::string& bytes, Req& out) {
    if (internal::ParseWithLimit(bytes, kRequestRecursionLimit, out)) {
      if (!(flags_ & kKeepNamespace)) out.set_namespace_("default");
      return true;
    }
    if (internal::DiagnoseParseFailure(*Req::descriptor(), bytes, kRequestRecursionLimit).empty()) {
      Fail("a request that does not parse got no reason");
    }
    return false;
  }

  // A callback that must run exactly once; `then` sees the answer.
  template <typename Resp, typename Then>
  Done<Resp> Once(Then then) {
    ++calls_;
    auto answered = std::make_shared<bool>(false);
    return [this, answered, then](absl::StatusOr<Resp> answer) {
      if (*answered) Fail("a call was answered twice");
      *answered = true;
      ++answers_;
      then(answer);
    };
  }

  // Converts to the Done<Resp> of whichever engine call it is passed to: answered once, then
  // `then(answer)` (a generic callable).
  template <typename Then>
  struct AnyDone {
    Program* program;
    Then then;
    template <typename Resp>
    operator Done<Resp>() const {  // NOLINT: implicit on purpose
      return program->Once<Resp>([t = then](const absl::StatusOr<Resp>& a) { t(a); });
    }
  };
  template <typename Then>
  AnyDone<Then> Any(Then then) {
    return AnyDone<Then>{this, std::move(then)};
  }

  template <typename Req, typename Run>
  void Call(const std::string& bytes, Run run) {
    Req r;
    if (!Parse(bytes, r)) return;
    run(r, Any([](const auto&) {}));
  }

  void Start(const std::string& bytes) {
    wsv1::StartActivityExecutionRequest r;
    if (!Parse(bytes, r)) return;
    if (!(flags_ & kKeepIds)) {  // a start the engine takes, unless the fuzzer set these fields
      if (r.activity_id().empty()) r.set_activity_id("a" + std::to_string(pick_ % 4));
      if (!r.has_activity_type()) r.mutable_activity_type()->set_name("work");
      if (!r.has_task_queue()) r.mutable_task_queue()->set_name("q");
      if (!r.has_start_to_close_timeout() && !r.has_schedule_to_close_timeout()) {
        r.mutable_start_to_close_timeout()->set_seconds(1 + static_cast<int64_t>(pick_));
      }
    }
    const std::string id = r.activity_id();
    const bool ours = r.namespace_() == "default";
    engine_->StartActivityExecution(
        r, Once<wsv1::StartActivityExecutionResponse>([this, id, ours](const auto& answer) {
          if (answer.ok() && ours) {
            acknowledged_.try_emplace(answer->run_id(), Acknowledged{id, false, {}});
            ids_.push_back(id);
          }
        }));
  }

  void Poll(const std::string& bytes) {
    wsv1::PollActivityTaskQueueRequest r;
    if (!Parse(bytes, r)) return;
    if (!(flags_ & kKeepIds) && !r.has_task_queue()) r.mutable_task_queue()->set_name("q");
    engine_->PollActivityTaskQueue(
        r, clock_.Now() + absl::Seconds(1),
        Once<wsv1::PollActivityTaskQueueResponse>([this](const auto& answer) {
          if (answer.ok() && !answer->task_token().empty()) tokens_.push_back(answer->task_token());
        }));
  }

  void Delete(const std::string& bytes) {
    wsv1::DeleteActivityExecutionRequest r;
    if (!Parse(bytes, r)) return;
    Ids(r);
    engine_->DeleteActivityExecution(
        r, Once<wsv1::DeleteActivityExecutionResponse>([this, r](const auto& answer) {
          if (!answer.ok() || r.namespace_() != "default") return;
          std::erase_if(acknowledged_, [&](const auto& entry) {
            return entry.second.activity_id == r.activity_id() &&
                   (r.run_id().empty() || entry.first == r.run_id());
          });
        }));
  }

  // A completion: once acknowledged, the run it names must be COMPLETED with this result, now
  // and after every restart.
  template <typename Req, typename Prepare, typename Run>
  void Complete(const std::string& bytes, Prepare prepare, Run run) {
    Req r;
    if (!Parse(bytes, r)) return;
    prepare(r);
    run(r, Any([this, r](const auto& answer) {
          if (!answer.ok() || r.namespace_() != "default") return;
          std::string run_id;
          if constexpr (requires { r.task_token(); }) {
            auto token = DecodeTaskToken(r.task_token());
            if (!token.ok()) Fail("a completion with a bad token was acknowledged");
            run_id = token->run_id;
          } else {
            run_id = r.run_id().empty() ? LatestRun(r.activity_id()) : r.run_id();
          }
          auto it = acknowledged_.find(run_id);
          if (it == acknowledged_.end()) return;  // started by a request this program did not see
          it->second.completed = true;
          it->second.result = r.result();
          CheckReadsBack(it->first, it->second);
        }));
  }
  std::string LatestRun(const std::string& activity_id) {
    wsv1::DescribeActivityExecutionRequest d;
    d.set_namespace_("default");
    d.set_activity_id(activity_id);
    std::string run_id;
    engine_->DescribeActivityExecution(d, clock_.Now(), [&](auto answer) {
      if (answer.ok()) run_id = answer->run_id();
    });
    return run_id;
  }

  void CheckReadsBack(const std::string& run_id, const Acknowledged& ack) {
    wsv1::DescribeActivityExecutionRequest d;
    d.set_namespace_("default");
    d.set_activity_id(ack.activity_id);
    d.set_run_id(run_id);
    d.set_include_outcome(true);
    bool answered = false;
    engine_->DescribeActivityExecution(d, clock_.Now(), [&](auto answer) {
      answered = true;
      if (!answer.ok()) {
        Fail("acknowledged run " + ack.activity_id + "/" + run_id + " is lost: " +
             answer.status().ToString());
      }
      if (!ack.completed) return;
      if (answer->info().status() != temporal::api::enums::v1::ACTIVITY_EXECUTION_STATUS_COMPLETED ||
          !MessageDifferencer::Equals(answer->outcome().result(), ack.result)) {
        Fail("acknowledged completion of " + ack.activity_id + "/" + run_id +
             " is not COMPLETED with its result");
      }
    });
    if (!answered) Fail("a describe was not answered at once");
  }

  // Worker calls name the run by task token: one this program was given, unless kKeepIds.
  template <typename Req>
  void Token(Req& r) {
    if (!(flags_ & kKeepIds) && !tokens_.empty()) r.set_task_token(tokens_[pick_ % tokens_.size()]);
  }
  // Client calls and ...ById calls name it by activity id: one this program started.
  template <typename Req>
  void Ids(Req& r) {
    if (!(flags_ & kKeepIds) && !ids_.empty()) {
      r.set_activity_id(ids_[pick_ % ids_.size()]);
      r.clear_run_id();
    }
  }

  void Stop() {
    if (!engine_) return;
    engine_->Shutdown();
    engine_.reset();
    if (answers_ != calls_) {
      Fail(std::to_string(calls_ - answers_) + " calls were never answered");
    }
  }

  base::SimulatedClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  MemoryTaskStore memory_;
  ReadBackOrAbortStore store_{memory_};
  std::unique_ptr<ActivityEngine> engine_;
  uint8_t flags_ = 0;
  size_t pick_ = 0;
  int64_t calls_ = 0;
  int64_t answers_ = 0;
  std::vector<std::string> tokens_;
  std::vector<std::string> ids_;
  std::map<std::string, Acknowledged> acknowledged_;  // by run id
};

}  // namespace
}  // namespace kiln::cluster

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  kiln::cluster::Program program;
  for (int steps = 0; in.remaining_bytes() > 0 && steps < 64; ++steps) program.Step(in);
  program.Restart();
  return 0;
}
