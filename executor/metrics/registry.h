// executor/metrics/registry.h — in-process metrics rendered in the Prometheus text exposition
// format (version 0.0.4): counters, gauges and fixed-bucket histograms, each in a labelled
// family, plus collectors (callbacks run at scrape time that report gauges read from other
// objects, e.g. GPU ledgers).
//
//   Registry            owns families; Render() produces the /metrics text
//   Family<T>           one metric name, its help text and label names; WithLabels(values)
//                       returns the child for one label set (created on first use)
//   Counter / Gauge / Histogram
//                       the children; updates are lock-free atomics
//
// Cost: WithLabels takes the family's mutex and looks the label values up; callers on a hot
// path resolve their label set once and keep the returned reference (children live as long as
// the registry and never move). Inc/Set/Observe are a few atomic operations.
//
// Thread safety: everything may be called from any thread. Collectors run on the thread that
// calls Render(), outside the registry's own lock, and must not block for long.
//
//   auto registry = std::make_shared<kiln::executor::metrics::Registry>();
//   auto& done = registry->AddCounter("jobs_done", "Jobs finished.", {"queue"});
//   metrics::Counter& gpu_done = done.WithLabels({"gpu"});   // resolve once
//   gpu_done.Inc();                                            // hot path
//   registry->AddCollector([&](metrics::SampleWriter& out) {
//     out.Gauge("queue_depth", "Jobs waiting.", {{"queue", "gpu"}}, queue.size());
//   });
//   std::string text = registry->Render();
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace kiln::executor::metrics {

// A label set in declaration order: {{"task_queue", "q"}, {"activity_type", "echo"}}.
using LabelPairs = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { kCounter, kGauge, kHistogram };
const char* MetricTypeName(MetricType type);  // "counter", "gauge", "histogram"

// A monotonically increasing value.
class Counter {
 public:
  void Inc(double amount = 1.0);  // amount < 0 is ignored (a counter never goes down)
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket (not cumulative), bounds().size() + 1 entries; the last is the +Inf bucket.
  std::vector<uint64_t> BucketCounts() const;
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Latency buckets in seconds, from 1 ms to 1 h.
const std::vector<double>& DefaultLatencyBuckets();

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Appends the family's samples (without HELP/TYPE lines) to `out`.
  virtual void RenderSamples(std::string& out) const = 0;

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

template <typename T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> labels,
         std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), type, std::move(labels)),
        bounds_(std::move(bounds)) {}

  // The child for `values` (one per label name, same order). A wrong number of values is a
  // programming error: the process aborts with a message naming the metric.
  T& WithLabels(const std::vector<std::string>& values);

  void RenderSamples(std::string& out) const override;

 private:
  const std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

// Where collectors write the samples they read at scrape time. Only gauges (the values are
// read from elsewhere); samples of one name must all use the same help text.
class SampleWriter {
 public:
  void Gauge(std::string_view name, std::string_view help, const LabelPairs& labels,
             double value);

 private:
  friend class Registry;
  struct Sample {
    std::string help;
    LabelPairs labels;
    double value;
  };
  std::map<std::string, std::vector<Sample>, std::less<>> samples_;
};

class Registry {
 public:
  using Collector = std::function<void(SampleWriter&)>;

  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Declares a family, or returns the existing one of that name. Re-declaring a name with
  // another type or other label names is a programming error (aborts). Names must match
  // [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*.
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              const std::vector<std::string>& label_names);
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          const std::vector<std::string>& label_names);
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  const std::vector<std::string>& label_names,
                                  const std::vector<double>& bounds = DefaultLatencyBuckets());

  // Runs `collector` at every Render(). Returns an id for RemoveCollector.
  int AddCollector(Collector collector);
  // After it returns the collector is not running and will not run again.
  void RemoveCollector(int id);

  // The whole exposition text: families sorted by name, each with # HELP and # TYPE lines.
  std::string Render() const;

 private:
  template <typename T>
  Family<T>& Add(const std::string& name, const std::string& help, MetricType type,
                 const std::vector<std::string>& label_names, const std::vector<double>& bounds);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  // Held while collectors run, so RemoveCollector can wait for a running one.
  mutable std::mutex collect_mu_;
  std::map<int, Collector> collectors_ ABSL_GUARDED_BY(collect_mu_);
  int next_collector_id_ ABSL_GUARDED_BY(collect_mu_) = 1;
};

// Text-format helpers (exposed for tests and for the server).
// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);
// Escapes HELP text: backslash and newline.
std::string EscapeHelp(std::string_view help);
// A sample value: integers without a fraction, "+Inf", "-Inf", "NaN", otherwise shortest exact.
std::string FormatValue(double value);

}  // namespace kiln::executor::metrics
