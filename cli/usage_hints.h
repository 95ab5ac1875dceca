// cli/usage_hints.h — what `kiln` says when CLI11 rejects the command line because of a typo:
// the unknown flag or command, and the nearest valid one by edit distance, as git and the
// `temporal` CLI do ("unknown flag --task-queu for `kiln worker`; did you mean --task-queue?").
//
//   try { app.parse(argc, argv); } catch (const CLI::ParseError& e) {
//     std::string hint = ExplainUsageError(app, std::vector<std::string>(argv + 1, argv + argc));
//     ...
//   }
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"

namespace kiln::cli {

// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring characters each cost 1.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo (distance at
// most 1 for short words, about a third of the length for longer ones, or `word` is a prefix of
// exactly one candidate); otherwise "".
std::string NearestName(std::string_view word, const std::vector<std::string>& candidates);

// Walks `args` (argv without the program name) through `app`'s subcommands and options and
// explains the first unknown flag or command it finds, with a suggestion when one is close, or
// that a command group needs a command (naming them). "" when it finds nothing wrong; the caller
// then shows CLI11's own message.
std::string ExplainUsageError(const CLI::App& app, const std::vector<std::string>& args);

}  // namespace kiln::cli
