// tests/unit/cluster/pending_answer.h — `Pending<T>`: one answer of an asynchronous engine call
// (a `Done<T>` callback), from whichever thread gives it, for the engine tests to wait on.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "cluster/engine.h"
#include "gtest/gtest.h"

namespace kiln::cluster {

template <typename T>
class Pending {
 public:
  Done<T> Callback() {
    return [p = promise_](absl::StatusOr<T> r) { p->set_value(std::move(r)); };
  }
  // Whether the answer came within `wait`.
  bool Answered(std::chrono::milliseconds wait = std::chrono::milliseconds(200)) const {
    return future_.wait_for(wait) == std::future_status::ready;
  }
  const absl::StatusOr<T>& Get() const {
    EXPECT_TRUE(Answered(std::chrono::seconds(10))) << "no answer";
    return future_.get();
  }

 private:
  std::shared_ptr<std::promise<absl::StatusOr<T>>> promise_ =
      std::make_shared<std::promise<absl::StatusOr<T>>>();
  std::shared_future<absl::StatusOr<T>> future_ = promise_->get_future().share();
};

}  // namespace kiln::cluster
