"""Fixtures: a real broker for the session (Tansu, unless KAFKA_BOOTSTRAP_SERVERS names one)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, Cluster, CommandSender, EventReader, broker_pid

sys.path.insert(0, str(ROOT / "scripts"))
from local_broker import LOCAL_PROFILE, running_broker


@pytest.fixture(scope="session")
def broker() -> Iterator[tuple[str, dict[str, str]]]:
    """The bootstrap address and the client profile that suits that broker."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        # Someone else's broker, probably real Kafka: keep the service's production defaults.
        yield given, {}
        return
    with running_broker() as bootstrap:
        yield bootstrap, dict(LOCAL_PROFILE)


@pytest.fixture
def cluster(broker: tuple[str, dict[str, str]], tmp_path: Path) -> Iterator[Cluster]:
    bootstrap, profile = broker
    cluster = Cluster(bootstrap, profile, tmp_path)
    yield cluster
    cluster.stop_all()


@pytest.fixture
def sender(cluster: Cluster) -> CommandSender:
    return CommandSender(cluster.bootstrap)


@pytest.fixture
def reader(cluster: Cluster) -> Iterator[EventReader]:
    reader = EventReader(cluster.bootstrap)
    yield reader
    reader.close()


class PrivateBroker:
    """A broker of one test's own, which it may freeze without disturbing the others."""

    def __init__(self, cluster: Cluster, reader: EventReader, pid: int) -> None:
        self.cluster = cluster
        self.reader = reader
        self.pid = pid

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    with running_broker() as bootstrap:
        cluster = Cluster(bootstrap, dict(LOCAL_PROFILE), tmp_path)
        broker = PrivateBroker(cluster, EventReader(bootstrap), broker_pid(bootstrap))
        try:
            yield broker
        finally:
            broker.thaw()
            cluster.stop_all()
            broker.reader.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"cluster", "private_broker"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.broker)
