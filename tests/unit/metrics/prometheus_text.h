// tests/unit/metrics/prometheus_text.h — `ParsePrometheusText`: a strict reader of the
// Prometheus text exposition format for tests. It checks what a scraper relies on (every sample
// belongs to a family announced by one # HELP and one # TYPE line before its samples; a
// histogram's samples are NAME_bucket / NAME_sum / NAME_count; label values are quoted and
// escaped) and returns the samples with their label values unescaped.
//
// Thread safety: plain functions over values.
//
//   absl::StatusOr<PrometheusText> text = ParsePrometheusText(registry.Render());
//   double n = text->Value("temporal_request", {{"operation", "RespondActivityTaskCompleted"}});
#pragma once

#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kiln::testing {

struct PrometheusSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PrometheusText {
  std::map<std::string, std::string> types;  // family -> counter|gauge|histogram
  std::map<std::string, std::string> help;   // family -> help (unescaped)
  std::vector<PrometheusSample> samples;

  // Samples named `name` whose labels include all of `labels`.
  std::vector<PrometheusSample> Find(const std::string& name,
                                     const std::map<std::string, std::string>& labels = {}) const {
    std::vector<PrometheusSample> found;
    for (const PrometheusSample& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) match = false;
      }
      if (match) found.push_back(s);
    }
    return found;
  }
  // The value of the only matching sample; nullopt when none or several match.
  std::optional<double> Value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    std::vector<PrometheusSample> found = Find(name, labels);
    if (found.size() != 1) return std::nullopt;
    return found[0].value;
  }
};

inline absl::StatusOr<PrometheusText> ParsePrometheusText(const std::string& text) {
  PrometheusText out;
  std::set<std::string> with_samples;
  auto family_of = [&](const std::string& sample) -> std::string {
    if (out.types.count(sample)) return sample;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string s(suffix);
      if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
        std::string base = sample.substr(0, sample.size() - s.size());
        auto it = out.types.find(base);
        if (it != out.types.end() && it->second == "histogram") return base;
      }
    }
    return "";
  };
  int line_no = 0;
  for (absl::string_view line_view : absl::StrSplit(text, '\n')) {
    ++line_no;
    std::string line(line_view);
    auto error = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_no, ": ", what, ": ", line));
    };
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      bool is_help = line[2] == 'H';
      std::string rest = line.substr(7);
      size_t space = rest.find(' ');
      if (space == std::string::npos) return error("no text after the name");
      std::string name = rest.substr(0, space), body = rest.substr(space + 1);
      if (with_samples.count(name)) return error("HELP/TYPE after the family's samples");
      if (is_help) {
        if (out.help.count(name)) return error("second HELP");
        std::string unescaped;
        for (size_t i = 0; i < body.size(); ++i) {
          if (body[i] == '\\' && i + 1 < body.size()) {
            ++i;
            unescaped += body[i] == 'n' ? '\n' : body[i];
          } else {
            unescaped += body[i];
          }
        }
        out.help[name] = unescaped;
      } else {
        if (out.types.count(name)) return error("second TYPE");
        if (body != "counter" && body != "gauge" && body != "histogram") return error("type");
        out.types[name] = body;
      }
      continue;
    }
    if (line[0] == '#') continue;
    PrometheusSample sample;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    sample.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          return error("label without =\"");
        }
        std::string key = line.substr(i, eq - i);
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            if (j + 1 >= line.size()) return error("dangling backslash");
            char c = line[++j];
            if (c == 'n') {
              value += '\n';
            } else if (c == '\\' || c == '"') {
              value += c;
            } else {
              return error("bad escape");
            }
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) return error("unterminated label value");
        if (!sample.labels.emplace(key, value).second) return error("duplicate label");
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return error("unterminated label set");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') return error("no value");
    std::string value = line.substr(i + 1);
    if (value == "+Inf") {
      sample.value = std::numeric_limits<double>::infinity();
    } else {
      char* end = nullptr;
      sample.value = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0') return error("bad value");
    }
    std::string family = family_of(sample.name);
    if (family.empty()) return error("sample without a TYPE line");
    if (!out.help.count(family)) return error("sample without a HELP line");
    with_samples.insert(family);
    out.samples.push_back(std::move(sample));
  }
  return out;
}

}  // namespace kiln::testing
