#include "worker_main/worker_config.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "gpu/mig.h"
#include "gpu/simulate_spec.h"
#include "toml++/toml.h"

namespace kiln::worker_main {
namespace {

constexpr const char* kTopKeys[] = {"task_queues",
                                    "host_id",
                                    "max_concurrent_activities",
                                    "pollers_per_queue",
                                    "max_activities_per_second",
                                    "max_task_queue_activities_per_second",
                                    "build_id",
                                    "graceful_shutdown_timeout",
                                    "log_level",
                                    "metrics_port",
                                    "metrics_address",
                                    "use_versioning",
                                    "deployment_name",
                                    "gpu"};
constexpr const char* kGpuKeys[] = {"simulate", "slots_per_device", "memory_reserve",
                                    "memory_budget", "tags", "mig"};
constexpr const char* kTagKeys[] = {"name", "predicate"};

std::string TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "nothing";
  }
}

// What a value looks like in a message: strings quoted, numbers as written.
std::string Shown(const toml::node& node) {
  if (const auto* s = node.as_string()) return "\"" + s->get() + "\"";
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) {
    std::ostringstream out;
    out << f->get();
    return out.str();
  }
  return TypeName(node);
}

// Builds the messages: "<file>:<line>: <key>: <what>".
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  absl::Status Error(const toml::source_region& where, const std::string& key,
                     const std::string& what) const {
    std::string at = source_;
    if (where.begin.line > 0) absl::StrAppend(&at, ":", where.begin.line);
    return absl::InvalidArgumentError(absl::StrCat(at, ": ", key, ": ", what));
  }
  absl::Status Expected(const toml::node& node, const std::string& key,
                        const std::string& expected) const {
    return Error(node.source(), key, absl::StrCat("expected ", expected, ", got ", Shown(node)));
  }

  template <size_t N>
  absl::Status CheckKeys(const toml::table& table, const char* const (&known)[N],
                         const std::string& prefix) const {
    for (auto&& [key, value] : table) {
      bool found = false;
      for (const char* k : known) found = found || key.str() == std::string_view(k);
      if (found) continue;
      std::vector<std::string> names;
      for (const char* k : known) names.push_back(absl::StrCat(prefix, k));
      return Error(key.source().begin.line > 0 ? key.source() : value.source(),
                   absl::StrCat(prefix, std::string(key.str())),
                   absl::StrCat("unknown key; known keys are ", absl::StrJoin(names, ", ")));
    }
    return absl::OkStatus();
  }

  absl::Status String(const toml::node& node, const std::string& key, bool allow_empty,
                      std::optional<std::string>& out) const {
    const auto* s = node.as_string();
    if (s == nullptr || (!allow_empty && s->get().empty())) {
      return Expected(node, key, "a non-empty string");
    }
    out = s->get();
    return absl::OkStatus();
  }

  absl::Status Int(const toml::node& node, const std::string& key, int64_t min, int64_t max,
                   std::optional<int>& out) const {
    const auto* i = node.as_integer();
    // Always name both bounds: "at least 1" alone misleads for a value that is too large.
    std::string expected = absl::StrCat("an integer from ", min, " to ", max);
    if (i == nullptr || i->get() < min || i->get() > max) return Expected(node, key, expected);
    out = static_cast<int>(i->get());
    return absl::OkStatus();
  }

  absl::Status Rate(const toml::node& node, const std::string& key,
                    std::optional<double>& out) const {
    double value = -1;
    if (const auto* i = node.as_integer()) value = static_cast<double>(i->get());
    if (const auto* f = node.as_floating_point()) value = f->get();
    if (!(value >= 0) || std::isinf(value)) {
      return Expected(node, key, "a number of at least 0 (0: unlimited)");
    }
    out = value;
    return absl::OkStatus();
  }

  absl::Status Bytes(const toml::node& node, const std::string& key,
                     std::optional<uint64_t>& out) const {
    const std::string kExpected =
        "a size such as \"2GiB\" or \"512MiB\" (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB) or "
        "an integer number of bytes";
    if (const auto* i = node.as_integer()) {
      if (i->get() < 0) return Expected(node, key, kExpected);
      out = static_cast<uint64_t>(i->get());
      return absl::OkStatus();
    }
    const auto* s = node.as_string();
    if (s == nullptr) return Expected(node, key, kExpected);
    absl::StatusOr<uint64_t> bytes = ParseByteSize(s->get());
    if (!bytes.ok()) return Expected(node, key, kExpected);
    out = *bytes;
    return absl::OkStatus();
  }

 private:
  std::string source_;
};

absl::Status ReadGpu(const Reader& r, const toml::node& node, GpuConfig& gpu) {
  const toml::table* table = node.as_table();
  if (table == nullptr) return r.Expected(node, "gpu", "a table ([gpu])");
  if (absl::Status s = r.CheckKeys(*table, kGpuKeys, "gpu."); !s.ok()) return s;
  if (const toml::node* v = table->get("simulate")) {
    if (absl::Status s = r.String(*v, "gpu.simulate", false, gpu.simulate); !s.ok()) return s;
    if (auto spec = gpu::ParseSimulateSpec(*gpu.simulate); !spec.ok()) {
      return r.Error(v->source(), "gpu.simulate", std::string(spec.status().message()));
    }
  }
  if (const toml::node* v = table->get("mig")) {
    if (absl::Status s = r.String(*v, "gpu.mig", false, gpu.mig); !s.ok()) return s;
    if (auto mig = gpu::ParseMigStrategy(*gpu.mig); !mig.ok()) {
      return r.Error(v->source(), "gpu.mig", "must be \"instances\" or \"whole\"");
    }
  }
  if (const toml::node* v = table->get("slots_per_device")) {
    if (absl::Status s = r.Int(*v, "gpu.slots_per_device", 1, std::numeric_limits<int>::max(),
                               gpu.slots_per_device);
        !s.ok()) {
      return s;
    }
  }
  if (const toml::node* v = table->get("memory_reserve")) {
    if (absl::Status s = r.Bytes(*v, "gpu.memory_reserve", gpu.memory_reserve_bytes); !s.ok()) {
      return s;
    }
  }
  if (const toml::node* v = table->get("memory_budget")) {
    if (absl::Status s = r.Bytes(*v, "gpu.memory_budget", gpu.memory_budget_bytes); !s.ok()) {
      return s;
    }
  }
  if (const toml::node* v = table->get("tags")) {
    const toml::array* tags = v->as_array();
    const std::string kTagsExpected = "an array of tables ([[gpu.tags]] with name and predicate)";
    if (tags == nullptr) return r.Expected(*v, "gpu.tags", kTagsExpected);
    gpu.tags.emplace();
    for (const toml::node& entry : *tags) {
      const toml::table* tag = entry.as_table();
      if (tag == nullptr) return r.Expected(entry, "gpu.tags", kTagsExpected);
      if (absl::Status s = r.CheckKeys(*tag, kTagKeys, "gpu.tags."); !s.ok()) return s;
      std::optional<std::string> name, predicate;
      const toml::node* name_node = tag->get("name");
      const toml::node* predicate_node = tag->get("predicate");
      if (name_node == nullptr || predicate_node == nullptr) {
        return r.Error(entry.source(), "gpu.tags",
                       absl::StrCat("each [[gpu.tags]] entry needs name and predicate, e.g. "
                                    "name = \"bigmem\" and predicate = \"memory_gib >= 70\"; "
                                    "this one has no ",
                                    name_node == nullptr ? "name" : "predicate"));
      }
      if (absl::Status s = r.String(*name_node, "gpu.tags.name", false, name); !s.ok()) return s;
      if (absl::Status s = r.String(*predicate_node, "gpu.tags.predicate", false, predicate);
          !s.ok()) {
        return s;
      }
      if (absl::Status s = gpu::ValidateTagName(*name); !s.ok()) {
        return r.Error(name_node->source(), "gpu.tags.name", std::string(s.message()));
      }
      for (const gpu::TagRule& earlier : *gpu.tags) {
        if (earlier.name() == *name) {
          return r.Error(name_node->source(), "gpu.tags.name",
                         absl::StrCat("tag '", *name,
                                      "' is defined twice; give each tag one "
                                      "entry (combine predicates with ||)"));
        }
      }
      absl::StatusOr<gpu::TagRule> rule = gpu::TagRule::Parse(*name, *predicate);
      if (!rule.ok()) {
        return r.Error(predicate_node->source(), "gpu.tags.predicate",
                       absl::StrCat("tag '", *name, "': ", std::string(rule.status().message())));
      }
      gpu.tags->push_back(*std::move(rule));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadTop(const Reader& r, const toml::table& root, WorkerConfig& config) {
  if (absl::Status s = r.CheckKeys(root, kTopKeys, ""); !s.ok()) return s;
  constexpr int kIntMax = std::numeric_limits<int>::max();
  if (const toml::node* v = root.get("task_queues")) {
    const toml::array* queues = v->as_array();
    const std::string kExpected = "a non-empty array of task queue names, e.g. [\"ml-training\"]";
    if (queues == nullptr || queues->empty()) return r.Expected(*v, "task_queues", kExpected);
    config.task_queues.emplace();
    for (const toml::node& q : *queues) {
      const auto* s = q.as_string();
      if (s == nullptr || s->get().empty()) {
        return r.Expected(q, "task_queues", "task queue names as non-empty strings");
      }
      config.task_queues->push_back(s->get());
    }
  }
  absl::Status s;
  if (const toml::node* v = root.get("host_id"); v && s.ok()) {
    s = r.String(*v, "host_id", false, config.host_id);
  }
  if (const toml::node* v = root.get("max_concurrent_activities"); v && s.ok()) {
    s = r.Int(*v, "max_concurrent_activities", 1, kIntMax, config.max_concurrent_activities);
  }
  if (const toml::node* v = root.get("pollers_per_queue"); v && s.ok()) {
    s = r.Int(*v, "pollers_per_queue", 1, kIntMax, config.pollers_per_queue);
  }
  if (const toml::node* v = root.get("max_activities_per_second"); v && s.ok()) {
    s = r.Rate(*v, "max_activities_per_second", config.max_activities_per_second);
  }
  if (const toml::node* v = root.get("max_task_queue_activities_per_second"); v && s.ok()) {
    s = r.Rate(*v, "max_task_queue_activities_per_second",
               config.max_task_queue_activities_per_second);
  }
  if (const toml::node* v = root.get("build_id"); v && s.ok()) {
    s = r.String(*v, "build_id", false, config.build_id);
  }
  if (const toml::node* v = root.get("use_versioning"); v && s.ok()) {
    if (const auto* b = v->as_boolean()) {
      config.use_versioning = b->get();
    } else {
      s = r.Expected(*v, "use_versioning", "true or false");
    }
  }
  if (const toml::node* v = root.get("deployment_name"); v && s.ok()) {
    s = r.String(*v, "deployment_name", false, config.deployment_name);
  }
  if (const toml::node* v = root.get("graceful_shutdown_timeout"); v && s.ok()) {
    const std::string kExpected =
        "a duration string such as \"10s\", \"1m30s\" or \"500ms\" (not negative)";
    const auto* text = v->as_string();
    absl::Duration d;
    if (text == nullptr || text->get().empty() || text->get().find("inf") != std::string::npos ||
        !absl::ParseDuration(text->get(), &d) || d < absl::ZeroDuration()) {
      return r.Expected(*v, "graceful_shutdown_timeout", kExpected);
    }
    config.graceful_shutdown_timeout = d;
    config.graceful_shutdown_timeout_text = text->get();
  }
  if (const toml::node* v = root.get("log_level"); v && s.ok()) {
    s = r.String(*v, "log_level", false, config.log_level);
    if (s.ok() && !base::ParseLogLevel(*config.log_level).ok()) {
      return r.Expected(*v, "log_level", "one of trace, debug, info, warn, error, off");
    }
  }
  if (const toml::node* v = root.get("metrics_port"); v && s.ok()) {
    s = r.Int(*v, "metrics_port", 0, 65535, config.metrics_port);
  }
  if (const toml::node* v = root.get("metrics_address"); v && s.ok()) {
    s = r.String(*v, "metrics_address", false, config.metrics_address);
  }
  if (!s.ok()) return s;
  if (const toml::node* v = root.get("gpu")) return ReadGpu(r, *v, config.gpu);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint64_t> ParseByteSize(std::string_view text) {
  std::string t(text);
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!t.empty() && is_space(t.back())) t.pop_back();
  size_t unit_at = t.size();
  while (unit_at > 0 && absl::ascii_isalpha(static_cast<unsigned char>(t[unit_at - 1]))) {
    --unit_at;
  }
  std::string number = t.substr(0, unit_at);
  while (!number.empty() && is_space(number.back())) number.pop_back();
  while (!number.empty() && is_space(number.front())) number.erase(0, 1);
  std::string unit = absl::AsciiStrToLower(t.substr(unit_at));
  struct Unit {
    const char* name;
    double factor;
  };
  constexpr Unit kUnits[] = {{"", 1},
                             {"b", 1},
                             {"kib", 1024.0},
                             {"mib", 1048576.0},
                             {"gib", 1073741824.0},
                             {"tib", 1099511627776.0},
                             {"kb", 1e3},
                             {"mb", 1e6},
                             {"gb", 1e9},
                             {"tb", 1e12}};
  const Unit* found = nullptr;
  for (const Unit& u : kUnits) {
    if (unit == u.name) found = &u;
  }
  double value = 0;
  if (found == nullptr || number.empty() || !absl::SimpleAtod(number, &value) || !(value >= 0) ||
      value * found->factor > 1.8e19) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid size '", std::string(text),
                     "': use a number with a unit such as 2GiB, 512MiB or 80GB"));
  }
  return static_cast<uint64_t>(std::llround(value * found->factor));
}

absl::StatusOr<WorkerConfig> ParseWorkerConfig(std::string_view toml_text, std::string source) {
  WorkerConfig config;
  config.source = source;
  Reader reader(source);
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ":", e.source().begin.line, ": not valid TOML: ", std::string(e.description())));
  }
  if (absl::Status s = ReadTop(reader, root, config); !s.ok()) return s;
  return config;
}

absl::StatusOr<WorkerConfig> LoadWorkerConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read the Kiln worker settings file '",
                                                   path, "' (given by --config or ", kConfigFileEnv,
                                                   "): ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseWorkerConfig(text.str(), path);
}

void ApplyGpuConfig(const GpuConfig& config, executor::GpuWorkerOptions& options) {
  if (config.simulate) options.simulate = *config.simulate;
  if (config.mig) {
    if (auto mig = gpu::ParseMigStrategy(*config.mig); mig.ok()) options.mig = *mig;
  }
  if (config.slots_per_device) options.capacity.slots_per_device = *config.slots_per_device;
  if (config.memory_reserve_bytes) {
    options.capacity.memory_reserve_bytes = *config.memory_reserve_bytes;
  }
  if (config.memory_budget_bytes) {
    options.capacity.memory_budget_bytes = *config.memory_budget_bytes;
  }
  if (config.tags) options.tag_rules = *config.tags;
}

}  // namespace kiln::worker_main
