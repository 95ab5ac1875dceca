// A recording WorkflowService on 127.0.0.1:0 for client tests: it answers from scripted
// statuses, records each call's metadata, deadline and request, and holds long polls until
// cancelled or released.
#pragma once

#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpcpp/grpcpp.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace kiln::client::testing {

namespace wsv1 = ::temporal::api::workflowservice::v1;

// An address nothing listens on: a loopback port this process keeps bound, without listen(),
// until it exits. Connecting to it is refused at once, and no other process (or test) can take
// the port in between, as it could if the port were bound and released.
inline std::string DeadAddress() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::abort();  // no loopback socket: nothing in these tests can work
  }
  static std::mutex mu;
  static std::vector<int>* held = new std::vector<int>();  // closed by the exit of the process
  std::lock_guard<std::mutex> lock(mu);
  held->push_back(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

struct RecordedCall {
  std::string method;
  std::multimap<std::string, std::string> metadata;
  // Deadline minus arrival time; nullopt when the client sent none.
  std::optional<std::chrono::milliseconds> timeout;
  std::string request_id;  // for requests that carry one
  std::string namespace_name;

  std::string Header(const std::string& key) const {
    auto it = metadata.find(key);
    return it == metadata.end() ? "<absent>" : it->second;
  }
};

class FakeWorkflowService final : public wsv1::WorkflowService::Service {
 public:
  explicit FakeWorkflowService(
      std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials()) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", credentials, &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~FakeWorkflowService() override { Stop(); }

  void Stop() {
    if (server_) {
      ReleasePolls();
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
      server_->Wait();
      server_.reset();
    }
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // The next calls (of any method) fail with these statuses, in order.
  void FailNext(std::vector<grpc::Status> statuses) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : statuses) failures_.push_back(std::move(s));
  }
  void ReleasePolls() {
    std::lock_guard<std::mutex> lock(mu_);
    release_polls_ = true;
    cv_.notify_all();
  }
  std::vector<RecordedCall> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  bool WaitForCalls(size_t n, std::chrono::seconds within = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, within, [&] { return calls_.size() >= n; });
  }

  // Waits until exactly `n` task-queue polls are held open here at the same time.
  bool WaitForHeldPolls(int n, std::chrono::seconds within = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, within, [&] { return held_polls_ == n; });
  }
  int held_polls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return held_polls_;
  }

  grpc::Status GetSystemInfo(grpc::ServerContext* c, const wsv1::GetSystemInfoRequest*,
                             wsv1::GetSystemInfoResponse* r) override {
    r->set_server_version("fake-1.0");
    return Record(c, "GetSystemInfo", "", "");
  }
  grpc::Status DescribeNamespace(grpc::ServerContext* c, const wsv1::DescribeNamespaceRequest* q,
                                 wsv1::DescribeNamespaceResponse*) override {
    return Record(c, "DescribeNamespace", "", q->namespace_());
  }
  grpc::Status RespondActivityTaskCompleted(grpc::ServerContext* c,
                                            const wsv1::RespondActivityTaskCompletedRequest* q,
                                            wsv1::RespondActivityTaskCompletedResponse*) override {
    return Record(c, "RespondActivityTaskCompleted", "", q->namespace_());
  }
  grpc::Status StartActivityExecution(grpc::ServerContext* c,
                                      const wsv1::StartActivityExecutionRequest* q,
                                      wsv1::StartActivityExecutionResponse* r) override {
    r->set_run_id("run-1");
    r->set_started(true);
    last_start_ = *q;
    return Record(c, "StartActivityExecution", q->request_id(), q->namespace_());
  }
  grpc::Status PollActivityExecution(grpc::ServerContext* c,
                                     const wsv1::PollActivityExecutionRequest* q,
                                     wsv1::PollActivityExecutionResponse* r) override {
    grpc::Status status = Record(c, "PollActivityExecution", "", q->namespace_());
    r->set_run_id(q->run_id());
    // The first poll answers empty (still running); later ones carry a result.
    std::lock_guard<std::mutex> lock(mu_);
    if (++activity_polls_ > 1) r->mutable_outcome()->mutable_result()->add_payloads();
    return status;
  }
  grpc::Status PollActivityTaskQueue(grpc::ServerContext* c,
                                     const wsv1::PollActivityTaskQueueRequest* q,
                                     wsv1::PollActivityTaskQueueResponse* r) override {
    grpc::Status status = Record(c, "PollActivityTaskQueue", "", q->namespace_());
    if (!status.ok()) return status;
    std::unique_lock<std::mutex> lock(mu_);
    ++held_polls_;
    cv_.notify_all();
    while (!release_polls_ && !c->IsCancelled()) {
      cv_.wait_for(lock, std::chrono::milliseconds(20));
    }
    --held_polls_;
    if (c->IsCancelled()) return grpc::Status::CANCELLED;
    r->set_task_token("token-1");
    return grpc::Status::OK;
  }

  // Worker Deployments: Describe answers with the name asked for, List with one page of one
  // deployment; the Set calls' requests are kept.
  grpc::Status DescribeWorkerDeployment(grpc::ServerContext* c,
                                        const wsv1::DescribeWorkerDeploymentRequest* q,
                                        wsv1::DescribeWorkerDeploymentResponse* r) override {
    r->mutable_worker_deployment_info()->set_name(q->deployment_name());
    return Record(c, "DescribeWorkerDeployment", "", q->namespace_());
  }
  grpc::Status ListWorkerDeployments(grpc::ServerContext* c,
                                     const wsv1::ListWorkerDeploymentsRequest* q,
                                     wsv1::ListWorkerDeploymentsResponse* r) override {
    r->add_worker_deployments()->set_name("gpu-workers");
    return Record(c, "ListWorkerDeployments", "", q->namespace_());
  }
  grpc::Status SetWorkerDeploymentCurrentVersion(
      grpc::ServerContext* c, const wsv1::SetWorkerDeploymentCurrentVersionRequest* q,
      wsv1::SetWorkerDeploymentCurrentVersionResponse*) override {
    last_set_current_ = *q;
    return Record(c, "SetWorkerDeploymentCurrentVersion", "", q->namespace_());
  }
  grpc::Status SetWorkerDeploymentRampingVersion(
      grpc::ServerContext* c, const wsv1::SetWorkerDeploymentRampingVersionRequest* q,
      wsv1::SetWorkerDeploymentRampingVersionResponse*) override {
    last_set_ramping_ = *q;
    return Record(c, "SetWorkerDeploymentRampingVersion", "", q->namespace_());
  }

  wsv1::StartActivityExecutionRequest last_start_;
  wsv1::SetWorkerDeploymentCurrentVersionRequest last_set_current_;
  wsv1::SetWorkerDeploymentRampingVersionRequest last_set_ramping_;

 private:
  grpc::Status Record(grpc::ServerContext* c, const std::string& method,
                      const std::string& request_id, const std::string& ns) {
    RecordedCall call{method, {}, std::nullopt, request_id, ns};
    for (const auto& [k, v] : c->client_metadata()) {
      call.metadata.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
    }
    auto left = c->deadline() - std::chrono::system_clock::now();
    if (left < std::chrono::hours(24 * 365)) {
      call.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(left);
    }
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(call));
    cv_.notify_all();
    if (!failures_.empty()) {
      grpc::Status s = failures_.front();
      failures_.pop_front();
      return s;
    }
    return grpc::Status::OK;
  }

  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RecordedCall> calls_;
  std::deque<grpc::Status> failures_;
  bool release_polls_ = false;
  int activity_polls_ = 0;
  int held_polls_ = 0;  // task-queue polls waiting in PollActivityTaskQueue now
};

}  // namespace kiln::client::testing
