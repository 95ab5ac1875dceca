#include "routing/session_slots.h"

#include <algorithm>
#include <utility>

#include "client/session.h"
#include "routing/fixed_slot_supplier.h"

namespace kiln::routing {

SessionSlots::SessionSlots(SessionOptions options)
    : options_(options),
      slots_(std::make_unique<FixedSlotSupplier>(std::max(1, options.max_concurrent_sessions))) {}

std::unique_ptr<ActivityPoller> SessionSlots::MakePoller(const std::string& logical,
                                                         PollerDeps deps,
                                                         std::string worker_instance_key,
                                                         std::string build_id,
                                                         ActivityPoller::TaskHandler handler) {
  const std::string queue = client::SessionCreationQueue(logical);
  {
    absl::MutexLock lock(&mu_);
    logical_by_creation_queue_[queue] = logical;
  }
  deps.slots = slots_.get();
  PollerOptions options{.slot_request = {.task_queue = queue},
                        .pollers = std::max(1, std::min(options_.pollers,
                                                        options_.max_concurrent_sessions)),
                        .worker_instance_key = std::move(worker_instance_key),
                        .build_id = std::move(build_id)};
  return std::make_unique<ActivityPoller>(deps, std::move(options), std::move(handler));
}

std::string SessionSlots::LogicalQueueOf(const std::string& creation_queue) const {
  absl::MutexLock lock(&mu_);
  auto it = logical_by_creation_queue_.find(creation_queue);
  return it == logical_by_creation_queue_.end() ? std::string() : it->second;
}

}  // namespace kiln::routing
