"""What every benchmark shares: the broker connection, worker processes, statistics, RSS."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cli.actions import Connection
from cli.client import ControlClient, Event, Received
from cli.report import percentile
from dummyservice.kafka import resolve_security
from dummyservice.settings import load_kafka_settings

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 60.0
# Variables of the caller's shell that would change what a benchmarked worker does.
_WORKER_OWNED = ("QUEUE_ID", "LOG_LEVEL", "TIME_RANGE", "SYMBOL", "METRICS_PORT", "METRICS_BIND")


class BenchmarkError(Exception):
    """A benchmark could not run; ``str()`` says what went wrong and what to check."""


@dataclass
class Context:
    """The broker under test, a scratch directory, and every process the benchmarks start."""

    env: dict[str, str]
    broker: str
    broker_origin: str
    tmp: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def connection(self) -> Connection:
        kafka = load_kafka_settings(self.env)
        return Connection(
            kafka,
            resolve_security(kafka),
            control_topic=self.env.get("QUEUE_CONTROL_TOPIC", "queue-control"),
            events_topic=self.env.get("QUEUE_EVENTS_TOPIC", "queue-events"),
            connect_timeout=10.0,
            # The CLI's own default: see cli/runner.py.
            fetch_max_wait_ms=max(1, int(self.env.get("KAFKA_FETCH_MAX_WAIT_MS", "100"))),
        )

    def worker_env(self, queue_id: str) -> dict[str, str]:
        """The environment of one worker: this broker, its own queue id, port and data dir."""
        env = {
            key: value
            for key, value in self.env.items()
            if not key.startswith("DUMMY_") and key not in _WORKER_OWNED
        }
        data_dir = self.tmp / queue_id
        data_dir.mkdir(parents=True, exist_ok=True)
        env.update(
            {
                "QUEUE_ID": queue_id,
                "METRICS_PORT": str(free_port()),
                "METRICS_BIND": "127.0.0.1",
                "DATA_DIR": str(data_dir),
                "STARTUP_TIMEOUT": "30",
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def spawn(self, argv: list[str], env: Mapping[str, str], log_name: str) -> Spawned:
        """Start a process with its output in a log file; ``stop_all`` ends it at the latest."""
        log_path = self.tmp / f"{log_name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                argv, env=dict(env), cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return Spawned(process, log_path, dict(env))

    def stop_all(self) -> None:
        """Kill every process this run started that is still running (exactly those)."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)


@dataclass
class Spawned:
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.env["METRICS_PORT"])

    def output_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def check_running(self, what: str) -> None:
        code = self.process.poll()
        if code is not None:
            raise BenchmarkError(
                f"{what} exited with code {code} (log {self.log_path}):\n{self.output_tail()}"
            )

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, so the worker leaves cleanly; SIGKILL if it takes longer than ``timeout``."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def free_port() -> int:
    sys.path.insert(0, str(ROOT / "scripts"))
    from local_broker import free_port as _free_port

    return _free_port()


def unique_queue_id(purpose: str) -> str:
    return f"bench-{purpose}-{uuid.uuid4().hex[:8]}"


def spawn_worker(ctx: Context, purpose: str, *flags: str) -> Spawned:
    """``python -m dummyservice`` for a queue of its own."""
    queue_id = unique_queue_id(purpose)
    return ctx.spawn(
        [sys.executable, "-m", "dummyservice", *flags], ctx.worker_env(queue_id), queue_id
    )


async def wait_for_event(
    client: ControlClient,
    predicate: Callable[[Event], bool],
    timeout: float,
    what: str,
    process: Spawned | None = None,
) -> Received:
    """The first event matching ``predicate``; fails early if ``process`` dies meanwhile."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        if process is not None:
            process.check_running(f"the worker waited on for {what}")
        for received in await client.poll(min(remaining, 0.25)):
            if predicate(received.event):
                return received
    tail = f":\n{process.output_tail()}" if process is not None else ""
    raise BenchmarkError(f"no {what} within {timeout:g} s{tail}")


async def wait_started(client: ControlClient, worker: Spawned) -> Received:
    queue_id = worker.env["QUEUE_ID"]
    return await wait_for_event(
        client,
        lambda e: e.get("queue_id") == queue_id and e.get("event") == "started",
        STARTUP_TIMEOUT,
        f"`started` event from queue {queue_id}",
        worker,
    )


async def http_status(port: int, path: str, timeout: float = 0.5) -> int | None:
    """The HTTP status of ``GET path`` on 127.0.0.1, or None when nothing answers."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        parts = line.split()
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def memory_mib(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of a live process, in MiB."""
    found: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(rest.split()[0]) / 1024  # kB
    return found


def distribution(values: list[float]) -> dict[str, float]:
    """Nearest-rank percentiles (measured values, never interpolated), max and mean."""
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": sum(values) / len(values),
        "min": min(values),
    }


def median(values: list[float]) -> float:
    return percentile(values, 50)
