// <kiln/activity.h> — what activity code sees: kiln::ActivityContext (info, heartbeats with
// details and progress, the last heartbeat's details, cancellation, device/stream/allocator,
// logger), kiln::ActivityOptions and kiln::ResourceNeeds for registration, kiln::ApplicationError
// and kiln::CancelledError to fail or honour a cancellation, and ActivityFuture for asynchronous
// activities. See docs/SDK.md.
//
//   std::string Greet(kiln::ActivityContext& ctx, const std::string& name) {
//     ctx.Heartbeat();
//     return "Hello, " + name + "!";
//   }
#pragma once

#include "executor/activity_context.h"
#include "executor/activity_future.h"
#include "executor/activity_registry.h"
#include "payload/application_error.h"
