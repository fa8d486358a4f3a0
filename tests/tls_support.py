"""TLS for tests: certificates made on the fly and a TLS terminator in front of a Tansu broker.

Tansu's own TLS does not work, so ``socat`` (Debian package ``socat``) terminates TLS on a free
127.0.0.1 port and forwards to the broker's plaintext port. The broker advertises the TLS port,
so every client connection after bootstrap also goes through TLS.

Use the fixtures from another test module by importing them::

    from tests.tls_support import tls_broker, tls_certificates  # noqa: F401

or call the context managers directly (``tls_terminator``, ``running_tls_broker``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.support import ROOT, free_port

sys.path.insert(0, str(ROOT / "scripts"))
from local_broker import running_broker

SERVER_NAMES = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class Certificates:
    """PEM files: the CA a client trusts, and the certificate and key a server presents."""

    ca: Path
    cert: Path
    key: Path


def issue_certificates(
    directory: Path,
    names: tuple[str, ...] = SERVER_NAMES,
    *,
    ca: trustme.CA | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Certificates:
    """Write a CA and a server certificate for ``names`` (host names or IP addresses)."""
    ca = ca or trustme.CA()
    server = ca.issue_cert(*names, not_before=not_before, not_after=not_after)
    directory.mkdir(parents=True, exist_ok=True)
    files = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(files.ca))
    server.private_key_pem.write_to_path(str(files.key))
    files.cert.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    return files


def issue_expired_certificates(directory: Path, ca: trustme.CA | None = None) -> Certificates:
    """A server certificate for ``SERVER_NAMES`` that expired yesterday."""
    now = dt.datetime.now(dt.UTC)
    return issue_certificates(
        directory,
        ca=ca,
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )


def write_unrelated_ca(path: Path) -> Path:
    """A CA certificate that signed nothing any test broker presents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


@contextlib.contextmanager
def tls_terminator(
    target_port: int,
    certificates: Certificates,
    *,
    port: int | None = None,
    timeout: float = 10.0,
) -> Iterator[int]:
    """Run socat: TLS on ``port`` (default: a free one) → plaintext 127.0.0.1:``target_port``.

    socat forks a child per connection; it runs in a session of its own, so stopping it kills
    exactly that process group: the socat we started and its children.
    """
    binary = shutil.which("socat")
    if binary is None:
        raise RuntimeError("socat is not installed: apt-get install socat (CI installs it)")
    port = port or free_port()
    listen = (
        f"openssl-listen:{port},bind=127.0.0.1,reuseaddr,fork,"
        f"cert={certificates.cert},key={certificates.key},verify=0"
    )
    process = subprocess.Popen(
        [binary, listen, f"tcp:127.0.0.1:{target_port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_port(port, process, timeout)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"socat exited with code {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"socat did not listen on port {port} within {timeout} s")


@dataclass(frozen=True)
class TlsBroker:
    """A Tansu broker reachable only through TLS; ``bootstrap`` is ``localhost:<tls port>``."""

    bootstrap: str
    tls_port: int
    plain_port: int
    certificates: Certificates

    def client_config(self, **extra: Any) -> dict[str, Any]:
        """confluent-kafka (librdkafka) settings for a client that trusts the broker's CA."""
        return {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": "SSL",
            "ssl.ca.location": str(self.certificates.ca),
            **extra,
        }

    def worker_env(self) -> dict[str, str]:
        """The service's variables for reaching this broker."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_CA_PATH": str(self.certificates.ca),
        }


@contextlib.contextmanager
def running_tls_broker(
    certificates: Certificates, *, authentication: bool = False
) -> Iterator[TlsBroker]:
    """A fresh Tansu that advertises a TLS port, with socat terminating TLS on that port."""
    tls_port = free_port()
    with running_broker(authentication=authentication, advertised_port=tls_port) as plain:
        plain_port = int(plain.rsplit(":", 1)[1])
        with tls_terminator(plain_port, certificates, port=tls_port):
            yield TlsBroker(f"localhost:{tls_port}", tls_port, plain_port, certificates)


@pytest.fixture(scope="session")
def tls_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A CA and a certificate for localhost and 127.0.0.1, shared by the session."""
    return issue_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def tls_broker(tls_certificates: Certificates) -> Iterator[TlsBroker]:
    """A Tansu broker behind a TLS terminator, shared by the session."""
    with running_tls_broker(tls_certificates) as broker:
        yield broker


class TlsClient:
    """Sends commands and reads events over TLS with confluent-kafka, like an operator's tool."""

    def __init__(
        self,
        broker: TlsBroker,
        control_topic: str = "queue-control",
        events_topic: str = "queue-events",
    ) -> None:
        self.control_topic = control_topic
        self._producer = Producer(broker.client_config())
        self._consumer = Consumer(
            broker.client_config(
                **{
                    "group.id": f"tests-tls-{uuid.uuid4().hex}",
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                }
            )
        )
        partitions = _ensure_topic(AdminClient(broker.client_config()), events_topic)
        self._consumer.assign(
            [TopicPartition(events_topic, p, OFFSET_BEGINNING) for p in partitions]
        )
        self.events: list[dict[str, Any]] = []

    def send(self, command: dict[str, Any]) -> None:
        self._producer.produce(self.control_topic, value=json.dumps(command).encode())
        assert self._producer.flush(10) == 0, "the broker did not take the command within 10 s"

    def command(self, queue_id: str, name: str, **fields: Any) -> str:
        """Send a command with a fresh correlation id and return that id."""
        correlation_id = uuid.uuid4().hex
        self.send(
            {
                "queue_id": queue_id,
                "command": name,
                "correlation_id": correlation_id,
                "sent_at": time.time(),
                **fields,
            }
        )
        return correlation_id

    def poll(self, seconds: float = 0.2) -> None:
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            message = self._consumer.poll(min(remaining, 0.1))
            if message is not None and not message.error():
                self.events.append(json.loads(message.value()))

    def of(self, queue_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("queue_id") == queue_id]

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no matching event within {timeout} s; saw {self.events[-5:]}"
                )
            self.poll(0.1)

    def wait_event(
        self, queue_id: str, event: str, timeout: float = 15.0, **fields: Any
    ) -> dict[str, Any]:
        return self.wait_for(
            lambda e: (
                e.get("queue_id") == queue_id
                and e.get("event") == event
                and all(e.get(k) == v for k, v in fields.items())
            ),
            timeout,
        )

    def close(self) -> None:
        self._consumer.close()
        self._producer.flush(5)


def _ensure_topic(admin: AdminClient, topic: str, timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = admin.list_topics(topic, timeout=5).topics.get(topic)
        if found is not None and found.error is None and found.partitions:
            return sorted(found.partitions)
        with contextlib.suppress(Exception):
            admin.create_topics([NewTopic(topic, num_partitions=4)])[topic].result(5)
        time.sleep(0.1)
    raise AssertionError(f"topic {topic} has no partitions after {timeout} s")
