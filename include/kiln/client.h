// <kiln/client.h> — connecting a worker program to Temporal (or `kiln dev`): kiln::Client and
// kiln::Connect(), which reads the environment like the `temporal` CLI (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, ...). See docs/SDK.md.
//
//   absl::StatusOr<kiln::Client> client = kiln::Connect();
//   if (!client.ok()) return kiln::ExitCode(client.status());
#pragma once

#include "client/temporal_client.h"
#include "worker_main/program.h"
