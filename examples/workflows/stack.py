"""Starts and stops the processes of a local Temporal + Kiln setup, for scripts/demo --temporal
and tests/realserver: the real Temporal dev server (scripts/temporal-dev), Kiln workers, the
Python workflow worker (worker.py) and a file server.

Every process gets PR_SET_PDEATHSIG (it dies with the Python process that started it) and is
stopped by its own pid (SIGTERM, then SIGKILL after a grace period) in reverse start order.
Readiness is a line in the process's log, waited for with a deadline that raises on expiry.

    with Stack(tmp_dir) as stack:
        address = stack.temporal_dev(root)
        stack.start("train", [bin + "/kiln-train-worker", "--address", address, ...],
                    ready=r"polling task queues")
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
import time
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
_PR_SET_PDEATHSIG = 1


def _die_with_parent():  # runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class StackError(RuntimeError):
    pass


class Process:
    def __init__(self, name: str, popen: subprocess.Popen, log_path: str):
        self.name, self.popen, self.log_path = name, popen, log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match:
        """The first match of `pattern` in the log; raises StackError at the deadline or when the
        process exits first."""
        deadline = time.monotonic() + timeout_s
        regex = re.compile(pattern)
        while True:
            m = regex.search(self.log())
            if m:
                return m
            if self.popen.poll() is not None:
                raise StackError("%s exited with %s before printing /%s/; its log:\n%s" % (
                    self.name, self.popen.returncode, pattern, self.log()[-4000:]))
            if time.monotonic() > deadline:
                raise StackError("%s did not print /%s/ within %.0f s; its log:\n%s" % (
                    self.name, pattern, timeout_s, self.log()[-4000:]))
            time.sleep(0.05)


class Stack:
    def __init__(self, work_dir: str, stop_grace_s: float = 10.0):
        self.work_dir = work_dir
        self.stop_grace_s = stop_grace_s
        self.processes: List[Process] = []
        os.makedirs(work_dir, exist_ok=True)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()

    def start(self, name: str, argv: List[str], ready: Optional[str] = None,
              ready_timeout_s: float = 60.0, env: Optional[dict] = None) -> Process:
        log_path = os.path.join(self.work_dir, name + ".log")
        log = open(log_path, "wb")
        try:
            popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                                     env=dict(os.environ, **(env or {})))
        finally:
            log.close()
        process = Process(name, popen, log_path)
        self.processes.append(process)
        if ready:
            process.wait_for(ready, ready_timeout_s)
        return process

    def stop(self, process: Process) -> Optional[int]:
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGTERM)
            try:
                process.popen.wait(self.stop_grace_s)
            except subprocess.TimeoutExpired:
                print("stack: %s (pid %d) ignored SIGTERM for %.0f s; killing it" % (
                    process.name, process.pid, self.stop_grace_s), file=sys.stderr)
                process.popen.kill()
                process.popen.wait()
        return process.popen.returncode

    def stop_all(self) -> None:
        while self.processes:
            self.stop(self.processes.pop())

    # The pieces -------------------------------------------------------------------------------

    def temporal_dev(self, ready_timeout_s: float = 120.0) -> str:
        """Starts the real Temporal dev server on a free loopback port (installing the pinned CLI
        first when this machine has none); returns its address once it accepts gRPC."""
        process = self.start("temporal-dev", [os.path.join(ROOT, "scripts", "temporal-dev"),
                                              "--port", "0", "--db", ":memory:"])
        port = process.wait_for(r"temporal-dev: port (\d+)", ready_timeout_s).group(1)
        process.wait_for(r"on 127\.0\.0\.1:%s" % port, ready_timeout_s)
        address = "127.0.0.1:" + port
        _wait_for_grpc(process, address, ready_timeout_s)
        return address

    def workflow_worker(self, python: str, address: str, task_queue: str) -> Process:
        return self.start("workflow-worker",
                          [python, "-u", os.path.join(HERE, "worker.py"), "--address", address,
                           "--task-queue", task_queue],
                          ready=r"workflow worker ready", ready_timeout_s=60)

    def file_server(self, directory: str) -> str:
        process = self.start("http", [sys.executable, "-u", "-m", "http.server", "0", "--bind",
                                      "127.0.0.1", "--directory", directory],
                             ready=r"port \d+", ready_timeout_s=15)
        return "http://127.0.0.1:%s" % re.search(r"port (\d+)", process.log()).group(1)


def _wait_for_grpc(process: Process, address: str, timeout_s: float) -> None:
    """Waits until the server answers GetSystemInfo (the port opens before the frontend is up)."""
    import asyncio

    from temporalio.client import Client

    async def probe() -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.popen.poll() is not None:
                raise StackError("temporal-dev exited with %s; its log:\n%s" % (
                    process.popen.returncode, process.log()[-4000:]))
            try:
                await Client.connect(address)
                return
            except Exception as e:  # connection refused while the server starts
                if time.monotonic() > deadline:
                    raise StackError("temporal-dev on %s did not answer within %.0f s: %s" % (
                        address, timeout_s, e))
                await asyncio.sleep(0.2)

    asyncio.run(probe())


def write_demo_files(directory: str, names=("alpha.csv", "beta.csv"), rows: int = 50000) -> None:
    """The CSV files the demo downloads (the same content as plain scripts/demo)."""
    import random

    os.makedirs(directory, exist_ok=True)
    random.seed(6)
    for name in names:
        with open(os.path.join(directory, name), "w") as f:
            for i in range(rows):
                f.write("%d,%s,%.4f\n" % (i, name, random.random()))
