"""The activity ProcessFileInSession uses to learn its Kiln session's host.

A Kiln session-enabled worker announces an open session by heartbeating
{"session_id", "task_queue": "files@H", "host_id": "H"} from the `kiln.session.create` activity.
A workflow cannot see a running activity's heartbeats, but the server keeps them with the
workflow's pending activity, so this activity waits (DescribeWorkflowExecution every 200 ms)
until they arrive, and fails at once if the session activity closed without announcing one.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

POLL_INTERVAL_S = 0.2


class SessionActivities:
    def __init__(self, client: Client):
        self._client = client

    @activity.defn(name="kiln_session_host")
    async def session_host(self, request: dict) -> dict:
        handle = self._client.get_workflow_handle(request["workflow_id"],
                                                  run_id=request["run_id"])
        while True:
            description = await handle.describe()
            pending = [p for p in description.raw_description.pending_activities
                       if p.activity_id == request["activity_id"]]
            if not pending:
                # Scheduled but gone: the session activity closed (timed out or failed) before
                # announcing a host. The workflow sees why when it awaits that activity.
                raise ApplicationError(
                    "session %s closed before a worker announced it (no session-enabled worker "
                    "with a free slot?)" % request["activity_id"], type="SessionNotOpened",
                    non_retryable=True)
            if pending and pending[0].heartbeat_details.payloads:
                details = await self._client.data_converter.decode(
                    pending[0].heartbeat_details.payloads)
                if details and isinstance(details[0], dict) and details[0].get("task_queue"):
                    return details[0]
            activity.heartbeat()
            await asyncio.sleep(POLL_INTERVAL_S)
