"""The runtime half of check_deploy.py: `kiln worker`, started with the settings file a deployment
ships, must serve the paths its probes use. check_probes_served starts a `kiln dev` (memory store)
and that worker on port 0, waits for 200 on each path, and records each result through `check`
(check_deploy.check). Both processes die with this one and are killed by their own pid.
"""
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("timed out after %ss waiting for %s" % (seconds, what))


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def check_probes_served(kiln, settings_text, probe_paths, check):
    """kiln worker with the deployed settings serves the probe paths (port 0 for the test)."""
    tmp = tempfile.mkdtemp(prefix="kiln_deploy_")
    procs = []
    try:
        dev = subprocess.Popen([kiln, "dev", "--port", "0", "--db", ":memory:", "--log-level", "warn"],
                               stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
        procs.append(dev)
        line = dev.stdout.readline()
        address = re.search(r"127\.0\.0\.1:\d+", line)
        if not check("kiln dev starts for the probe check", bool(address), line):
            return
        settings = os.path.join(tmp, "kiln-worker.toml")
        with open(settings, "w") as f:
            f.write(settings_text)
        log = open(os.path.join(tmp, "worker.log"), "w+")
        worker = subprocess.Popen([kiln, "worker", "--config", settings, "--address", address.group(0),
                                   "--host-id", "deploy-check", "--metrics-port", "0",
                                   "--metrics-address", "127.0.0.1", "--simulate-gpus", "1xH100:80:sm90"],
                                  stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        procs.append(worker)

        def url():
            log.seek(0)
            m = re.search(r"metrics on (http://127\.0\.0\.1:\d+)/metrics", log.read())
            return m.group(1) if m else None
        base = wait_for(url, 30, "the worker's metrics URL in its log")
        for path in sorted(probe_paths):
            status = wait_for(lambda: http_get(base + path)[0] == 200 and 200, 30,
                              "GET %s to answer 200" % path)
            check("kiln worker with the deployed settings answers GET %s" % path, status == 200)
    except TimeoutError as e:
        check("kiln worker with the deployed settings serves the probe paths", False, str(e))
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
