// cli/bench_command.h — `kiln bench SCENARIO`: the load generator (bench/scenarios.h) on the
// project's own client library. It starts its own `kiln dev` (a temporary SQLite file, or
// --store memory) and `kiln worker` children, or targets --address; prints a table, or one
// JSON object per scenario with --output json; progress goes to stderr.
//
//   kiln bench e2e [-n 3000] [-c 64] [--activity noop|sleep|heartbeat] [--floor]
//   kiln bench schedule|drain|heartbeat|floor ...
//
// Exit codes: 0 when the run had no errors, 1 when some activity or RPC failed, 2 for bad
// flags, 3 when the cluster or worker could not be started or reached.
#pragma once

#include "cli/commands.h"

namespace kiln::cli {

void AddBenchCommand(CommandRegistry& registry);

}  // namespace kiln::cli
