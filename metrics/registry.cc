#include "metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "spdlog/spdlog.h"

namespace kiln::metrics {

namespace {

bool ValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

[[noreturn]] void Fatal(const std::string& message) {
  spdlog::critical("metrics: {}", message);
  std::fprintf(stderr, "metrics: %s\n", message.c_str());
  std::abort();
}

prometheus::MetricType PrometheusType(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return prometheus::MetricType::Counter;
    case MetricType::kGauge:
      return prometheus::MetricType::Gauge;
    case MetricType::kHistogram:
      return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

// prometheus-cpp keeps a child's labels in a std::map (sorted by name); put them back in the
// order the family declared them, as Kiln's exposition always had them.
void OrderLabels(prometheus::ClientMetric& metric, const std::vector<std::string>& names) {
  std::vector<prometheus::ClientMetric::Label> ordered;
  ordered.reserve(metric.label.size());
  for (const std::string& name : names) {
    for (const prometheus::ClientMetric::Label& label : metric.label) {
      if (label.name == name) ordered.push_back(label);
    }
  }
  metric.label = std::move(ordered);
}

std::vector<std::string> LabelValues(const prometheus::ClientMetric& metric) {
  std::vector<std::string> values;
  values.reserve(metric.label.size());
  for (const prometheus::ClientMetric::Label& label : metric.label) values.push_back(label.value);
  return values;
}

}  // namespace

const char* MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", value);
  // Prefer the shortest representation that reads back exactly.
  for (int precision = 1; precision < 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof(shorter), "%.*g", precision, value);
    if (std::strtod(shorter, nullptr) == value) return shorter;
  }
  return buf;
}

// prometheus::Counter::Increment ignores negative amounts already; NaN is dropped here too.
void Counter::Inc(double amount) {
  if (amount >= 0) impl_.Increment(amount);
}
double Counter::Value() const { return impl_.Value(); }

void Gauge::Set(double value) { impl_.Set(value); }
void Gauge::Add(double amount) { impl_.Increment(amount); }
double Gauge::Value() const { return impl_.Value(); }

void Histogram::Observe(double value) { impl_.Observe(value); }

const std::vector<double>& DefaultLatencyBuckets() {
  // Past an hour: training activities run for hours, and a histogram whose last finite bucket
  // is 1 h puts all of them in +Inf.
  static const std::vector<double> kBuckets = {
      0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,   1,     2.5,   5,
      10,    30,    60,   300,   900,  1800, 3600, 7200, 14400, 28800, 86400};
  return kBuckets;
}

template <typename T>
T& Family<T>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != label_names().size()) {
    Fatal(absl::StrCat(name(), " takes ", label_names().size(), " label values, got ",
                       values.size()));
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<T>& child = children_[values];
  if (!child) {
    prometheus::Labels labels;
    for (size_t i = 0; i < values.size(); ++i) labels.emplace(label_names()[i], values[i]);
    if constexpr (std::is_same_v<T, Histogram>) {
      child = std::make_unique<T>(
          impl_.Add(labels, prometheus::Histogram::BucketBoundaries(bounds_)));
    } else {
      child = std::make_unique<T>(impl_.Add(labels));
    }
  }
  return *child;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void SampleWriter::Gauge(std::string_view name, std::string_view help, const LabelPairs& labels,
                         double value) {
  auto it = samples_.find(name);
  if (it == samples_.end()) it = samples_.emplace(std::string(name), std::vector<Sample>{}).first;
  it->second.push_back(Sample{std::string(help), labels, value});
}

Registry::Registry() : impl_(std::make_shared<prometheus::Registry>()) {}
Registry::~Registry() = default;

template <typename T>
Family<T>& Registry::Add(const std::string& name, const std::string& help, MetricType type,
                         const std::vector<std::string>& label_names,
                         const std::vector<double>& bounds) {
  if (!ValidName(name, /*allow_colon=*/true)) Fatal("invalid metric name '" + name + "'");
  for (const std::string& label : label_names) {
    if (!ValidName(label, /*allow_colon=*/false) || label == "le") {
      Fatal("invalid label name '" + label + "' for " + name);
    }
  }
  if (!std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()) {
    Fatal("histogram bounds of " + name + " must be strictly ascending");
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<FamilyBase>& family = families_[name];
  if (!family) {
    prometheus::Family<typename T::Impl>* impl = nullptr;
    if constexpr (std::is_same_v<T, Counter>) {
      impl = &prometheus::BuildCounter().Name(name).Help(help).Register(*impl_);
    } else if constexpr (std::is_same_v<T, Gauge>) {
      impl = &prometheus::BuildGauge().Name(name).Help(help).Register(*impl_);
    } else {
      impl = &prometheus::BuildHistogram().Name(name).Help(help).Register(*impl_);
    }
    family = std::make_unique<Family<T>>(name, help, type, label_names, bounds, *impl);
  } else if (family->type() != type || family->label_names() != label_names) {
    Fatal("metric " + name + " declared twice with different types or labels");
  }
  return static_cast<Family<T>&>(*family);
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help,
                                      const std::vector<std::string>& label_names) {
  return Add<Counter>(name, help, MetricType::kCounter, label_names, {});
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help,
                                  const std::vector<std::string>& label_names) {
  return Add<Gauge>(name, help, MetricType::kGauge, label_names, {});
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          const std::vector<std::string>& label_names,
                                          const std::vector<double>& bounds) {
  return Add<Histogram>(name, help, MetricType::kHistogram, label_names, bounds);
}

int Registry::AddCollector(Collector collector) {
  absl::MutexLock lock(&collect_mu_);
  int id = next_collector_id_++;
  collectors_.emplace(id, std::move(collector));
  return id;
}

void Registry::RemoveCollector(int id) {
  absl::MutexLock lock(&collect_mu_);
  collectors_.erase(id);
}

std::string Registry::Render() const {
  SampleWriter collected;
  {
    absl::MutexLock lock(&collect_mu_);
    for (const auto& [id, collector] : collectors_) collector(collected);
  }
  // Declared families first (with their label order), so that one without children still shows
  // its # HELP / # TYPE lines; prometheus-cpp leaves those out of Collect().
  std::map<std::string, prometheus::MetricFamily> families;
  std::map<std::string, std::vector<std::string>> label_names;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, family] : families_) {
      families[name] = prometheus::MetricFamily{name, family->help(),
                                                PrometheusType(family->type()), {}};
      label_names[name] = family->label_names();
    }
  }
  for (prometheus::MetricFamily& family : impl_->Collect()) {
    auto it = families.find(family.name);
    if (it == families.end()) continue;  // declared after the snapshot above
    for (prometheus::ClientMetric& metric : family.metric) {
      OrderLabels(metric, label_names[family.name]);
    }
    it->second.metric = std::move(family.metric);
  }
  for (const auto& [name, samples] : collected.samples_) {
    prometheus::MetricFamily family{name, samples.front().help, prometheus::MetricType::Gauge, {}};
    for (const SampleWriter::Sample& sample : samples) {
      prometheus::ClientMetric metric;
      for (const auto& [label, value] : sample.labels) metric.label.push_back({label, value});
      metric.gauge.value = sample.value;
      family.metric.push_back(std::move(metric));
    }
    families.emplace(name, std::move(family));
  }
  std::vector<prometheus::MetricFamily> ordered;
  ordered.reserve(families.size());
  for (auto& [name, family] : families) {
    // prometheus-cpp 1.0 writes help text as given; the format wants backslash and newline
    // escaped.
    family.help = EscapeHelp(family.help);
    // Children in label-value order (prometheus-cpp's are in hash order), stable between scrapes.
    std::stable_sort(family.metric.begin(), family.metric.end(),
                     [](const prometheus::ClientMetric& a, const prometheus::ClientMetric& b) {
                       return LabelValues(a) < LabelValues(b);
                     });
    ordered.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(ordered);
}

}  // namespace kiln::metrics
