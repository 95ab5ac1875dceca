#include "executor/activity_registry.h"

#include <algorithm>

namespace kiln::executor {

namespace internal {

ActivityFunction FutureForm(ContinuedActivityFunction continued) {
  return [continued = std::move(continued)](ActivityContext& ctx,
                                            const payload::Payloads& input) {
    ActivityPromise<payload::Payloads> promise;
    continued(ctx, input, [promise](ActivityOutcome outcome) mutable {
      if (outcome.error) {
        promise.SetError(outcome.error);
      } else {
        promise.SetValue(std::move(*outcome.value));
      }
    });
    return promise.GetFuture();
  };
}

ContinuedActivityFunction ContinuedForm(ActivityFunction fn) {
  return [fn = std::move(fn)](ActivityContext& ctx, const payload::Payloads& input,
                              OutcomeCallback done) {
    ActivityFuture<payload::Payloads> future;
    try {
      future = fn(ctx, input);
    } catch (...) {
      ActivityOutcome failed;
      failed.error = std::current_exception();
      return done(std::move(failed));
    }
    future.Then(std::move(done));
  };
}

}  // namespace internal

absl::Status ActivityRegistry::RegisterRaw(std::string name, RawActivityFunction fn,
                                           ActivityOptions options) {
  return Add(
      std::move(name),
      [fn = std::move(fn)](ActivityContext& ctx, const payload::Payloads& input) {
        return ActivityFuture<payload::Payloads>::FromValue(fn(ctx, input));
      },
      options, /*asynchronous=*/false);
}

absl::Status ActivityRegistry::RegisterRawAsync(std::string name, ActivityFunction fn,
                                                ActivityOptions options) {
  return Add(std::move(name), std::move(fn), options, /*asynchronous=*/true,
             /*reads_input_later=*/true);
}

absl::Status ActivityRegistry::Add(std::string name, ActivityFunction fn,
                                   ActivityOptions options, bool asynchronous,
                                   bool reads_input_later, ContinuedActivityFunction continued) {
  if (name.empty()) return absl::InvalidArgumentError("an activity type name must not be empty");
  if (!fn) return absl::InvalidArgumentError("activity '" + name + "' has no function");
  if (!continued) continued = internal::ContinuedForm(fn);
  absl::MutexLock lock(&mu_);
  if (definitions_.count(name) != 0) {
    return absl::AlreadyExistsError("activity type '" + name +
                                    "' is already registered; each name maps to one function");
  }
  auto def = std::make_shared<ActivityDefinition>(
      ActivityDefinition{name, std::move(fn), options.needs, options.non_blocking, asynchronous,
                         reads_input_later, std::move(continued)});
  definitions_.emplace(std::move(name), std::move(def));
  return absl::OkStatus();
}

std::shared_ptr<const ActivityDefinition> ActivityRegistry::Find(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = definitions_.find(name);
  return it == definitions_.end() ? nullptr : it->second;
}

std::vector<std::string> ActivityRegistry::Names() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> names;
  for (const auto& [name, def] : definitions_) names.push_back(name);
  return names;
}

int64_t ActivityRegistry::MaxGpuMemoryBytes() const {
  absl::MutexLock lock(&mu_);
  int64_t max = 0;
  for (const auto& [name, def] : definitions_) {
    if (def->needs.needs_gpu() && !def->needs.multi_gpu()) {
      max = std::max(max, def->needs.gpu_memory_bytes);
    }
  }
  return max;
}

std::optional<routing::ResourceNeeds> ActivityRegistry::DeviceSetNeeds(int gpus) const {
  absl::MutexLock lock(&mu_);
  std::optional<routing::ResourceNeeds> needs;
  for (const auto& [name, def] : definitions_) {
    if (!def->needs.needs_gpu() || def->needs.gpus != gpus) continue;
    if (!needs) needs = routing::ResourceNeeds::Gpus(gpus, 0);
    needs->gpu_memory_bytes = std::max(needs->gpu_memory_bytes, def->needs.gpu_memory_bytes);
    needs->interconnect = std::max(needs->interconnect, def->needs.interconnect);
  }
  return needs;
}

std::vector<std::string> ActivityRegistry::GpuActivityNames() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> names;
  for (const auto& [name, def] : definitions_) {
    if (def->needs.needs_gpu()) names.push_back(name);
  }
  return names;
}

}  // namespace kiln::executor
