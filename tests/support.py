"""Test helpers: worker processes, a command sender and an event reader on a real broker.

The sender and reader use confluent-kafka (librdkafka), a client independent of the
service's aiokafka, so the tests also prove that the message contract is plain Kafka + JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0

Event = dict[str, Any]


def unique(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ensure_topic(bootstrap: str, topic: str, timeout: float = 15.0) -> list[int]:
    """Create the topic if needed and return its partition ids."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        metadata = admin.list_topics(topic, timeout=5)
        found = metadata.topics.get(topic)
        if found is not None and found.error is None and found.partitions:
            return sorted(found.partitions)
        with contextlib.suppress(Exception):
            admin.create_topics([NewTopic(topic, num_partitions=4)])[topic].result(5)
        time.sleep(0.1)
    raise AssertionError(f"topic {topic} has no partitions after {timeout} s")


class CommandSender:
    def __init__(self, bootstrap: str, topic: str = "queue-control") -> None:
        self.topic = topic
        self._producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 2_000_000})

    def send(self, command: dict[str, Any] | bytes | None, key: bytes | None = None) -> None:
        value = (
            command
            if command is None or isinstance(command, bytes)
            else (json.dumps(command).encode())
        )
        self._producer.produce(self.topic, value=value, key=key)
        remaining = self._producer.flush(10)
        assert remaining == 0, "the broker did not take the command within 10 s"

    def command(self, queue_id: str, name: str, **fields: Any) -> str:
        """Send a command with a fresh correlation id and return that id."""
        correlation_id = fields.pop("correlation_id", None) or uuid.uuid4().hex
        payload = {
            "queue_id": queue_id,
            "command": name,
            "correlation_id": correlation_id,
            "sent_at": time.time(),
            **fields,
        }
        self.send(payload)
        return correlation_id


class EventReader:
    """Reads a topic from the beginning; tests tell their events apart by queue id."""

    def __init__(self, bootstrap: str, topic: str = "queue-events") -> None:
        self.topic = topic
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"tests-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        partitions = ensure_topic(bootstrap, topic)
        self._consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(partitions)]
        )
        self.raw: list[tuple[bytes | None, bytes | None]] = []
        self.events: list[Event] = []

    def poll(self, seconds: float = 0.2) -> None:
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            message = self._consumer.poll(min(remaining, 0.1))
            if message is None or message.error():
                continue
            self.raw.append((message.key(), message.value()))
            self.events.append(json.loads(message.value()))

    def of(self, queue_id: str, event: str | None = None) -> list[Event]:
        return [
            e
            for e in self.events
            if e.get("queue_id") == queue_id and (event is None or e["event"] == event)
        ]

    def wait_for(
        self, predicate: Callable[[Event], bool], timeout: float = 15.0, what: str = "event"
    ) -> Event:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s")
            self.poll(0.1)

    def wait_event(self, queue_id: str, event: str, timeout: float = 15.0, **fields: Any) -> Event:
        return self.wait_for(
            lambda e: (
                e.get("queue_id") == queue_id
                and e["event"] == event
                and all(e.get(k) == v for k, v in fields.items())
            ),
            timeout,
            what=f"{event} event for {queue_id} with {fields}",
        )

    def close(self) -> None:
        self._consumer.close()


class WorkerProcess:
    """One real worker process, its stdout lines collected in the background."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.env = env
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._threads = [
            threading.Thread(
                target=self._collect, args=(self.process.stdout, self.lines), daemon=True
            ),
            threading.Thread(
                target=self._collect, args=(self.process.stderr, self.stderr_lines), daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _collect(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    @property
    def port(self) -> int:
        """The worker's HTTP port (/metrics, /healthz, /readyz, /status)."""
        return int(self.env["METRICS_PORT"])

    def wait(self, timeout: float = 30.0) -> int:
        code = self.process.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=5)
        return code

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines if line.strip()]

    def output(self) -> str:
        return "\n".join(self.lines + self.stderr_lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Cluster:
    """The broker under test, and a way to start workers against it."""

    def __init__(self, bootstrap: str, profile: dict[str, str], tmp: Path) -> None:
        self.bootstrap = bootstrap
        self.profile = profile
        self.tmp = tmp
        self.workers: list[WorkerProcess] = []

    def env(self, queue_id: str, **overrides: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DUMMY_", "KAFKA_", "QUEUE_"))
            and key not in ("LOG_LEVEL", "TIME_RANGE", "SYMBOL", "CA_PATH", "METRICS_PORT")
        }
        env.update(self.profile)
        env.update(
            {
                "QUEUE_ID": queue_id,
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "DATA_DIR": str(self.tmp / "data"),
                "METRICS_PORT": str(free_port()),
                "METRICS_BIND": "127.0.0.1",
                "STARTUP_TIMEOUT": "30",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(overrides)
        return env

    def start(
        self, queue_id: str, *flags: str, command: list[str] | None = None, **env: str
    ) -> WorkerProcess:
        argv = command or [sys.executable, "-m", "dummyservice", *flags]
        worker = WorkerProcess(argv, self.env(queue_id, **env))
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()


def free_port() -> int:
    sys.path.insert(0, str(ROOT / "scripts"))
    from local_broker import free_port as _free_port

    return _free_port()


@contextlib.contextmanager
def started_worker(
    cluster: Cluster, reader: EventReader, queue_id: str, *flags: str, **env: str
) -> Iterator[WorkerProcess]:
    """A worker that has published `started`; killed afterwards if still running."""
    worker = cluster.start(queue_id, *flags, **env)
    try:
        reader.wait_event(queue_id, "started", timeout=STARTUP_TIMEOUT)
    except AssertionError:
        worker.stop()
        raise AssertionError(f"worker did not start:\n{worker.output()[-3000:]}") from None
    try:
        yield worker
    finally:
        worker.stop()


def broker_pid(bootstrap: str) -> int:
    """The PID of the local Tansu broker listening at ``bootstrap``."""
    port = bootstrap.rsplit(":", 1)[1]
    found = subprocess.run(
        ["pgrep", "-f", f"listener-url tcp://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=5,
    ).stdout.split()
    assert len(found) == 1, f"expected one broker on port {port}, found {found}"
    return int(found[0])
