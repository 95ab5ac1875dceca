"""The Kiln demo through Temporal workflows on the real Temporal dev server (scripts/demo
--temporal): starts the dev server, a training worker and two file workers (hosts demo-a, demo-b),
the Python workflow worker and a file server; runs TrainModel (attempt 1 fails on purpose, the
retry resumes from the last heartbeat's checkpoint) with live progress, then two ProcessFile
chains pinned to the downloading host; prints the same summary table as plain scripts/demo, built
from the workflows' histories. Stops everything it started. Exit 0 only if all 7 activities
succeeded.

  python demo.py --bin build/bin [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kiln_workflows  # noqa: E402
from stack import Stack, StackError, write_demo_files  # noqa: E402

WORKER_READY = r"polling task queues"


async def activity_rows(client: Client, handle: WorkflowHandle) -> list:
    """One row per activity the workflow ran, from its history: id, type, queue, attempt (of the
    attempt that closed it), duration (scheduled to closed) and the decoded result."""
    rows, by_event = [], {}
    async for event in handle.fetch_history_events():
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            a = event.activity_task_scheduled_event_attributes
            row = {"activity_id": a.activity_id, "type": a.activity_type.name,
                   "queue": a.task_queue.name, "attempt": 0, "status": "SCHEDULED",
                   "scheduled": event.event_time.ToDatetime(), "duration_s": None,
                   "result": None, "failure": ""}
            by_event[event.event_id] = row
            rows.append(row)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            a = event.activity_task_started_event_attributes
            by_event[a.scheduled_event_id]["attempt"] = a.attempt
        elif kind in (EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
                      EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
                      EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
                      EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED):
            name = EventType.Name(kind).replace("EVENT_TYPE_ACTIVITY_TASK_", "")
            attrs = getattr(event, "activity_task_%s_event_attributes" % name.lower())
            row = by_event[attrs.scheduled_event_id]
            row["status"] = name
            row["duration_s"] = (event.event_time.ToDatetime() - row["scheduled"]).total_seconds()
            if name == "COMPLETED" and attrs.result.payloads:
                row["result"] = (await client.data_converter.decode(attrs.result.payloads))[0]
            elif name in ("FAILED", "TIMED_OUT"):
                row["failure"] = attrs.failure.message
    return rows


def _bar(fraction: float, width: int = 24) -> str:
    done = int(round(max(0.0, min(1.0, fraction)) * width))
    return "#" * done + "." * (width - done)


async def follow_progress(client: Client, handle: WorkflowHandle, label: str) -> None:
    """Prints a progress line each time a pending activity's heartbeat message changes, until
    the workflow closes (Kiln's progress convention: {"progress": {"fraction", "message"}})."""
    last = None
    while True:
        description = await handle.describe()
        for pending in description.raw_description.pending_activities:
            if not pending.heartbeat_details.payloads:
                continue
            beat = (await client.data_converter.decode(pending.heartbeat_details.payloads))[0]
            progress = beat.get("progress") if isinstance(beat, dict) else None
            if progress and progress.get("message") != last:
                last = progress.get("message")
                print("  [%s] [%s] %3d%%  %s  (attempt %d)" % (
                    label, _bar(progress.get("fraction", 0)),
                    100 * progress.get("fraction", 0), last, pending.attempt), flush=True)
        if description.status is not None and description.status.name != "RUNNING":
            return
        await asyncio.sleep(0.3)


def _summaries(row: dict) -> str:
    r = row["result"]
    if row["type"] == "train":
        return "acc %.3f loss %.3f resumed@%d model %s" % (
            r["accuracy"], r["loss"], r["resumed_from_epoch"], os.path.basename(r["model_path"]))
    if row["type"] == "download":
        return "%d bytes sha256 %s..." % (r["bytes"], r["sha256"][:12])
    if row["type"] == "process":
        return "%d -> %d bytes (zstd)" % (r["bytes"], r["compressed_bytes"])
    if row["type"] == "upload":
        return "-> uploaded/%s" % os.path.basename(r["path"])
    return ""


def print_table(rows: list) -> list:
    """Prints the demo's summary table; returns the rows that did not complete."""
    header = ["ACTIVITY", "QUEUE", "HOST", "DEVICE", "ATTEMPTS", "DURATION", "RESULT"]
    table, failed = [], []
    for row in rows:
        ok = row["status"] == "COMPLETED" and isinstance(row["result"], dict)
        if not ok:
            failed.append(row)
        r = row["result"] if ok else {}
        table.append([row["type"] + " " + row["activity_id"], row["queue"], r.get("host", "-"),
                      r.get("device", "cpu") if ok else "-", str(row["attempt"]),
                      "%.1fs" % (row["duration_s"] or 0),
                      _summaries(row) if ok else "%s %s" % (row["status"], row["failure"])])
    widths = [max(len(str(r[c])) for r in [header] + table) for c in range(len(header))]
    print()
    for r in [header] + table:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    return failed


async def run_demo(address: str, http: str, tmp: str, quick: bool) -> int:
    client = await Client.connect(address)
    tq = kiln_workflows.WORKFLOW_TASK_QUEUE
    suffix = uuid.uuid4().hex[:6]
    rows = []

    print("\ndemo: TrainModel workflow -> `train` on ml-training (logistic regression by minibatch "
          "SGD; attempt 1 fails mid-way on purpose, attempt 2 resumes from the last heartbeat's "
          "checkpoint)")
    epochs = 6 if quick else 20
    train = await client.start_workflow(
        "TrainModel",
        {"params": {"epochs": epochs, "samples": 2048 if quick else 8192,
                    "fail_at_epoch": epochs // 2, "step_delay_ms": 2 if quick else 5},
         "activity_id": "train-1", "heartbeat_timeout_s": 30},
        id="kiln-demo-train-" + suffix, task_queue=tq)
    await follow_progress(client, train, "train-1")
    rows += await activity_rows(client, train)
    try:
        result = await train.result()
        print("  TrainModel result: model %s, metrics %s" % (
            os.path.basename(result["model_path"]), result["metrics"]))
    except Exception as e:
        print("  TrainModel failed: %s" % e)

    print("\ndemo: two ProcessFile workflows (download -> process -> upload), pinned to the "
          "downloading host")
    used_hosts = []
    for i, name in enumerate(["alpha.csv", "beta.csv"], start=1):
        request = {"url": "%s/%s" % (http, name), "chain": str(i),
                   "destination_dir": os.path.join(tmp, "uploaded")}
        # Chain 1 downloads from the shared queue (any files worker may take it); chain 2 is
        # placed on the other host, so the demo shows both hosts holding a file.
        if used_hosts:
            request["host"] = "demo-b" if used_hosts[0] == "demo-a" else "demo-a"
        handle = await client.start_workflow("ProcessFile", request,
                                             id="kiln-demo-file-%d-%s" % (i, suffix),
                                             task_queue=tq)
        try:
            result = await handle.result()
            used_hosts.append(result["host"])
            print("  chain %d: %s downloaded on %s; process and upload ran on %s" % (
                i, name, result["host"], result["task_queue"]))
        except Exception as e:
            print("  chain %d failed: %s" % (i, e))
        rows += await activity_rows(client, handle)

    failed = print_table(rows)
    expected = 7
    if failed or len(rows) != expected:
        print("\ndemo: FAILED (%d of %d activities did not succeed)" % (
            len(failed) + expected - len(rows), expected))
        return 1
    print("\ndemo: all %d activities succeeded (through Temporal workflows on the real dev "
          "server)" % expected)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", required=True, help="folder with kiln-train-worker and "
                                                "kiln-files-worker")
    p.add_argument("--quick", action="store_true", help="fewer epochs (the CI form)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the processes are stopped and the folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for b in ("kiln-train-worker", "kiln-files-worker"):
        if not os.access(os.path.join(args.bin, b), os.X_OK):
            print("demo: %s/%s not found; build first (scripts/build)" % (args.bin, b),
                  file=sys.stderr)
            return 2
    tmp = tempfile.mkdtemp(prefix="kiln-demo-temporal.")
    try:
        with Stack(os.path.join(tmp, "logs")) as stack:
            began = time.monotonic()
            address = stack.temporal_dev()
            print("demo: real Temporal dev server on %s (%s), up in %.1f s" % (
                address, _server_version(stack), time.monotonic() - began))
            stack.start("train-worker", [os.path.join(args.bin, "kiln-train-worker"),
                                         "--address", address, "--host-id", "demo-a",
                                         "--model-dir", os.path.join(tmp, "models")],
                        ready=WORKER_READY)
            for host in ("demo-a", "demo-b"):
                stack.start("files-worker-" + host,
                            [os.path.join(args.bin, "kiln-files-worker"), "--address", address,
                             "--host-id", host, "--work-dir", os.path.join(tmp, "work-" + host)],
                            ready=WORKER_READY)
            stack.workflow_worker(sys.executable, address, kiln_workflows.WORKFLOW_TASK_QUEUE)
            print("demo: Kiln workers (train on demo-a, files on demo-a and demo-b) and the "
                  "Python workflow worker (queue %s) are polling" %
                  kiln_workflows.WORKFLOW_TASK_QUEUE)
            write_demo_files(os.path.join(tmp, "www"))
            http = stack.file_server(os.path.join(tmp, "www"))
            print("demo: file server on %s/ (alpha.csv, beta.csv)" % http)
            print("demo: no GPU here; training uses the oneTBB CPU path"
                  if not _has_gpu() else "demo: a GPU is present; training uses the CUDA path")
            return asyncio.run(run_demo(address, http, tmp, args.quick))
    except StackError as e:
        print("demo: %s" % e, file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print("demo: kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _server_version(stack: Stack) -> str:
    import re
    m = re.search(r"temporal version (\S+) \(Server (\S+?),", stack.processes[0].log())
    return "temporal CLI %s, Server %s" % m.groups() if m else "version unknown"


def _has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None and os.system(
        "nvidia-smi -L >/dev/null 2>&1") == 0


if __name__ == "__main__":
    sys.exit(main())
