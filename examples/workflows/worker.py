"""The Python workflow worker: serves TrainModel, ProcessFile and ProcessFileInSession
(kiln_workflows.py) on one task queue. The workflows' activities run in Kiln workers; the only
activity this worker runs is kiln_session_host (session_activities.py, for sessions).

  python worker.py [--address 127.0.0.1:7233] [--namespace default] [--task-queue kiln-workflows]

Connects like the temporal CLI when flags are absent (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE).
Prints "workflow worker ready on <queue>" once polling; SIGINT/SIGTERM stop it gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from temporalio.client import Client
from temporalio.worker import Worker

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kiln_workflows  # noqa: E402
from session_activities import SessionActivities  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--address", default=os.environ.get("TEMPORAL_ADDRESS", "127.0.0.1:7233"))
    p.add_argument("--namespace", default=os.environ.get("TEMPORAL_NAMESPACE", "default"))
    p.add_argument("--task-queue", default=kiln_workflows.WORKFLOW_TASK_QUEUE)
    return p.parse_args(argv)


async def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        client = await Client.connect(args.address, namespace=args.namespace)
    except Exception as e:  # the SDK raises RuntimeError for connection failures
        print("workflow worker: cannot connect to %s: %s" % (args.address, e), file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(client, task_queue=args.task_queue,
                    workflows=[kiln_workflows.TrainModel, kiln_workflows.ProcessFile,
                               kiln_workflows.ProcessFileInSession],
                    activities=[SessionActivities(client).session_host])
    async with worker:
        print("workflow worker ready on %s (%s, namespace %s)" % (
            args.task_queue, args.address, args.namespace), flush=True)
        await stop.wait()
    print("workflow worker stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
