#include "cli/usage_hints.h"

#include <algorithm>
#include <cctype>
#include <numeric>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"

namespace kiln::cli {
namespace {

// "kiln activity start" for the `start` subcommand.
std::string CommandPath(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* a = app; a != nullptr; a = a->get_parent()) {
    if (a->get_parent() == nullptr) {
      // The program: CLI11 names it after argv[0], a path; show its file name ("kiln").
      const std::string& path = a->get_name();
      names.push_back(path.empty() ? "kiln" : path.substr(path.find_last_of('/') + 1));
    } else if (!a->get_name().empty()) {
      names.push_back(a->get_name());
    }
  }
  std::reverse(names.begin(), names.end());
  return absl::StrJoin(names, " ");
}

std::vector<const CLI::App*> Subcommands(const CLI::App* app) {
  return app->get_subcommands([](const CLI::App* sub) { return !sub->get_name().empty(); });
}

const CLI::App* FindSubcommand(const CLI::App* app, const std::string& name) {
  for (const CLI::App* sub : Subcommands(app)) {
    if (sub->check_name(name)) return sub;
  }
  return nullptr;
}

std::vector<std::string> SubcommandNames(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : Subcommands(app)) names.push_back(sub->get_name());
  return names;
}

// Every spelling of every flag of `app`, its nameless option groups included, with dashes.
void CollectFlagNames(const CLI::App* app, std::vector<std::string>& out) {
  for (const CLI::Option* opt : app->get_options()) {
    for (const std::string& l : opt->get_lnames()) out.push_back("--" + l);
    for (const std::string& s : opt->get_snames()) out.push_back("-" + s);
  }
  for (const CLI::App* group :
       app->get_subcommands([](const CLI::App* sub) { return sub->get_name().empty(); })) {
    CollectFlagNames(group, out);
  }
}

bool HasPositionals(const CLI::App* app) {
  for (const CLI::Option* opt : app->get_options()) {
    if (!opt->nonpositional()) return true;
  }
  return false;
}

bool LooksLikeFlag(const std::string& token) {
  if (token.size() < 2 || token[0] != '-') return false;
  // "-5" or "-0.5" is a (negative) value, not a flag.
  return !(std::isdigit(static_cast<unsigned char>(token[1])) || token[1] == '.');
}

std::string UnknownCommand(const CLI::App* app, const std::string& word) {
  const std::string path = CommandPath(app);
  if (app->get_parent() == nullptr && (word == "server" || word == "start-dev")) {
    return "unknown command `" + word + "` for `" + path + "`: Kiln's dev server (the counterpart "
           "of `temporal server start-dev`) is `" + path + " dev`; see `" + path + " dev --help`";
  }
  std::vector<std::string> names = SubcommandNames(app);
  std::string text = "unknown command `" + word + "` for `" + path + "`";
  if (std::string near = NearestName(word, names); !near.empty()) {
    return text + "; did you mean `" + path + " " + near + "`?";
  }
  return text + "; its commands are " + absl::StrJoin(names, ", ") + " (see `" + path +
         " --help`)";
}

}  // namespace

size_t EditDistance(std::string_view a, std::string_view b) {
  // Three rows of the dynamic-programming table: i-2, i-1 and i.
  std::vector<size_t> two_back(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  std::iota(prev.begin(), prev.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], two_back[j - 2] + 1);
      }
    }
    std::swap(two_back, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string NearestName(std::string_view word, const std::vector<std::string>& candidates) {
  std::string stripped(word.substr(std::min(word.find_first_not_of('-'), word.size())));
  const size_t limit = stripped.size() <= 4 ? 1 : std::max<size_t>(2, stripped.size() / 3);
  std::string best;
  size_t best_distance = limit + 1;
  std::vector<std::string> extending;  // candidates that `word` is a prefix of
  for (const std::string& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
    if (stripped.size() >= 2 && c.size() > word.size() && c.compare(0, word.size(), word) == 0) extending.push_back(c);
  }
  if (!best.empty()) return best;
  return extending.size() == 1 ? extending.front() : "";
}

std::string ExplainUsageError(const CLI::App& app, const std::vector<std::string>& args) {
  const CLI::App* cur = &app;
  bool positional_seen = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& token = args[i];
    if (token == "--") break;
    if (LooksLikeFlag(token)) {
      // "--name=value", and "-qvalue" (a short flag with its value attached, as CLI11 allows).
      const bool is_short = token[1] != '-';
      const std::string name = is_short ? token.substr(0, 2) : token.substr(0, token.find('='));
      const CLI::Option* opt = cur->get_option_no_throw(name);
      if (opt == nullptr) {
        std::vector<std::string> names;
        CollectFlagNames(cur, names);
        const std::string path = CommandPath(cur);
        std::string text = "unknown flag " + name + " for `" + path + "`";
        // A one-letter flag is one edit from every other one-letter flag, so a guess among
        // them would be noise ("-q" is not a typo of "-h"); only longer names get a suggestion.
        if (std::string near = is_short ? "" : NearestName(name, names); !near.empty()) {
          return text + "; did you mean " + near + "?";
        }
        if (cur != &app && app.get_option_no_throw(name) != nullptr) {
          return text + "; " + name + " belongs before the command: `" + CommandPath(&app) + " " +
                 name + " ...`";
        }
        return text + " (see `" + path + " --help`)";
      }
      const bool value_attached = is_short ? token.size() > 2 : token.find('=') != std::string::npos;
      if (!value_attached && opt->get_items_expected_max() > 0) {
        if (opt->get_items_expected_max() > 1) {
          // A list option takes the words that follow it, up to the next flag or command.
          while (i + 1 < args.size() && !LooksLikeFlag(args[i + 1]) &&
                 FindSubcommand(cur, args[i + 1]) == nullptr) {
            ++i;
          }
        } else {
          ++i;
        }
      }
      continue;
    }
    if (const CLI::App* sub = FindSubcommand(cur, token); sub != nullptr && !positional_seen) {
      cur = sub;
      continue;
    }
    if (!Subcommands(cur).empty() && !HasPositionals(cur)) return UnknownCommand(cur, token);
    if (!HasPositionals(cur)) {
      return "unexpected argument '" + token + "' for `" + CommandPath(cur) +
             "` (it takes flags only; see `" + CommandPath(cur) + " --help`)";
    }
    positional_seen = true;
  }
  if (cur->get_require_subcommand_min() > 0) {
    const std::string path = CommandPath(cur);
    return "`" + path + "` needs a command: " + absl::StrJoin(SubcommandNames(cur), ", ") +
           " (see `" + path + " --help`)";
  }
  return "";
}

}  // namespace kiln::cli
