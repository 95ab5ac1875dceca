"""End to end on the real Temporal dev server: the Python workflows of examples/workflows route
their activities to Kiln's C++ workers (kiln-train-worker, kiln-files-worker), and the results,
placement and retry behaviour are what a user of those workflows relies on.

One setup for the module: scripts/temporal-dev on a free loopback port, a training worker on host
rs-a with one simulated H100 (queues ml-training, ml-training:sm90, ml-training@rs-a/gpu0), files
workers on hosts rs-a and rs-b (rs-b also serves one Kiln session), the Python workflow worker
(examples/workflows/worker.py) and a file server. Every process is stopped by its pid.

  python test_workflows.py --bin build/bin [unittest args]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import signal
import sys
import tempfile
import unittest
import uuid
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "examples", "workflows"))

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client, WorkflowFailureError  # noqa: E402
from temporalio.exceptions import ActivityError, ApplicationError  # noqa: E402

import kiln_workflows  # noqa: E402
from demo import activity_rows  # noqa: E402
from stack import Stack, write_demo_files  # noqa: E402

BIN = os.environ.get("KILN_REALSERVER_BIN", "")
WORKER_READY = r"polling task queues"
WORKFLOW_TIMEOUT_S = 120
QUICK_TRAIN = {"epochs": 2, "samples": 256, "features": 4}


class RealServerWorkflows(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kiln-realserver.")
        cls.stack = Stack(os.path.join(cls.tmp, "logs"))
        try:
            cls._start()
        except BaseException:
            cls.stack.stop_all()
            raise

    @classmethod
    def _start(cls):
        stack = cls.stack
        cls.address = stack.temporal_dev()
        stack.start("train-worker",
                    [os.path.join(BIN, "kiln-train-worker"), "--address", cls.address,
                     "--host-id", "rs-a", "--simulate-gpus", "1xH100:80:sm90",
                     "--model-dir", os.path.join(cls.tmp, "models")], ready=WORKER_READY)
        for host, extra in (("rs-a", []), ("rs-b", ["--max-sessions", "1"])):
            stack.start("files-worker-" + host,
                        [os.path.join(BIN, "kiln-files-worker"), "--address", cls.address,
                         "--host-id", host, "--work-dir", os.path.join(cls.tmp, "work-" + host)]
                        + extra, ready=WORKER_READY)
        stack.workflow_worker(sys.executable, cls.address, kiln_workflows.WORKFLOW_TASK_QUEUE)
        cls.www = os.path.join(cls.tmp, "www")
        write_demo_files(cls.www, names=("alpha.csv", "beta.csv", "gamma.csv"), rows=5000)
        cls.http = stack.file_server(cls.www)

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop_all()
        if os.environ.get("KILN_REALSERVER_KEEP") == "1":
            print("realserver: kept %s" % cls.tmp, file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.loop = asyncio.new_event_loop()
        self.client = self.loop.run_until_complete(Client.connect(self.address))

    def tearDown(self):
        self.loop.close()

    def run_workflow(self, workflow: str, request: dict):
        """Runs `workflow` to its end; returns (handle, result or the WorkflowFailureError)."""
        async def go():
            handle = await self.client.start_workflow(
                workflow, request, id="rs-%s-%s" % (workflow, uuid.uuid4().hex[:8]),
                task_queue=kiln_workflows.WORKFLOW_TASK_QUEUE,
                execution_timeout=timedelta(seconds=WORKFLOW_TIMEOUT_S))
            try:
                return handle, await asyncio.wait_for(handle.result(), WORKFLOW_TIMEOUT_S + 10)
            except WorkflowFailureError as e:
                return handle, e
        return self.loop.run_until_complete(go())

    def history_rows(self, handle):
        return self.loop.run_until_complete(activity_rows(self.client, handle))

    def started_events(self, handle):
        async def go():
            return [e.activity_task_started_event_attributes
                    async for e in handle.fetch_history_events()
                    if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
        return self.loop.run_until_complete(go())

    # Training ---------------------------------------------------------------------------------

    def test_train_fails_once_then_resumes_from_the_last_heartbeat(self):
        handle, result = self.run_workflow("TrainModel", {
            "params": {"epochs": 6, "samples": 1024, "fail_at_epoch": 3, "step_delay_ms": 1},
            "heartbeat_timeout_s": 10})
        self.assertIsInstance(result, dict, "TrainModel failed: %r" % (result,))
        self.assertEqual(result["attempt"], 2)
        self.assertEqual(result["resumed_from_epoch"], 3,
                         "attempt 2 should start from the checkpoint attempt 1 heartbeated")
        self.assertEqual(result["task_queue"], "ml-training")
        self.assertEqual(result["host"], "rs-a")
        self.assertGreater(result["metrics"]["accuracy"], 0.8)
        self.assertTrue(os.path.isfile(result["model_path"]), result["model_path"])
        started = self.started_events(handle)
        self.assertEqual(len(started), 1)
        self.assertEqual(started[0].attempt, 2)
        # Attempt 1's failure, as the server kept it: Kiln's ApplicationError type and message.
        failure = started[0].last_failure
        self.assertEqual(failure.application_failure_info.type, "InjectedFailure")
        self.assertIn("injected failure at epoch 3", failure.message)
        self.assertFalse(failure.application_failure_info.non_retryable)

    def test_train_on_a_device_tag_queue(self):
        _, result = self.run_workflow("TrainModel", {"params": QUICK_TRAIN, "tag": "sm90"})
        self.assertIsInstance(result, dict, "TrainModel failed: %r" % (result,))
        self.assertEqual(result["task_queue"], "ml-training:sm90")
        self.assertIn("H100", result["gpu"]["name"])
        self.assertTrue(result["gpu"]["simulated"])

    def test_train_on_one_device_of_one_host(self):
        _, result = self.run_workflow("TrainModel",
                                      {"params": QUICK_TRAIN, "host": "rs-a", "gpu": 0})
        self.assertIsInstance(result, dict, "TrainModel failed: %r" % (result,))
        self.assertEqual(result["task_queue"], "ml-training@rs-a/gpu0")
        self.assertEqual(result["gpu"]["index"], 0)

    def test_bad_train_input_fails_the_workflow_without_retry(self):
        handle, error = self.run_workflow("TrainModel", {"params": {"epochs": 0}})
        self.assertIsInstance(error, WorkflowFailureError)
        self.assertIsInstance(error.cause, ActivityError)
        cause = error.cause.cause
        self.assertIsInstance(cause, ApplicationError)
        self.assertEqual(cause.type, "BadInput")
        self.assertTrue(cause.non_retryable)
        self.assertIn("epochs", cause.message)
        self.assertEqual([r["attempt"] for r in self.history_rows(handle)], [1])

    def test_contradictory_placement_fails_the_workflow(self):
        handle, error = self.run_workflow("TrainModel", {"params": QUICK_TRAIN, "tag": "sm90",
                                                         "host": "rs-a"})
        self.assertIsInstance(error, WorkflowFailureError)
        self.assertIsInstance(error.cause, ApplicationError)
        self.assertEqual(error.cause.type, "BadInput")
        self.assertIn("not both", error.cause.message)
        self.assertEqual(self.history_rows(handle), [], "no activity was scheduled")

    def test_malformed_timeout_fails_the_workflow_instead_of_retrying_it(self):
        handle, error = self.run_workflow("TrainModel", {"params": QUICK_TRAIN,
                                                         "heartbeat_timeout_s": "soon"})
        self.assertIsInstance(error, WorkflowFailureError)
        self.assertEqual(error.cause.type, "BadInput")
        self.assertIn("soon", error.cause.message)
        self.assertEqual(self.history_rows(handle), [])

    # Files ------------------------------------------------------------------------------------

    def assert_chain(self, handle, result, name, expect_host=None):
        self.assertIsInstance(result, dict, "ProcessFile failed: %r" % (result,))
        host = result["host"]
        if expect_host:
            self.assertEqual(host, expect_host)
        self.assertEqual(result["task_queue"], "files@" + host)
        for step in ("download", "process", "upload"):
            self.assertEqual(result[step]["host"], host, "%s ran on another host" % step)
        with open(os.path.join(self.www, name), "rb") as f:
            original = f.read()
        self.assertEqual(result["download"]["sha256"], hashlib.sha256(original).hexdigest())
        with open(result["upload"]["path"], "rb") as f:
            self.assertEqual(f.read(), original)
        rows = self.history_rows(handle)
        by_type = {r["type"]: r for r in rows}
        self.assertEqual(by_type["process"]["queue"], "files@" + host)
        self.assertEqual(by_type["upload"]["queue"], "files@" + host)
        return rows

    def test_file_chain_stays_on_the_downloading_host(self):
        handle, result = self.run_workflow("ProcessFile", {
            "url": self.http + "/alpha.csv", "destination_dir": os.path.join(self.tmp, "up-1")})
        rows = self.assert_chain(handle, result, "alpha.csv")
        self.assertEqual(rows[0]["queue"], "files")

    def test_file_chain_pinned_to_a_named_host(self):
        handle, result = self.run_workflow("ProcessFile", {
            "url": self.http + "/beta.csv", "host": "rs-b",
            "destination_dir": os.path.join(self.tmp, "up-2")})
        rows = self.assert_chain(handle, result, "beta.csv", expect_host="rs-b")
        self.assertEqual(rows[0]["queue"], "files@rs-b")

    def test_file_chain_in_a_kiln_session(self):
        handle, result = self.run_workflow("ProcessFileInSession", {
            "url": self.http + "/gamma.csv", "destination_dir": os.path.join(self.tmp, "up-3"),
            "session_heartbeat_timeout_s": 3})
        # Only rs-b serves sessions, so the whole chain, download included, runs there.
        rows = self.assert_chain(handle, result, "gamma.csv", expect_host="rs-b")
        session = [r for r in rows if r["type"] == kiln_workflows.SESSION_CREATE_ACTIVITY]
        self.assertEqual(len(session), 1)
        self.assertEqual(session[0]["queue"], "files/sessions")
        self.assertEqual(session[0]["status"], "CANCELED", "the workflow closes its session")
        self.assertEqual(rows[[r["type"] for r in rows].index("download")]["queue"],
                         "files@rs-b")

    def test_session_without_a_session_worker_fails_the_workflow(self):
        handle, error = self.run_workflow("ProcessFileInSession", {
            "url": self.http + "/alpha.csv", "destination_dir": os.path.join(self.tmp, "up-4"),
            "queue": "files-nobody", "session_creation_timeout_s": 2})
        self.assertIsInstance(error, WorkflowFailureError)
        self.assertIsInstance(error.cause, ActivityError)
        self.assertEqual(error.cause.cause.type, "SessionNotOpened")
        statuses = {r["type"]: r["status"] for r in self.history_rows(handle)}
        self.assertEqual(statuses[kiln_workflows.SESSION_CREATE_ACTIVITY], "TIMED_OUT")
        self.assertNotIn("download", statuses)


def main() -> int:
    global BIN
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", required=True)
    args, rest = p.parse_known_args()
    BIN = os.path.abspath(args.bin)
    # SIGTERM unwinds like Ctrl-C: tearDownClass stops every process and removes the folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print("realserver: %d passed, %d failed" % (result.testsRun - failed, failed))
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
