// cluster/effects.h — `Effects`: what the dev cluster's engine does once the writes it made under
// its lock are durable (answers, evictions), and `Done<T>`, how each of its calls answers.
//
// The engine changes state under its lock and collects effects; after releasing the lock it
// hands them to TaskStore::Sync, which runs each with the commit's status. So no answer reaches a
// caller before what it acknowledges is on disk.
//
// Thread safety: plain values; effects run on whichever thread completes the sync.
//
//   Effects effects;
//   effects.push_back(ReplyWhenDurable(std::move(done), response));
//   store.Sync([&](absl::Status s) { for (auto& effect : effects) effect(s); });
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kiln::cluster {

// The one answer of an engine call.
template <typename T>
using Done = std::function<void(absl::StatusOr<T>)>;

// Work to do once the writes made under the engine's lock are durable (or failed); each effect is
// run once.
using Effect = std::function<void(absl::Status)>;
using Effects = std::vector<Effect>;

// Answers `done` with `response` once durable, or with the store's error. Like every effect it
// runs once, so the response is moved into the answer, not copied.
template <typename T>
Effect ReplyWhenDurable(Done<T> done, T response) {
  return [done = std::move(done), response = std::move(response)](absl::Status s) mutable {
    s.ok() ? done(std::move(response)) : done(s);
  };
}

// Runs effects that wait for nothing durable (answers to polls that end without a write).
inline void RunNow(Effects& effects) {
  for (auto& effect : effects) effect(absl::OkStatus());
}

}  // namespace kiln::cluster
