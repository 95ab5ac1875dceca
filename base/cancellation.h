// base/cancellation.h — `CancellationSource` / `CancellationToken`: one-shot, thread-safe
// cancellation with a reason and callbacks.
//
// Thread safety: all methods may be called from any thread. Callbacks run exactly once, either
// on the thread that calls Cancel() or, when registered after cancellation, at once on the
// registering thread. Callbacks must not block.
//
//   kiln::base::CancellationSource source;
//   kiln::base::CancellationToken token = source.Token();
//   auto reg = token.OnCancel([](const std::string& why) { spdlog::info("cancelled: {}", why); });
//   source.Cancel("activity cancel requested");   // runs the callback; token.IsCancelled() is true
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace kiln::base {

namespace internal {
struct CancellationState;
}

// Unregisters its callback when destroyed (or when Reset() is called). Move-only.
class CancellationRegistration {
 public:
  CancellationRegistration() = default;
  CancellationRegistration(std::weak_ptr<internal::CancellationState> state, uint64_t id)
      : state_(std::move(state)), id_(id) {}
  CancellationRegistration(CancellationRegistration&& other) noexcept { *this = std::move(other); }
  CancellationRegistration& operator=(CancellationRegistration&& other) noexcept;
  CancellationRegistration(const CancellationRegistration&) = delete;
  CancellationRegistration& operator=(const CancellationRegistration&) = delete;
  ~CancellationRegistration() { Reset(); }
  void Reset();

 private:
  std::weak_ptr<internal::CancellationState> state_;
  uint64_t id_ = 0;
};

// The observing side. Cheap to copy; a default-constructed token is never cancelled.
class CancellationToken {
 public:
  CancellationToken() = default;
  bool IsCancelled() const;
  // The reason given to Cancel(), if cancelled.
  std::optional<std::string> Reason() const;
  // Runs `cb(reason)` once on cancellation (at once if already cancelled).
  [[nodiscard]] CancellationRegistration OnCancel(std::function<void(const std::string&)> cb) const;

 private:
  friend class CancellationSource;
  explicit CancellationToken(std::shared_ptr<internal::CancellationState> s) : state_(std::move(s)) {}
  std::shared_ptr<internal::CancellationState> state_;
};

// The controlling side.
class CancellationSource {
 public:
  CancellationSource();
  CancellationToken Token() const { return token_; }
  // The source's own token, for a holder that hands out a reference rather than a copy.
  const CancellationToken& token() const { return token_; }
  // Cancels with `reason`. Returns true for the call that cancelled, false if already cancelled.
  bool Cancel(const std::string& reason);
  bool IsCancelled() const { return token_.IsCancelled(); }

 private:
  // The shared state, held as a token: a holder needing both a source and a token (an
  // activity's context) keeps one pointer to it, not two.
  CancellationToken token_;
};

}  // namespace kiln::base
