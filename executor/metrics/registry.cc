#include "executor/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace kiln::executor::metrics {

namespace {

void AppendOne(std::string& out, std::string_view part) { out.append(part.data(), part.size()); }
void AppendOne(std::string& out, uint64_t number) { out += std::to_string(number); }

template <typename... Parts>
void Append(std::string& out, const Parts&... parts) {
  (AppendOne(out, parts), ...);
}

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

// Appends `{a="x",b="y"}` (or nothing for no labels); `extra` is appended last (le="...").
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values,
                  const std::pair<std::string_view, std::string>* extra = nullptr) {
  if (names.empty() && extra == nullptr) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    Append(out, names[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  if (extra != nullptr) {
    if (!first) out += ',';
    Append(out, extra->first, "=\"", EscapeLabelValue(extra->second), "\"");
  }
  out += '}';
}

void AppendHeader(std::string& out, std::string_view name, std::string_view help,
                  MetricType type) {
  Append(out, "# HELP ", name, " ", EscapeHelp(help), "\n# TYPE ", name, " ",
                  MetricTypeName(type), "\n");
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

namespace {

// The text format escapes backslash and newline everywhere, and '"' inside label values only.
std::string Escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) { return Escape(value, /*quotes=*/true); }

std::string EscapeHelp(std::string_view help) { return Escape(help, /*quotes=*/false); }

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

void Counter::Inc(double amount) {
  if (!(amount >= 0)) return;
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  // First bucket whose upper bound is >= value (Prometheus buckets are "less or equal").
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> counts(bounds_.size() + 1);
  for (size_t i = 0; i < counts.size(); ++i) {
    counts[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  return counts;
}

const std::vector<double>& DefaultLatencyBuckets() {
  static const std::vector<double> kBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                               1,     2.5,   5,    10,    30,   60,  300, 900,
                                               3600};
  return kBuckets;
}

template <typename T>
T& Family<T>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != label_names().size()) {
    Fatal(absl::StrCat(name(), " takes ", label_names().size(), " label values, got ",
                       values.size()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<T>& child = children_[values];
  if (!child) {
    if constexpr (std::is_same_v<T, Histogram>) {
      child = std::make_unique<Histogram>(bounds_);
    } else {
      child = std::make_unique<T>();
    }
  }
  return *child;
}

template <typename T>
void Family<T>::RenderSamples(std::string& out) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<T, Histogram>) {
      std::vector<uint64_t> counts = child->BucketCounts();
      uint64_t cumulative = 0;
      for (size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        std::pair<std::string_view, std::string> le{
            "le", i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf"};
        Append(out, name(), "_bucket");
        AppendLabels(out, label_names(), values, &le);
        Append(out, " ", cumulative, "\n");
      }
      Append(out, name(), "_sum");
      AppendLabels(out, label_names(), values);
      Append(out, " ", FormatValue(child->Sum()), "\n");
      Append(out, name(), "_count");
      AppendLabels(out, label_names(), values);
      // The count is the +Inf bucket, so the two always agree within one scrape.
      Append(out, " ", cumulative, "\n");
    } else {
      out += name();
      AppendLabels(out, label_names(), values);
      Append(out, " ", FormatValue(child->Value()), "\n");
    }
  }
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
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<FamilyBase>& family = families_[name];
  if (!family) {
    family = std::make_unique<Family<T>>(name, help, type, label_names, bounds);
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
  std::lock_guard<std::mutex> lock(collect_mu_);
  int id = next_collector_id_++;
  collectors_.emplace(id, std::move(collector));
  return id;
}

void Registry::RemoveCollector(int id) {
  std::lock_guard<std::mutex> lock(collect_mu_);
  collectors_.erase(id);
}

std::string Registry::Render() const {
  SampleWriter collected;
  {
    std::lock_guard<std::mutex> lock(collect_mu_);
    for (const auto& [id, collector] : collectors_) collector(collected);
  }
  // Families and collected names, merged in name order.
  std::map<std::string_view, const FamilyBase*> families;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, family] : families_) families.emplace(name, family.get());
  }
  std::string out;
  auto family_it = families.begin();
  auto sample_it = collected.samples_.begin();
  while (family_it != families.end() || sample_it != collected.samples_.end()) {
    bool take_family = sample_it == collected.samples_.end() ||
                       (family_it != families.end() && family_it->first <= sample_it->first);
    if (take_family) {
      const FamilyBase& family = *family_it->second;
      AppendHeader(out, family.name(), family.help(), family.type());
      family.RenderSamples(out);
      ++family_it;
    } else {
      const auto& [name, samples] = *sample_it;
      AppendHeader(out, name, samples.front().help, MetricType::kGauge);
      for (const SampleWriter::Sample& sample : samples) {
        out += name;
        if (!sample.labels.empty()) {
          out += '{';
          for (size_t i = 0; i < sample.labels.size(); ++i) {
            if (i > 0) out += ',';
            Append(out, sample.labels[i].first, "=\"",
                            EscapeLabelValue(sample.labels[i].second), "\"");
          }
          out += '}';
        }
        Append(out, " ", FormatValue(sample.value), "\n");
      }
      ++sample_it;
    }
  }
  return out;
}

}  // namespace kiln::executor::metrics
