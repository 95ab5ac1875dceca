// A deterministic fuzz test (fixed seeds): random messages, deep (failure cause chains up to 300
// levels, unknown groups) and large (payloads up to 3 MiB), of every message type a stored run is
// made of and of every request that writes one.
//
// - Every stored type: what parses within kStateRecursionLimit round-trips exactly; what does not
//   parse (deep, truncated, bit-flipped) is refused with a reason, never a crash.
// - Through the engine: requests are parsed as DevService parses them (kRequestRecursionLimit),
//   then run; every run the engine writes is encoded and decoded as the SQLite store does, and
//   must read back equal. "Whatever kiln dev acknowledges, it can read back."
#include <random>
#include <set>
#include <string>

#include "base/clock.h"
#include "cluster/engine.h"
#include "cluster/internal/proto_codec.h"
#include "cluster/memory_task_store.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/unit/cluster/test_requests.h"

// The libFuzzer entry point (request_fuzz_target.cc), fed generated inputs below.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace kiln::cluster {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::util::MessageDifferencer;

constexpr int kSeeds = 100;

// Fills messages with random content by reflection.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool Chance(int percent) { return Pick(100) < percent; }

  std::string Text() {
    std::string s(static_cast<size_t>(Pick(12)), 'a');
    for (char& c : s) c = static_cast<char>('a' + Pick(26));
    if (Chance(10)) s += "\xc3\xa9\xe2\x82\xac";  // é€: valid multi-byte UTF-8
    return s;
  }
  std::string Bytes() {
    size_t size = static_cast<size_t>(Pick(16));
    if (Chance(3)) size = static_cast<size_t>(512 * 1024 + Pick(3) * 1024 * 1024);  // large
    std::string s(size, '\0');
    for (size_t i = 0; i < std::min<size_t>(size, 64); ++i) s[i] = static_cast<char>(Pick(256));
    return s;
  }
  // How long a recursive chain (Failure.cause) is made: mostly short, sometimes at and around the
  // limits that matter (20 kept by Temporal, 99/100 protobuf's default, 256 the request limit).
  int ChainLength() {
    static constexpr int kLengths[] = {0, 1, 2, 19, 20, 21, 98, 99, 100, 255, 256, 300};
    return Chance(60) ? Pick(3) : kLengths[Pick(std::size(kLengths))];
  }

  void Fill(Message& m, int budget) {
    const Descriptor* d = m.GetDescriptor();
    const Reflection* r = m.GetReflection();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (!Chance(45)) continue;
      if (f->type() == FieldDescriptor::TYPE_MESSAGE || f->type() == FieldDescriptor::TYPE_GROUP) {
        if (f->message_type() == d && !f->is_repeated()) {  // a recursive chain
          const FieldDescriptor* text = d->FindFieldByName("message");
          Message* link = &m;
          for (int n = ChainLength(); n > 0; --n) {
            link = link->GetReflection()->MutableMessage(link, f);
            if (text && text->type() == FieldDescriptor::TYPE_STRING && Chance(30)) {
              link->GetReflection()->SetString(link, text, Text());
            }
          }
          continue;
        }
        if (budget <= 0) continue;
        // One map entry at most: two with the same key would not read back as written.
        const int n = f->is_map() ? Pick(2) : f->is_repeated() ? Pick(3) : 1;
        for (int k = 0; k < n; ++k) {
          Fill(f->is_repeated() ? *r->AddMessage(&m, f) : *r->MutableMessage(&m, f), budget - 1);
        }
        continue;
      }
      const int n = f->is_repeated() ? Pick(3) : 1;
      for (int k = 0; k < n; ++k) SetScalar(m, f);
    }
  }

  // Appends an unknown field holding `depth` nested groups: nesting the descriptors do not know.
  void AddDeepUnknownGroups(Message& m, int depth) {
    auto* unknown = m.GetReflection()->MutableUnknownFields(&m);
    for (int i = 0; i < depth; ++i) unknown = unknown->AddGroup(9000);
  }

 private:
  void SetScalar(Message& m, const FieldDescriptor* f) {
    const Reflection* r = m.GetReflection();
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: {
        const std::string v = f->type() == FieldDescriptor::TYPE_BYTES ? Bytes() : Text();
        rep ? r->AddString(&m, f, v) : r->SetString(&m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL:
        rep ? r->AddBool(&m, f, Chance(50)) : r->SetBool(&m, f, Chance(50));
        break;
      case FieldDescriptor::CPPTYPE_ENUM: {
        const int v = f->enum_type()->value(Pick(f->enum_type()->value_count()))->number();
        rep ? r->AddEnumValue(&m, f, v) : r->SetEnumValue(&m, f, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT32:
        rep ? r->AddInt32(&m, f, Pick(1000) - 10) : r->SetInt32(&m, f, Pick(1000) - 10);
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        rep ? r->AddInt64(&m, f, Pick(100000) - 10) : r->SetInt64(&m, f, Pick(100000) - 10);
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        rep ? r->AddUInt32(&m, f, Pick(1000)) : r->SetUInt32(&m, f, Pick(1000));
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        rep ? r->AddUInt64(&m, f, Pick(1000)) : r->SetUInt64(&m, f, Pick(1000));
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        rep ? r->AddDouble(&m, f, Pick(100) / 7.0) : r->SetDouble(&m, f, Pick(100) / 7.0);
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        rep ? r->AddFloat(&m, f, Pick(100) / 7.0f) : r->SetFloat(&m, f, Pick(100) / 7.0f);
        break;
      default:
        break;
    }
  }

  std::mt19937_64 rng_;
};

// Every message type a stored run is made of.
std::vector<const Descriptor*> StoredTypes() {
  std::vector<const Descriptor*> out;
  std::set<const Descriptor*> seen;
  std::vector<const Descriptor*> todo = {ActivityState::descriptor()};
  while (!todo.empty()) {
    const Descriptor* d = todo.back();
    todo.pop_back();
    if (!seen.insert(d).second) continue;
    if (!d->options().map_entry()) out.push_back(d);  // map entries: covered by their maps
    for (int i = 0; i < d->field_count(); ++i) {
      if (d->field(i)->message_type()) todo.push_back(d->field(i)->message_type());
    }
  }
  return out;
}

TEST(StoredTypesFuzzTest, EveryStoredTypeRoundTripsOrIsRefusedWithAReason) {
  const auto types = StoredTypes();
  ASSERT_GT(types.size(), 20u);
  google::protobuf::LogSilencer quiet;  // damaged strings make protobuf log each bad UTF-8 field
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    Generator gen(seed);
    for (const Descriptor* type : types) {
      SCOPED_TRACE(type->full_name() + " seed " + std::to_string(seed));
      std::unique_ptr<Message> original(factory->GetPrototype(type)->New());
      gen.Fill(*original, 3);
      if (gen.Chance(10)) gen.AddDeepUnknownGroups(*original, gen.ChainLength());
      const std::string bytes = original->SerializeAsString();
      std::unique_ptr<Message> decoded(original->New());
      if (internal::ParseWithLimit(bytes, kStateRecursionLimit, *decoded)) {
        EXPECT_TRUE(MessageDifferencer::Equals(*original, *decoded));
      } else {
        EXPECT_NE(internal::DiagnoseParseFailure(*type, bytes, kStateRecursionLimit), "");
      }
      // Damaged bytes: truncated, or a byte changed. Refused with a reason, or parsed; no crash.
      std::string damaged = bytes.substr(0, bytes.size() - std::min<size_t>(bytes.size(), gen.Pick(4)));
      if (!damaged.empty() && gen.Chance(50)) {
        damaged[static_cast<size_t>(gen.Pick(static_cast<int>(std::min<size_t>(damaged.size(), 256))))] ^=
            static_cast<char>(1 + gen.Pick(255));
      }
      std::unique_ptr<Message> partial(original->New());
      if (!internal::ParseWithLimit(damaged, kStateRecursionLimit, *partial)) {
        EXPECT_NE(internal::DiagnoseParseFailure(*type, damaged, kStateRecursionLimit), "");
      }
    }
  }
}

// Encodes and decodes every run written, as SqliteTaskStore does; counts what could not be read.
class ReadBackStore final : public TaskStoreWrapper {
 public:
  explicit ReadBackStore(TaskStore& target) : TaskStoreWrapper(target) {}
  void Put(const ActivityState& state) override {
    auto decoded = internal::DecodeState(internal::EncodeState(state));
    if (!decoded.ok()) {
      ADD_FAILURE() << "stored run " << state.info().activity_id()
                    << " cannot be read back: " << decoded.status();
      ++unreadable;
    } else if (!MessageDifferencer::Equals(*decoded, state)) {
      ADD_FAILURE() << "stored run " << state.info().activity_id() << " reads back different";
      ++unreadable;
    }
    TaskStoreWrapper::Put(state);
  }
  int unreadable = 0;
};

// `request` as DevService receives it: serialized, then parsed with the request limit.
template <typename Req>
bool OverTheWire(const Req& request, Req& parsed) {
  const std::string bytes = request.SerializeAsString();
  if (internal::ParseWithLimit(bytes, kRequestRecursionLimit, parsed)) return true;
  EXPECT_NE(internal::DiagnoseParseFailure(*Req::descriptor(), bytes, kRequestRecursionLimit), "");
  return false;
}

TEST(StoredTypesFuzzTest, WhateverTheEngineAcknowledgesReadsBack) {
  int acknowledged_failures = 0;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Generator gen(seed * 7919);
    base::SimulatedClock clock(absl::FromUnixSeconds(1'700'000'000));
    MemoryTaskStore memory;
    ReadBackStore store(memory);
    ActivityEngine engine(ActivityEngine::Options(), store, clock);
    ASSERT_TRUE(engine.Recover().ok());
    for (int i = 0; i < 6; ++i) {
      wsv1::StartActivityExecutionRequest start;
      gen.Fill(start, 3);
      if (gen.Chance(80)) {  // mostly valid, so that the worker side is reached
        start.set_namespace_("default");
        start.set_activity_id("act-" + std::to_string(i));
        start.mutable_activity_type()->set_name("work");
        start.mutable_task_queue()->set_name("q");
        start.mutable_task_queue()->clear_kind();
        start.mutable_start_to_close_timeout()->set_seconds(60);
        start.clear_schedule_to_close_timeout();
        start.clear_schedule_to_start_timeout();
        start.clear_start_delay();
        start.clear_retry_policy();
        start.clear_search_attributes();
        start.clear_completion_callbacks();
        start.clear_priority();
        start.clear_request_id();
        start.set_id_reuse_policy(temporal::api::enums::v1::ACTIVITY_ID_REUSE_POLICY_ALLOW_DUPLICATE);
        start.set_id_conflict_policy(temporal::api::enums::v1::ACTIVITY_ID_CONFLICT_POLICY_FAIL);
      }
      // Nesting the descriptors do not know (unknown groups) is stored as it came: it must read
      // back too.
      if (gen.Chance(15)) gen.AddDeepUnknownGroups(*start.mutable_input(), gen.ChainLength());
      wsv1::StartActivityExecutionRequest parsed_start;
      if (!OverTheWire(start, parsed_start)) continue;
      bool answered = false;
      engine.StartActivityExecution(parsed_start, [&](auto) { answered = true; });
      ASSERT_TRUE(answered);

      wsv1::PollActivityTaskQueueRequest poll;
      poll.set_namespace_("default");
      poll.mutable_task_queue()->set_name("q");
      auto got = std::make_shared<std::string>();
      engine.PollActivityTaskQueue(poll, clock.Now(), [got](auto task) {
        if (task.ok()) *got = task->task_token();
      });
      const std::string token = *got;
      if (token.empty()) continue;

      bool ok = false;
      auto note = [&](const auto& result) { ok = result.ok(); };
      switch (gen.Pick(4)) {
        case 0: {
          wsv1::RecordActivityTaskHeartbeatRequest r;
          gen.Fill(r, 3);
          r.set_namespace_("default");
          r.set_task_token(token);
          wsv1::RecordActivityTaskHeartbeatRequest p;
          if (OverTheWire(r, p)) engine.RecordActivityTaskHeartbeat(p, note);
          [[fallthrough]];
        }
        case 1: {
          wsv1::RespondActivityTaskFailedRequest r;
          gen.Fill(r, 3);
          r.set_namespace_("default");
          r.set_task_token(token);
          wsv1::RespondActivityTaskFailedRequest p;
          if (OverTheWire(r, p)) {
            engine.RespondActivityTaskFailed(p, note);
            if (ok && r.failure().has_cause()) ++acknowledged_failures;
          }
          break;
        }
        case 2: {
          wsv1::RespondActivityTaskCompletedRequest r;
          gen.Fill(r, 3);
          r.set_namespace_("default");
          r.set_task_token(token);
          wsv1::RespondActivityTaskCompletedRequest p;
          if (OverTheWire(r, p)) engine.RespondActivityTaskCompleted(p, note);
          break;
        }
        default: {
          wsv1::RespondActivityTaskCanceledRequest r;
          gen.Fill(r, 3);
          r.set_namespace_("default");
          r.set_task_token(token);
          wsv1::RespondActivityTaskCanceledRequest p;
          if (OverTheWire(r, p)) engine.RespondActivityTaskCanceled(p, note);
          break;
        }
      }
    }
    engine.Shutdown();
    EXPECT_EQ(store.unreadable, 0);
    // Everything listed reads back too.
    auto page = memory.List("default", ListFilter(), 100, "");
    ASSERT_TRUE(page.ok());
    for (const auto& run : page->runs) {
      EXPECT_TRUE(internal::DecodeState(internal::EncodeState(run)).ok());
    }
  }
  // The generator does reach the interesting case: failures with causes that were accepted.
  EXPECT_GT(acknowledged_failures, 0);
}

TEST(StoredTypesFuzzTest, TheLibFuzzerEntryPointTakesGeneratedAndDamagedRequests) {
  google::protobuf::LogSilencer quiet;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    Generator gen(seed * 104729);
    std::unique_ptr<Message> request;
    const uint8_t kind = static_cast<uint8_t>(gen.Pick(4));
    switch (kind) {
      case 0: request = std::make_unique<wsv1::StartActivityExecutionRequest>(); break;
      case 1: request = std::make_unique<wsv1::RespondActivityTaskFailedRequest>(); break;
      case 2: request = std::make_unique<wsv1::RespondActivityTaskCompletedRequest>(); break;
      default: request = std::make_unique<wsv1::RecordActivityTaskHeartbeatRequest>(); break;
    }
    gen.Fill(*request, 3);
    std::string input(1, static_cast<char>(kind));
    input += request->SerializeAsString();
    if (gen.Chance(30) && input.size() > 1) input[1 + gen.Pick(static_cast<int>(input.size() - 1))] ^= 0x5a;
    // Aborts (failing this test binary) when something acknowledged does not read back.
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size()), 0);
  }
}

}  // namespace
}  // namespace kiln::cluster
