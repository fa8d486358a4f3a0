"""Resident memory of a worker: idle, after answering pings, after simulated loading.

RSS and its peak (VmHWM) come from /proc/PID/status. Baselines: a Python process that has
only imported the libraries and the service's modules (no broker connection), and a bare one.
"""

from __future__ import annotations

import asyncio
import sys
import time

from .common import (
    STARTUP_TIMEOUT,
    BenchmarkError,
    Context,
    memory_mib,
    spawn_worker,
    unique_queue_id,
    wait_started,
)
from .latency import ping_many
from .report import Row, Section

SETTLE_SECONDS = 2.0
LOADING_INTERVAL = 0.1
# What `python -m dummyservice` imports, without running anything.
IMPORTS = "import faust, aiokafka, dummyservice.app, dummyservice.worker, dummyservice.web"
_WAIT = "import sys; print('ready', flush=True); sys.stdin.read()"


async def idle_process_rss(ctx: Context, code: str) -> dict[str, float]:
    """RSS of ``python -c CODE`` once it has printed its line, while it waits on stdin."""
    env = ctx.worker_env(unique_queue_id("memory"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        f"{code}; {_WAIT}" if code else _WAIT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT)  # type: ignore[union-attr]
        if line.strip() != b"ready":
            stderr = await asyncio.wait_for(process.stderr.read(), 5)  # type: ignore[union-attr]
            raise BenchmarkError(f"python -c {code!r} failed:\n{stderr.decode()[-2000:]}")
        return memory_mib(process.pid)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def pinged_worker(ctx: Context, pings: int) -> dict[str, dict[str, float]]:
    """RSS of one worker after start-up, then after ``pings`` pings."""
    async with ctx.connection.client() as client:
        worker = spawn_worker(ctx, "memory")
        try:
            await wait_started(client, worker)
            await asyncio.sleep(SETTLE_SECONDS)
            idle = memory_mib(worker.pid)
            await ping_many(client, worker, pings)
            return {"idle": idle, "pinged": memory_mib(worker.pid)}
        finally:
            await worker.stop()


async def loading_worker(ctx: Context, seconds: float) -> tuple[dict[str, float], int]:
    """RSS of a worker after ``seconds`` of simulated loading, and its `loading` events."""
    flags = ("--simulate-loading", "--loading-interval", str(LOADING_INTERVAL))
    async with ctx.connection.client() as client:
        worker = spawn_worker(ctx, "loading", *flags)
        queue_id = worker.env["QUEUE_ID"]
        try:
            await wait_started(client, worker)
            loading = 0
            deadline = time.monotonic() + seconds
            # Reading the events as they come keeps this client's fetches small.
            while (remaining := deadline - time.monotonic()) > 0:
                worker.check_running("the loading worker")
                for received in await client.poll(min(remaining, 0.5)):
                    event = received.event
                    loading += event.get("queue_id") == queue_id and event.get("event") == "loading"
            return memory_mib(worker.pid), loading
        finally:
            await worker.stop()


async def run(ctx: Context, pings: int, loading_seconds: float) -> Section:
    bare = await idle_process_rss(ctx, "")
    imports = await idle_process_rss(ctx, IMPORTS)
    pinged = await pinged_worker(ctx, pings)
    loaded, loading_events = await loading_worker(ctx, loading_seconds)

    base = imports["VmRSS"]
    imports_only = "python with the service's imports only"
    loading = f"worker after {loading_seconds:g} s of loading"
    section = Section("memory", "Memory (RSS from /proc/PID/status)")
    section.rows = [
        Row("worker idle after start-up", pinged["idle"]["VmRSS"], base, imports_only, "MiB"),
        Row(f"worker after {pings} pings", pinged["pinged"]["VmRSS"], base, imports_only, "MiB"),
        Row(loading, loaded["VmRSS"], base, imports_only, "MiB"),
        Row("worker peak (VmHWM), loading", loaded["VmHWM"], imports["VmHWM"], "imports", "MiB"),
        Row("service's imports only", base, bare["VmRSS"], "bare python", "MiB"),
    ]
    section.notes = [
        f"loading: --simulate-loading --loading-interval {LOADING_INTERVAL:g},"
        f" {loading_events} `loading` events seen",
        f"idle is measured {SETTLE_SECONDS:g} s after `started`",
    ]
    section.details = {
        "pings": pings,
        "loading_seconds": loading_seconds,
        "loading_events": loading_events,
        "worker": {**pinged, "loading": loaded},
        "imports_only": imports,
        "bare_python": bare,
    }
    return section
