"""A Python SDK activity worker, a peer of `kiln worker` for the conformance suite and benchmarks.

Serves peer.noop (returns nothing at once) and peer.sleep(ms) (sleeps in 100 ms steps,
heartbeating {"current": ms slept, "total": ms}, resuming from the previous attempt's heartbeat
details, honouring cancellation; returns the total slept).

    python worker.py --address 127.0.0.1:7233 --namespace default --task-queue peers

Once it polls it prints `peer worker polling <queue> namespace=<ns> identity=<id>`; SIGINT/SIGTERM
stop it gracefully. Needs the temporalio package (scripts/python-env installs the pinned one).
"""
import argparse
import asyncio
import os
import signal
import sys

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker


@activity.defn(name="peer.noop")
async def noop() -> None:
    return None


@activity.defn(name="peer.sleep")
async def sleep(ms: int) -> int:
    done = 0
    details = activity.info().heartbeat_details
    if details:
        done = int(details[0].get("current", 0))
    while done < ms:
        step = min(100, ms - done)
        await asyncio.sleep(step / 1000)  # raises CancelledError when the activity is cancelled
        done += step
        activity.heartbeat({"current": done, "total": ms})
    return done


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", default="peers")
    args = parser.parse_args()
    identity = f"{os.getpid()}@python-peer"
    try:
        client = await Client.connect(args.address, namespace=args.namespace, identity=identity)
    except Exception as err:  # connection refused, TLS, ...: say what and where
        print(f"python peer: cannot connect to {args.address}: {err}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=args.task_queue, activities=[noop, sleep], identity=identity):
        print(f"peer worker polling {args.task_queue} namespace={args.namespace} identity={identity}", flush=True)
        await stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
