// cli/dev_command.h — `kiln dev`: runs the embedded dev cluster (cluster/dev_server.h).
//
//   kiln dev [--port 7233] [--ip 127.0.0.1] [--db PATH|:memory:] [--namespace default]...
//            [--log-level info] [--api-key-file F] [--tls-client-namespace CN=NS]...
//            [--max-concurrent-streams 1000] [--max-polls-per-connection 800] [--max-polls 10000]
//
// `temporal server start-dev`'s flag names work too: --db-filename (= --db), --ip, --port,
// --namespace (repeatable: each is served), --log-level (`never` = off). Unlike start-dev, kiln dev
// keeps its state by default (~/.local/share/kiln/dev.db); --db :memory: keeps nothing.
//
// Contract relied on by scripts and tests: once serving, exactly one line goes to stdout,
//   kiln dev listening on <ip>:<port> namespace=<ns>[,<ns>...] db=<path>
// (flushed; `--port 0` binds a free port and prints it). Logs go to stderr. SIGINT/SIGTERM stop
// it cleanly with exit code 0.
#pragma once

#include "cli/commands.h"

namespace kiln::cli {

void AddDevCommand(CommandRegistry& registry);

}  // namespace kiln::cli
