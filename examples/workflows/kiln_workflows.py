"""Temporal workflows (Python SDK) that route their activities to Kiln workers.

The workflows run in a Python workflow worker (worker.py); every activity they schedule runs in a
Kiln C++ worker, chosen by task queue name alone:

  TrainModel   `train` on ml-training, or ml-training:TAG (a device tag such as sm90), or
               ml-training@HOST, or ml-training@HOST/gpuN (one device of one host); served by
               kiln-train-worker (examples/train). Heartbeat timeout and retry policy come from
               the input; a retried attempt resumes from the last heartbeat's checkpoint.
  ProcessFile  `download` on files (or files@HOST), then `process` and `upload` on the queue that
               download returned (files@<the host that holds the file>); served by
               kiln-files-worker (examples/files).
  ProcessFileInSession
               the same chain pinned by a Kiln session instead: see docs/SESSIONS.md.

Inputs and results are JSON objects (the SDK's default converter sends json/plain, which the Kiln
worker's DataConverter reads). The field names are those of the Kiln activities
(examples/train/train_activity.h, examples/files/file_activities.h).
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Optional

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

WORKFLOW_TASK_QUEUE = "kiln-workflows"
TRAIN_QUEUE = "ml-training"
FILES_QUEUE = "files"
# Kiln's activities raise ApplicationError with type BadInput for input no retry can fix.
NON_RETRYABLE = ["BadInput"]


def train_task_queue(queue: str = TRAIN_QUEUE, tag: Optional[str] = None,
                     host: Optional[str] = None, gpu: Optional[int] = None) -> str:
    """The Kiln queue name for a training placement (docs/ROUTING.md).

    tag -> Q:TAG; host -> Q@HOST; host and gpu -> Q@HOST/gpuN; none -> Q (any worker).
    """
    if tag and (host or gpu is not None):
        raise ValueError("train placement: give a device tag or a host (and gpu), not both")
    if gpu is not None and not host:
        raise ValueError("train placement: gpu needs host (the queue is Q@HOST/gpuN)")
    if tag:
        return "%s:%s" % (queue, tag)
    if host and gpu is not None:
        return "%s@%s/gpu%d" % (queue, host, int(gpu))
    if host:
        return "%s@%s" % (queue, host)
    return queue


def _seconds(value: Any, default: float) -> timedelta:
    return timedelta(seconds=float(default if value is None else value))


@contextmanager
def _bad_input(workflow_name: str):
    """Turns a malformed input field into a workflow failure (type BadInput). Any other exception
    in workflow code would fail only the workflow task, which the SDK retries forever."""
    try:
        yield
    except (ValueError, TypeError, AttributeError) as e:
        raise ApplicationError("%s input: %s" % (workflow_name, e), type="BadInput",
                               non_retryable=True) from None


@workflow.defn(name="TrainModel")
class TrainModel:
    """Trains a model on a Kiln training worker and returns where it is and how good it is.

    Input (every field optional):
      params               the `train` activity's input (epochs, samples, fail_at_epoch, ...)
      tag | host [, gpu]   placement, see train_task_queue()
      queue                logical queue (default ml-training)
      activity_id          default: "train-" + the workflow id
      heartbeat_timeout_s  30; start_to_close_timeout_s 600
      retry: {initial_interval_s 1, backoff_coefficient 2, maximum_attempts 3}
    Result: {model_path, metrics: {loss, accuracy}, epochs, resumed_from_epoch, attempt, host,
             device, task_queue, gpu?}
    """

    @workflow.run
    async def run(self, request: dict) -> dict:
        with _bad_input("TrainModel"):
            retry = request.get("retry") or {}
            options = {
                "task_queue": train_task_queue(request.get("queue", TRAIN_QUEUE),
                                               request.get("tag"), request.get("host"),
                                               request.get("gpu")),
                "start_to_close_timeout": _seconds(request.get("start_to_close_timeout_s"), 600),
                "heartbeat_timeout": _seconds(request.get("heartbeat_timeout_s"), 30),
                "retry_policy": RetryPolicy(
                    initial_interval=_seconds(retry.get("initial_interval_s"), 1),
                    backoff_coefficient=float(retry.get("backoff_coefficient", 2.0)),
                    maximum_attempts=int(retry.get("maximum_attempts", 3)),
                    non_retryable_error_types=NON_RETRYABLE),
            }
        result = await workflow.execute_activity(
            "train", request.get("params") or {},
            activity_id=request.get("activity_id") or "train-" + workflow.info().workflow_id,
            result_type=dict, **options)
        summary = {
            "model_path": result["model_path"],
            "metrics": {"loss": result["loss"], "accuracy": result["accuracy"]},
        }
        for key in ("epochs", "resumed_from_epoch", "attempt", "host", "device", "task_queue",
                    "gpu"):
            if key in result:
                summary[key] = result[key]
        return summary


def _file_options(request: dict) -> dict:
    return {
        "start_to_close_timeout": _seconds(request.get("start_to_close_timeout_s"), 300),
        "heartbeat_timeout": _seconds(request.get("heartbeat_timeout_s"), 30),
        "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3,
                                    non_retryable_error_types=NON_RETRYABLE),
        "result_type": dict,
    }


async def _process_and_upload(request: dict, chain: str, pinned: str, path: str) -> tuple:
    options = _file_options(request)
    processed = await workflow.execute_activity(
        "process", {"path": path}, activity_id="process-" + chain, task_queue=pinned, **options)
    uploaded = await workflow.execute_activity(
        "upload", {"path": path, "destination_dir": request["destination_dir"]},
        activity_id="upload-" + chain, task_queue=pinned, **options)
    return processed, uploaded


@workflow.defn(name="ProcessFile")
class ProcessFile:
    """download -> process -> upload, the last two on the host that downloaded the file.

    Input: url, destination_dir (both required); host (pin the download too: files@HOST);
    queue (default files); chain (activity id suffix, default the workflow id);
    start_to_close_timeout_s 300, heartbeat_timeout_s 30.
    Result: {host, task_queue (where process and upload ran), download, process, upload}
    """

    @workflow.run
    async def run(self, request: dict) -> dict:
        for field in ("url", "destination_dir"):
            if not request.get(field):
                raise ApplicationError(
                    "ProcessFile input needs '%s'; got %s" % (field, sorted(request)),
                    type="BadInput", non_retryable=True)
        with _bad_input("ProcessFile"):
            _file_options(request)
        chain = request.get("chain") or workflow.info().workflow_id
        queue = request.get("queue", FILES_QUEUE)
        first_queue = "%s@%s" % (queue, request["host"]) if request.get("host") else queue
        downloaded = await workflow.execute_activity(
            "download", {"url": request["url"]}, activity_id="download-" + chain,
            task_queue=first_queue, **_file_options(request))
        # The host that holds the file names the queue for the rest of the chain.
        pinned = downloaded["task_queue_for_host"]
        workflow.logger.info("%s downloaded on %s; the rest goes to %s", request["url"],
                             downloaded["host"], pinned)
        processed, uploaded = await _process_and_upload(request, chain, pinned,
                                                        downloaded["path"])
        return {"host": downloaded["host"], "task_queue": pinned, "download": downloaded,
                "process": processed, "upload": uploaded}


SESSION_CREATE_ACTIVITY = "kiln.session.create"  # client/session.h
SESSION_HOST_ACTIVITY = "kiln_session_host"      # session_activities.py, in the workflow worker


@workflow.defn(name="ProcessFileInSession")
class ProcessFileInSession:
    """The ProcessFile chain inside a Kiln session: every step runs on the session's host.

    The session is Kiln's `kiln.session.create` activity on <queue>/sessions, scheduled by this
    workflow: a session-enabled files worker with a free slot takes it and heartbeats its host
    queue (files@H) until the workflow cancels it. A workflow cannot read a running activity's
    heartbeats, so an activity in the Python worker (session_activities.py) reads them from the workflow's
    pending activity (DescribeWorkflowExecution). See docs/SESSIONS.md.

    Input: url, destination_dir (required); queue (files); chain; session_creation_timeout_s 60,
    session_heartbeat_timeout_s 10. Result: ProcessFile's, plus session_id.
    """

    @workflow.run
    async def run(self, request: dict) -> dict:
        for field in ("url", "destination_dir"):
            if not request.get(field):
                raise ApplicationError(
                    "ProcessFileInSession input needs '%s'; got %s" % (field, sorted(request)),
                    type="BadInput", non_retryable=True)
        with _bad_input("ProcessFileInSession"):
            _file_options(request)
            creation_timeout = _seconds(request.get("session_creation_timeout_s"), 60)
            session_heartbeat = _seconds(request.get("session_heartbeat_timeout_s"), 10)
        chain = request.get("chain") or workflow.info().workflow_id
        queue = request.get("queue", FILES_QUEUE)
        session_id = "session-" + chain
        session = workflow.start_activity(
            SESSION_CREATE_ACTIVITY, activity_id=session_id, task_queue=queue + "/sessions",
            schedule_to_start_timeout=creation_timeout,
            start_to_close_timeout=timedelta(hours=24),
            # The worker sees the cancel that ends the session on a heartbeat response: within
            # 0.8 x this timeout. It also bounds how long a dead worker's session looks open.
            heartbeat_timeout=session_heartbeat,
            retry_policy=RetryPolicy(maximum_attempts=1),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
        try:
            # A regular activity on this workflow's own queue (the Python worker serves it), not a
            # local one: the session activity must be scheduled before it runs.
            opened = await workflow.execute_activity(
                SESSION_HOST_ACTIVITY,
                {"workflow_id": workflow.info().workflow_id, "run_id": workflow.info().run_id,
                 "activity_id": session_id},
                activity_id="session-host-" + chain,
                start_to_close_timeout=creation_timeout + timedelta(seconds=10),
                heartbeat_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1), result_type=dict)
            pinned = opened["task_queue"]
            workflow.logger.info("session %s open on %s", session_id, pinned)
            options = _file_options(request)
            downloaded = await workflow.execute_activity(
                "download", {"url": request["url"]}, activity_id="download-" + chain,
                task_queue=pinned, **options)
            processed, uploaded = await _process_and_upload(request, chain, pinned,
                                                            downloaded["path"])
        finally:
            # Completing the session: cancel its activity and wait until the worker freed the slot.
            session.cancel()
            try:
                await session
            except BaseException:  # the session ends as cancelled (or already failed)
                pass
        return {"host": downloaded["host"], "task_queue": pinned, "session_id": session_id,
                "download": downloaded, "process": processed, "upload": uploaded}
