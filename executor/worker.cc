#include "executor/worker.h"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <random>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "routing/activity_poller.h"
#include "executor/arena_executor.h"
#include "executor/gpu_worker_runtime.h"
#include "executor/internal/build_id_check.h"
#include "routing/fixed_slot_supplier.h"
#include "routing/poll_outage.h"
#include "routing/rate_limiter.h"
#include "executor/session_worker.h"
#include "spdlog/spdlog.h"

namespace kiln::executor {

namespace wsv1 = ::temporal::api::workflowservice::v1;

namespace {

// A random (version 4) UUID: each Worker Entity's worker_instance_key.
std::string NewUuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                         lo >> 48, lo & 0xffffffffffffULL);
}

// Waits for one asynchronous client call.
template <typename T>
absl::StatusOr<T> Await(const std::function<void(client::Callback<T>)>& call,
                        absl::Duration timeout) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<T>>>();
  std::future<absl::StatusOr<T>> future = promise->get_future();
  call([promise](absl::StatusOr<T> result) { promise->set_value(std::move(result)); });
  if (future.wait_for(absl::ToChronoNanoseconds(timeout)) != std::future_status::ready) {
    return absl::DeadlineExceededError(
        absl::StrFormat("no answer within %s", absl::FormatDuration(timeout)));
  }
  return future.get();
}

}  // namespace

Worker::Worker(std::shared_ptr<client::TemporalClient> client, WorkerOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  if (options_.timers) {
    timers_ = options_.timers.get();
  } else {
    own_timers_ = std::make_unique<base::ThreadTimerQueue>();
    timers_ = own_timers_.get();
  }
  if (options_.executor) {
    executor_ = options_.executor.get();
  } else {
    own_executor_ = std::make_unique<ArenaExecutor>(options_.max_concurrent_activities);
    executor_ = own_executor_.get();
  }
  // The queue plan, built once. Names are checked before any device discovery, so a bad name
  // is reported alone rather than after the GPU discovery output.
  const routing::QueuePlanOptions plan_options{.logical_queues = options_.task_queues,
                                               .host_id = options_.host_id};
  std::vector<std::shared_ptr<const routing::QueueContributor>> contributors =
      options_.queue_contributors;
  if (contributors.empty()) {
    contributors.push_back(std::make_shared<routing::CpuQueueContributor>());
  }
  init_error_ = routing::QueuePlan::Build(plan_options, {}).status();
  if (init_error_.ok() && options_.gpus) {
    absl::StatusOr<std::unique_ptr<GpuWorkerRuntime>> gpus =
        GpuWorkerRuntime::Create(*options_.gpus, options_.max_concurrent_activities);
    if (gpus.ok()) {
      gpus_ = *std::move(gpus);
      if (gpus_->queue_contributor()) contributors.push_back(gpus_->queue_contributor());
    } else {
      init_error_ = gpus.status();
    }
  }
  if (init_error_.ok()) {
    absl::StatusOr<routing::QueuePlan> plan = routing::QueuePlan::Build(plan_options, contributors);
    if (plan.ok()) {
      plan_ = *std::move(plan);
      if (gpus_) gpus_->UsePlan(*plan_);
    } else {
      init_error_ = plan.status();
    }
  }
  if (init_error_.ok() && options_.use_versioning && options_.build_id.empty()) {
    init_error_ = absl::InvalidArgumentError(
        "use_versioning (--use-versioning) needs a build id (--build-id): a versioned worker "
        "receives only the tasks assigned to its build id");
  }
  if (options_.slot_supplier) {
    slot_supplier_ = options_.slot_supplier.get();
  } else if (gpus_ && gpus_->slots()) {
    slot_supplier_ = gpus_->slots().get();
  } else {
    own_slots_ = std::make_unique<routing::FixedSlotSupplier>(options_.max_concurrent_activities);
    slot_supplier_ = own_slots_.get();
  }
  converter_ = options_.data_converter ? options_.data_converter
                                       : std::make_shared<const payload::DataConverter>();
  outage_ = std::make_unique<routing::PollOutage>(timers_->clock());
  if (options_.max_activities_per_second > 0) {
    rate_limiter_ = std::make_unique<routing::RateLimiter>(timers_->clock(),
                                                           options_.max_activities_per_second);
  }
  if (options_.metrics) {
    metrics_ = std::make_shared<metrics::WorkerMetrics>(options_.metrics, client_->Namespace());
    if (gpus_) {
      gpus_->ExportMetrics(options_.metrics, options_.host_id.empty() ? routing::DefaultHostId()
                                                                      : options_.host_id);
    }
    // Slot gauges are read at scrape time, one series per logical task queue: the queues share
    // the worker's slots, so `available` is the pool's; `used` counts the queue's own polls and
    // running activities, over all its task queues (Q, Q@H, Q@H/gpuN, ...). The destructor
    // removes the collector (which waits for a scrape in progress) before the supplier goes.
    routing::SlotSupplier* slots = slot_supplier_;
    std::string ns = client_->Namespace();
    std::map<std::string, std::vector<std::string>> queues;  // logical -> task queues polled
    for (const std::string& logical : options_.task_queues) queues[logical];
    if (plan_) {
      for (const routing::PlannedQueue& q : plan_->queues()) queues[q.logical].push_back(q.name);
    }
    slots_collector_ = options_.metrics->AddCollector(
        [slots, ns, queues, wm = metrics_.get()](metrics::SampleWriter& out) {
          routing::SlotSnapshot snapshot = slots->Snapshot();
          for (const auto& [logical, names] : queues) {
            int used = 0;
            for (const std::string& name : names) {
              used += wm->RunningIn(name) + wm->PollsOutstanding(name);
            }
            metrics::LabelPairs labels = {
                {"namespace", ns}, {"task_queue", logical}, {"worker_type", "ActivityWorker"}};
            out.Gauge(metrics::kWorkerTaskSlotsAvailable,
                      "Activity slots free now (the worker's pool, shared by its task queues).",
                      labels, snapshot.available);
            out.Gauge(metrics::kWorkerTaskSlotsUsed,
                      "Activity slots taken now by the task queue (its running activities and "
                      "its polls waiting for a task).",
                      labels, used);
          }
        });
  }
  heartbeats_ =
      std::make_unique<HeartbeatThrottler>(*client_, *timers_, options_.heartbeat, metrics_);
  reporter_ = std::make_unique<CompletionReporter>(*client_, *timers_, ReporterOptions{}, metrics_);
  RunnerOptions runner_options = options_.runner;
  if (gpus_) gpus_->ConfigureRunner(runner_options);
  runner_ = std::make_unique<ActivityRunner>(
      RunnerDeps{&registry_, executor_, timers_, heartbeats_.get(), reporter_.get(), converter_,
                 metrics_},
      runner_options);
  if (gpus_) gpus_->Start(*runner_);
  if (options_.sessions.enabled) {
    sessions_ = std::make_unique<SessionWorker>(
        options_.sessions,
        options_.host_id.empty() ? routing::DefaultHostId() : options_.host_id, *timers_);
    session_error_ = sessions_->Register(registry_);
  }
}

Worker::~Worker() {
  Shutdown();
  if (gpus_) gpus_->Stop();  // no health event reaches the runner once it goes
  if (slots_collector_ != 0) options_.metrics->RemoveCollector(slots_collector_);
  // The parts go now, in reverse declaration order; each first closes its CallbackScope.
}

absl::Status Worker::CheckNeeds(const std::string& name,
                                const routing::ResourceNeeds& needs) const {
  if (!needs.needs_gpu() || options_.gpus || !options_.queue_contributors.empty()) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      "activity '" + name +
      "' declares GPU needs (ResourceNeeds::Gpu) but this worker serves no GPUs, so it would "
      "only ever run on the CPU queues without a device: set WorkerOptions::gpus "
      "(kiln::GpuOptions{} serves this host's devices, .simulate = \"1xH100:80:sm90\" simulated "
      "ones) or register it without GPU needs");
}

absl::Status Worker::CheckServer() {
  absl::StatusOr<wsv1::GetSystemInfoResponse> info = Await<wsv1::GetSystemInfoResponse>(
      [&](auto done) { client_->GetSystemInfo(std::move(done)); }, options_.rpc_timeout);
  if (info.ok()) {
    build_ids_supported_ = info->capabilities().build_id_based_versioning();
    spdlog::info("connected to Temporal frontend (server version '{}')", info->server_version());
  } else if (absl::IsUnimplemented(info.status())) {
    spdlog::warn("the server does not implement GetSystemInfo; assuming an older server");
  } else {
    std::string message(info.status().message());
    if (absl::IsUnauthenticated(info.status()) || absl::IsPermissionDenied(info.status())) {
      // The server answered: the credentials are what is wrong, not the address.
      return absl::Status(info.status().code(),
                          "the Temporal frontend refused this worker's credentials: " + message +
                              "; check the API key (--api-key / TEMPORAL_API_KEY) or the client "
                              "certificate (--tls-cert-path / TEMPORAL_TLS_CLIENT_CERT_PATH)");
    }
    // The channel's own UNAVAILABLE message already says what to do; other codes get the hint.
    if (message.find("TEMPORAL_ADDRESS") == std::string::npos) {
      message +=
          "; check the address (--address / TEMPORAL_ADDRESS) and that the server is running";
    }
    return absl::Status(info.status().code(), "cannot reach the Temporal frontend: " + message);
  }
  absl::StatusOr<wsv1::DescribeNamespaceResponse> ns = Await<wsv1::DescribeNamespaceResponse>(
      [&](auto done) { client_->DescribeNamespace(std::move(done)); }, options_.rpc_timeout);
  if (absl::IsNotFound(ns.status())) {
    return absl::NotFoundError("namespace '" + client_->Namespace() +
                               "' does not exist on the server; create it or choose another "
                               "(--namespace / TEMPORAL_NAMESPACE)");
  }
  if (!ns.ok() && !absl::IsUnimplemented(ns.status())) {
    return absl::Status(ns.status().code(), "DescribeNamespace '" + client_->Namespace() +
                                                "' failed: " + std::string(ns.status().message()));
  }
  return absl::OkStatus();
}

absl::Status Worker::Start() {
  if (started_) return absl::FailedPreconditionError("the worker was already started");
  if (!init_error_.ok()) return init_error_;
  if (registry_.Names().empty()) spdlog::warn("no activities registered; every task will fail");
  if (gpus_ && gpus_->devices().empty() && !registry_.GpuActivityNames().empty()) {
    // GPU serving is on but the host has no device (said once, at discovery): the activities
    // that declare GPU needs fall back to the CPU queues, said loudly.
    spdlog::warn("activities that declare GPU needs ({}) will run on the CPU queues, without a "
                 "device",
                 absl::StrJoin(registry_.GpuActivityNames(), ", "));
  }
  if (!session_error_.ok()) return session_error_;
  if (absl::Status s = CheckServer(); !s.ok()) return s;
  started_ = true;
  // Build-id version sets; a Worker Deployment version is versioned by its deployment options.
  const bool versioned =
      options_.use_versioning && build_ids_supported_ && options_.deployment_name.empty();
  if (options_.use_versioning && !build_ids_supported_ && options_.deployment_name.empty()) {
    spdlog::warn("the server does not support build-id versioning (GetSystemInfo capabilities), "
                 "so build id '{}' is not sent and this worker polls unversioned",
                 options_.build_id);
  }
  std::vector<std::string> versioned_queues;

  ActivityRunner* runner = runner_.get();  // outlives the pollers (declared before them)
  // A poll holds a slot, so one queue's autoscaled polls must not take every slot from the
  // other queues' (Q@H behind Q): each keeps at most its share of max_concurrent_activities out.
  routing::PollerAutoscaling autoscaling = options_.poller_autoscaling;
  const int planned = std::max(1, static_cast<int>(plan_->queues().size()));
  const int share = options_.max_concurrent_activities / planned;
  autoscaling.maximum = std::max(autoscaling.minimum, std::min(autoscaling.maximum, share));
  for (const routing::PlannedQueue& queue : plan_->queues()) {
    routing::SlotRequest request{.task_queue = queue.name, .device_index = queue.device_index};
    if (queue.kind == routing::QueueKind::kDevice || queue.kind == routing::QueueKind::kTag) {
      request.needs = routing::ResourceNeeds::Gpu(registry_.MaxGpuMemoryBytes());
    }
    if (queue.kind == routing::QueueKind::kDeviceSet) {
      // Q:gpusN polls only for activities that declare N devices (ResourceNeeds::Gpus).
      std::optional<routing::ResourceNeeds> needs = registry_.DeviceSetNeeds(queue.gpus);
      if (!needs) continue;
      if (queue.nvlink) needs->interconnect = routing::Interconnect::kNvlink;
      request.needs = *needs;
    }
    instance_keys_.push_back(NewUuid());
    routing::PollerOptions poller_options{
        .slot_request = request,
        .pollers = options_.pollers_per_queue,
        .autoscaling = options_.pollers_per_queue > 0
                           ? std::nullopt
                           : std::optional<routing::PollerAutoscaling>(autoscaling),
        .max_task_queue_activities_per_second = options_.max_task_queue_activities_per_second,
        .worker_instance_key = instance_keys_.back(),
        .build_id = build_ids_supported_ ? options_.build_id : "",
        .deployment_name = options_.deployment_name,
        .deployment_build_id = options_.build_id};
    // Q@H and Q@H/gpuN are this process's own queues: no other build polls them.
    const bool shared = queue.kind != routing::QueueKind::kHost &&
                        queue.kind != routing::QueueKind::kDevice;
    if (versioned && shared) {
      poller_options.use_versioning = true;
      versioned_queues.push_back(queue.name);
    }
    // A deployment version's polls are versioned on the shared queues by use_versioning alone,
    // whatever the server says of build-id version sets.
    if (!options_.deployment_name.empty()) {
      poller_options.use_versioning = options_.use_versioning && shared;
    }
    std::string name = queue.name;
    pollers_.push_back(std::make_unique<routing::ActivityPoller>(
        routing::PollerDeps{client_.get(), slot_supplier_, timers_, outage_.get(),
                            rate_limiter_.get(), metrics_},
        std::move(poller_options),
        [runner, name](wsv1::PollActivityTaskQueueResponse task, routing::SlotPermit permit) {
          runner->Run(std::move(task), name, std::move(permit));
        }));
  }
  if (sessions_) {
    for (const std::string& logical : options_.task_queues) {
      instance_keys_.push_back(NewUuid());
      pollers_.push_back(sessions_->MakePoller(
          logical,
          routing::PollerDeps{client_.get(), nullptr, timers_, outage_.get(), nullptr, metrics_},
          instance_keys_.back(), build_ids_supported_ ? options_.build_id : "", *runner));
    }
  }
  // Each task's outcome declares the worker's version as the poll that brought it did.
  std::vector<wsv1::PollActivityTaskQueueRequest> polls;
  for (auto& poller : pollers_) polls.push_back(poller->BuildRequest());
  reporter_->DeclareVersionsAsPolled(polls);
  for (auto& poller : pollers_) poller->Start();
  if (metrics_) {
    for (const std::string& logical : options_.task_queues) metrics_->CountWorkerStart(logical);
  }
  if (options_.metrics && !options_.build_id.empty()) {
    // The build id as a label of one series, as Prometheus' *_build_info convention has it, so
    // dashboards can join it onto this worker's other series.
    options_.metrics
        ->AddGauge("kiln_worker_build_info",
                   "1 for the build id this worker runs as (Worker Versioning).",
                   {"namespace", "build_id", "use_versioning"})
        .WithLabels({client_->Namespace(), options_.build_id, versioned ? "true" : "false"})
        .Set(1);
  }
  if (!versioned_queues.empty()) {
    build_id_check_ = std::make_unique<BuildIdCheck>(*client_, *timers_, options_.build_id,
                                                     versioned_queues);
    build_id_check_->Start();
  }
  std::string build;
  if (!options_.deployment_name.empty()) {
    build = " as Worker Deployment version '" + options_.deployment_name + "/" +
            options_.build_id + "'" + (options_.use_versioning ? " (versioned)" : " (unversioned)");
  } else if (build_ids_supported_ && !options_.build_id.empty()) {
    build = " as build id '" + options_.build_id + "'" +
            (versioned ? " (versioned on " + absl::StrJoin(versioned_queues, ", ") + ")"
                       : " (unversioned)");
  }
  spdlog::info("worker {} polling task queues [{}] in namespace '{}' with activities [{}]{}",
               client_->Identity(), absl::StrJoin(task_queues(), ", "), client_->Namespace(),
               absl::StrJoin(registry_.Names(), ", "), build);
  return absl::OkStatus();
}

std::vector<std::string> Worker::task_queues() const {
  if (pollers_.empty()) return plan_ ? plan_->Names() : std::vector<std::string>{};
  std::vector<std::string> names;
  for (const auto& poller : pollers_) names.push_back(poller->task_queue());
  return names;
}

bool Worker::polls_failing() const { return outage_ != nullptr && outage_->in_outage(); }

void Worker::Shutdown() {
  if (!started_ || shut_down_) return;
  shut_down_ = true;
  spdlog::info("worker shutting down: no new tasks; {} activities running", runner_->Running());
  for (auto& poller : pollers_) poller->Stop();
  build_id_check_.reset();
  // Open sessions would hold the grace period: end them now, so their clients see them failed.
  if (sessions_) sessions_->FailAll("the worker is shutting down");
  // Each poll's cancellation answer, late or not, is waited for: a task it brings still runs.
  for (auto& poller : pollers_) {
    if (!poller->WaitStopped(options_.rpc_timeout)) {
      spdlog::warn("polls of task queue '{}' did not end after cancellation",
                   poller->task_queue());
    }
  }
  bool abandoned = false;
  if (!runner_->WaitIdle(options_.graceful_shutdown_timeout)) {
    spdlog::warn("{} activities still running after the {} grace period; cancelling them",
                 runner_->Running(), absl::FormatDuration(options_.graceful_shutdown_timeout));
    runner_->CancelAll(CancelReason::kWorkerShutdown);
    if (!runner_->WaitIdle(options_.cancel_grace)) {
      runner_->AbandonAll();
      abandoned = true;
    }
  }
  // Every result's answer, up to the last callback (heartbeat answers are not waited for: the
  // activities have finished, so a late one is dropped by the throttler's scope).
  if (!reporter_->WaitIdle(options_.flush_timeout)) {
    spdlog::error("{} activity results not accepted by the server within {}; they are lost",
                  reporter_->Outstanding(), absl::FormatDuration(options_.flush_timeout));
  }
  ShutdownWorkerCalls();
  if (abandoned && own_executor_) {
    // Activity code that ignored its cancellation still occupies arena threads, and nothing can
    // stop a running C++ function from outside; destroying the arena must not wait for it
    // forever. Its body keeps running on its own (on the state its posted work owns, see
    // executor/activity_runner.h) until it returns or the process exits; what it returns is
    // dropped, since its failure was already reported. This is the one thing a Worker does not
    // wait for, and only after graceful_shutdown_timeout + cancel_grace.
    own_executor_->Abandon();
  }
  if (gpus_) gpus_->Stop();
  timers_->Shutdown();
  spdlog::info("worker shut down");
}

void Worker::ShutdownWorkerCalls() {
  for (size_t i = 0; i < pollers_.size(); ++i) {
    wsv1::ShutdownWorkerRequest request;
    request.set_namespace_(client_->Namespace());
    request.set_identity(client_->Identity());
    request.set_reason("graceful shutdown");
    request.set_worker_instance_key(instance_keys_[i]);
    request.set_task_queue(pollers_[i]->task_queue());
    request.add_task_queue_types(::temporal::api::enums::v1::TASK_QUEUE_TYPE_ACTIVITY);
    absl::StatusOr<wsv1::ShutdownWorkerResponse> answer = Await<wsv1::ShutdownWorkerResponse>(
        [&](auto done) { client_->ShutdownWorker(request, std::move(done)); },
        options_.rpc_timeout);
    if (!answer.ok() && !absl::IsUnimplemented(answer.status())) {
      spdlog::debug("ShutdownWorker for '{}' failed: {}", request.task_queue(),
                    answer.status().ToString());
    }
  }
}

absl::Status Worker::Run(std::stop_token stop) {
  if (absl::Status s = Start(); !s.ok()) return s;
  std::mutex mu;
  std::condition_variable_any stopped;
  std::unique_lock<std::mutex> lock(mu);
  stopped.wait(lock, stop, [] { return false; });
  lock.unlock();
  Shutdown();
  return absl::OkStatus();
}

}  // namespace kiln::executor
