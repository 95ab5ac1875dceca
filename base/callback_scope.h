// base/callback_scope.h — `CallbackScope`: the lifetime of an object that hands callbacks of its
// own to others (an RPC's answer, a timer, work posted to an executor), so that the object can
// be owned by value or std::unique_ptr and still be destroyed while some of those callbacks are
// pending. Every such callback carries a Guard and enters the object only through Guard::Run:
//
//   Counted()    for a callback that someone has promised to call or destroy (an RPC's answer,
//                a slot reservation): it counts as outstanding until every copy of it is
//                destroyed, and WaitIdle() waits for it. Shutdown waits for the last answer so.
//   Uncounted()  for a callback that may wait forever or never run (a timer, work on an executor
//                the object does not own, activity code's heartbeat sink): not counted.
//   Close()      the owner's destructor calls it first: from then on Guard::Run() runs nothing
//                and returns false, and Close() returns once no callback is inside Run().
//
// So a callback never runs on a destroyed object, and the destructor never waits for a callback
// that may not come. What outlives the owner is the scope's small shared state that the guards
// hold, never the owner itself.
//
// Thread safety: all methods from any thread. Close() must not be called from inside a callback
// of the same scope (it would wait for itself).
//
//   class Reporter {
//    public:
//     ~Reporter() { scope_.Close(); }   // first: no callback runs on a half-destroyed object
//     void Send(Request r) {
//       client_.Respond(r, [this, guard = scope_.Counted()](absl::Status s) {
//         guard.Run([&] { OnAnswer(s); });
//       });
//     }
//     bool WaitIdle(absl::Duration timeout) { return scope_.WaitIdle(timeout); }
//    private:
//     base::CallbackScope scope_;   // declared last
//   };
#pragma once

#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kiln::base {

class CallbackScope {
 private:
  // Shared by the scope and its guards; outlives the owner while guards live.
  struct State {
    absl::Mutex mu;
    bool closed ABSL_GUARDED_BY(mu) = false;
    int running ABSL_GUARDED_BY(mu) = 0;      // callbacks inside Guard::Run
    int outstanding ABSL_GUARDED_BY(mu) = 0;  // counted guards alive

    bool Enter();
    void Exit();
  };
  // Held (shared) by the copies of one counted guard; its destructor ends the count.
  struct Ticket {
    explicit Ticket(std::shared_ptr<State> s) : state(std::move(s)) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();
    const std::shared_ptr<State> state;
  };

 public:
  // What a callback carries. Copyable (std::function needs it); an empty one never runs.
  class Guard {
   public:
    Guard() = default;

    // Runs `fn()` unless the scope was closed; true when it ran. The owner is not destroyed
    // while `fn` runs.
    template <typename F>
    bool Run(F&& fn) const {
      if (state_ == nullptr || !state_->Enter()) return false;
      struct Exit {
        State* state;
        ~Exit() { state->Exit(); }
      } exit{state_.get()};
      std::forward<F>(fn)();
      return true;
    }

    // True while the scope is open: a hint for skipping work not worth starting (it may close
    // right after).
    bool open() const;

   private:
    friend class CallbackScope;
    Guard(std::shared_ptr<State> state, std::shared_ptr<Ticket> ticket)
        : state_(std::move(state)), ticket_(std::move(ticket)) {}

    std::shared_ptr<State> state_;
    std::shared_ptr<Ticket> ticket_;  // counted guards only
  };

  CallbackScope() = default;
  ~CallbackScope() { Close(); }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

  // A guard counted in Outstanding() until every copy of it is destroyed (after its callback ran,
  // or when the caller dropped it unrun).
  Guard Counted();
  // A guard that is not counted.
  Guard Uncounted() const { return Guard(state_, nullptr); }

  // Counted guards alive.
  int Outstanding() const;
  // Waits (real time) until Outstanding() is 0; true when it is.
  bool WaitIdle(absl::Duration timeout);
  // From now on no callback runs; returns when none is running. Idempotent.
  void Close();
  bool closed() const;

 private:
  const std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace kiln::base
