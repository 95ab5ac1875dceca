// metrics/registry.h — in-process metrics rendered in the Prometheus text exposition format
// (version 0.0.4): counters, gauges and fixed-bucket histograms, each in a labelled family, plus
// collectors (callbacks run at scrape time that report gauges read from other objects, e.g. GPU
// ledgers). Built on prometheus-cpp (its core registry and TextSerializer), which stays private to
// this target: the classes here are Kiln's names for its metrics.
//
//   Registry            owns families; Render() produces the /metrics text
//   Family<T>           one metric name, its help text and label names; WithLabels(values)
//                       returns the child for one label set (created on first use)
//   Counter / Gauge / Histogram
//                       the children; counters and gauges are lock-free atomics, a histogram
//                       observation takes prometheus-cpp's per-child mutex
//
// What Render() adds to prometheus-cpp's text: families in name order, each child's labels in
// the order the family declared them, children in label-value order, declared families without
// children as their # HELP / # TYPE lines, and escaped help text.
//
// Cost: WithLabels takes the family's mutex and looks the label values up; callers on a hot
// path resolve their label set once and keep the returned reference (children live as long as
// the registry and never move). docs/METRICS.md has the measured cost of Inc/Observe.
//
// Thread safety: everything may be called from any thread. Collectors run on the thread that
// calls Render(), outside the registry's own lock, and must not block for long.
//
//   auto registry = std::make_shared<kiln::metrics::Registry>();
//   auto& done = registry->AddCounter("jobs_done", "Jobs finished.", {"queue"});
//   metrics::Counter& gpu_done = done.WithLabels({"gpu"});   // resolve once
//   gpu_done.Inc();                                            // hot path
//   registry->AddCollector([&](metrics::SampleWriter& out) {
//     out.Gauge("queue_depth", "Jobs waiting.", {{"queue", "gpu"}}, queue.size());
//   });
//   std::string text = registry->Render();
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace kiln::metrics {

// A label set in declaration order: {{"task_queue", "q"}, {"activity_type", "echo"}}.
using LabelPairs = std::vector<std::pair<std::string, std::string>>;

enum class MetricType { kCounter, kGauge, kHistogram };
const char* MetricTypeName(MetricType type);  // "counter", "gauge", "histogram"

// A monotonically increasing value.
class Counter {
 public:
  using Impl = prometheus::Counter;
  explicit Counter(Impl& impl) : impl_(impl) {}
  void Inc(double amount = 1.0);  // amount < 0 is ignored (a counter never goes down)
  double Value() const;

 private:
  Impl& impl_;
};

// A value that goes up and down.
class Gauge {
 public:
  using Impl = prometheus::Gauge;
  explicit Gauge(Impl& impl) : impl_(impl) {}
  void Set(double value);
  void Add(double amount);
  double Value() const;

 private:
  Impl& impl_;
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is implicit).
class Histogram {
 public:
  using Impl = prometheus::Histogram;
  explicit Histogram(Impl& impl) : impl_(impl) {}
  void Observe(double value);

 private:
  Impl& impl_;
};

// Latency buckets in seconds, from 1 ms to 24 h (2 h, 4 h and 8 h among them).
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

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

template <typename T>
class Family final : public FamilyBase {
 public:
  // Made by Registry; `impl` is the prometheus-cpp family of the same name in its registry.
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> labels,
         std::vector<double> bounds, prometheus::Family<typename T::Impl>& impl)
      : FamilyBase(std::move(name), std::move(help), type, std::move(labels)),
        bounds_(std::move(bounds)),
        impl_(impl) {}

  // The child for `values` (one per label name, same order). A wrong number of values is a
  // programming error: the process aborts with a message naming the metric.
  T& WithLabels(const std::vector<std::string>& values);

 private:
  const std::vector<double> bounds_;  // histograms only
  prometheus::Family<typename T::Impl>& impl_;
  absl::Mutex mu_;
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

  Registry();
  ~Registry();
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

  const std::shared_ptr<prometheus::Registry> impl_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  // Held while collectors run, so RemoveCollector can wait for a running one.
  mutable absl::Mutex collect_mu_;
  std::map<int, Collector> collectors_ ABSL_GUARDED_BY(collect_mu_);
  int next_collector_id_ ABSL_GUARDED_BY(collect_mu_) = 1;
};

// Text-format helpers (exposed for tests).
// Escapes HELP text: backslash and newline.
std::string EscapeHelp(std::string_view help);
// A sample value: integers without a fraction, "+Inf", "-Inf", "NaN", otherwise shortest exact.
std::string FormatValue(double value);

}  // namespace kiln::metrics
