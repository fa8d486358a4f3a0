"""Start-up time of a worker, split into what is ours and what the imports and broker cost.

Measured from the moment the process is spawned, on this process's monotonic clock: when its
HTTP server first answers, when its `started` event arrives, when /readyz first answers 200.
Baselines, each in a fresh process: importing the app alone, and a bare aiokafka consumer
joining a group with the worker's session, heartbeat and rebalance settings.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from cli.client import ControlClient

from .common import (
    STARTUP_TIMEOUT,
    BenchmarkError,
    Context,
    median,
    spawn_worker,
    unique_queue_id,
    wait_started,
)
from .report import Row, Section

POLL_INTERVAL = 0.02


async def _first_http(port: int, started: float, deadline: float) -> dict[str, float]:
    """Seconds from ``started`` until the port answers anything, and until /readyz says 200."""
    from .common import http_status

    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        status = await http_status(port, "/readyz")
        if status is not None:
            seen.setdefault("http_up_s", time.monotonic() - started)
            if status == 200:
                seen["ready_s"] = time.monotonic() - started
                return seen
        await asyncio.sleep(POLL_INTERVAL)
    raise BenchmarkError(f"/readyz on port {port} did not answer 200 within {STARTUP_TIMEOUT:g} s")


async def worker_start(ctx: Context, client: ControlClient) -> dict[str, float]:
    """One cold start of ``python -m dummyservice``; the worker is stopped afterwards."""
    spawned = time.monotonic()
    worker = spawn_worker(ctx, "startup")
    try:
        http = asyncio.ensure_future(_first_http(worker.port, spawned, spawned + STARTUP_TIMEOUT))
        try:
            started = await wait_started(client, worker)
            timings = await asyncio.wait_for(http, STARTUP_TIMEOUT)
        finally:
            http.cancel()
        return {**timings, "started_s": started.at - spawned}
    finally:
        await worker.stop()


async def _time_child(ctx: Context, argv: list[str]) -> tuple[float, str]:
    """Seconds from spawning a child to its first line on stdout, and that line."""
    env = ctx.worker_env(unique_queue_id("baseline"))
    spawned = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT)  # type: ignore[union-attr]
        elapsed = time.monotonic() - spawned
        await asyncio.wait_for(process.wait(), STARTUP_TIMEOUT)
        if process.returncode != 0 or not line:
            stderr = await process.stderr.read()  # type: ignore[union-attr]
            raise BenchmarkError(
                f"{' '.join(argv[1:])} exited with code {process.returncode}:\n"
                f"{stderr.decode(errors='replace')[-2000:]}"
            )
        return elapsed, line.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def python_line(ctx: Context, imports: str) -> float:
    """Seconds until ``python -c "IMPORTS; print()"`` prints: interpreter start plus imports."""
    code = f"{imports}; print('imported', flush=True)" if imports else "print('ready')"
    return (await _time_child(ctx, [sys.executable, "-c", code]))[0]


async def group_join(ctx: Context) -> dict[str, float]:
    elapsed, line = await _time_child(ctx, [sys.executable, "-m", "benchmarks.group_join"])
    try:
        inside = json.loads(line)
    except ValueError:
        raise BenchmarkError(f"benchmarks.group_join printed {line!r}, not JSON") from None
    return {"assigned_s": elapsed, "join_s": inside["join_ms"] / 1000}


async def run(ctx: Context, runs: int) -> Section:
    python_pass, imports, joins, workers = [], [], [], []
    for _ in range(runs):
        python_pass.append(await python_line(ctx, ""))
        imports.append(await python_line(ctx, "import dummyservice.app"))
        joins.append(await group_join(ctx))
    async with ctx.connection.client() as client:
        for _ in range(runs):
            workers.append(await worker_start(ctx, client))

    def worker(key: str) -> float:
        return median([w[key] for w in workers])

    joined = median([j["assigned_s"] for j in joins])
    join_only = median([j["join_s"] for j in joins])
    imported = median(imports)
    bare = "bare aiokafka consumer: spawn -> partitions assigned + positioned"
    section = Section("startup", f"Start-up time: median of {runs} cold start(s) per measure")
    section.rows = [
        Row("spawn -> HTTP answers", worker("http_up_s"), imported, "python -c 'import app'", "s"),
        Row("spawn -> `started` event", worker("started_s"), joined, bare, "s"),
        Row("spawn -> /readyz 200", worker("ready_s"), joined, bare, "s"),
        Row("import dummyservice.app", imported, median(python_pass), "python -c pass", "s"),
    ]
    section.notes = [
        f"of the bare consumer's time, the group join itself (after imports) took {join_only:.2f} s"
        f" with session/heartbeat/rebalance {ctx.env.get('KAFKA_SESSION_TIMEOUT', '10')}/"
        f"{ctx.env.get('KAFKA_HEARTBEAT_INTERVAL', '3')}/"
        f"{ctx.env.get('KAFKA_REBALANCE_TIMEOUT', '10')} s",
        "`started` is timed when the event reaches this process (after the client's fetch wait)",
    ]
    section.details = {
        "runs": runs,
        "worker_s": workers,
        "python_pass_s": python_pass,
        "import_app_s": imports,
        "bare_consumer": joins,
    }
    return section
