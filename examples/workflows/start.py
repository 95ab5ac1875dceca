"""Starts one of the Kiln workflows and prints its result as JSON (exit 1 if it failed).

  python start.py TrainModel '{"params": {"epochs": 5}, "tag": "sm90"}'
  python start.py ProcessFile '{"url": "http://127.0.0.1:8000/a.csv", "destination_dir": "/tmp/up"}'
  python start.py ProcessFileInSession '{"url": "...", "destination_dir": "/tmp/up"}'

Options: --address (TEMPORAL_ADDRESS, default 127.0.0.1:7233), --namespace, --task-queue
(kiln-workflows, where worker.py runs), --id (default: <workflow>-<random>).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid

from temporalio.client import Client, WorkflowFailureError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kiln_workflows  # noqa: E402

WORKFLOWS = ("TrainModel", "ProcessFile", "ProcessFileInSession")


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workflow", choices=WORKFLOWS)
    p.add_argument("input", nargs="?", default="{}", help="the workflow's input, a JSON object")
    p.add_argument("--address", default=os.environ.get("TEMPORAL_ADDRESS", "127.0.0.1:7233"))
    p.add_argument("--namespace", default=os.environ.get("TEMPORAL_NAMESPACE", "default"))
    p.add_argument("--task-queue", default=kiln_workflows.WORKFLOW_TASK_QUEUE)
    p.add_argument("--id", default=None)
    args = p.parse_args()
    try:
        request = json.loads(args.input)
    except json.JSONDecodeError as e:
        p.error("input is not JSON (%s): %s" % (e, args.input))
    if not isinstance(request, dict):
        p.error("input must be a JSON object, got %s" % args.input)
    client = await Client.connect(args.address, namespace=args.namespace)
    workflow_id = args.id or "%s-%s" % (args.workflow, uuid.uuid4().hex[:8])
    handle = await client.start_workflow(args.workflow, request, id=workflow_id,
                                         task_queue=args.task_queue)
    print("started %s (workflow id %s) on %s" % (args.workflow, workflow_id, args.task_queue),
          file=sys.stderr)
    try:
        print(json.dumps(await handle.result(), indent=2))
        return 0
    except WorkflowFailureError as e:
        cause = e.cause
        chain = []
        while cause is not None:
            chain.append("%s: %s" % (type(cause).__name__, cause))
            cause = cause.__cause__
        print("%s failed: %s" % (workflow_id, " <- ".join(chain)), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
