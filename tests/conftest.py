"""Fixtures: a real broker for the session (Tansu, unless KAFKA_BOOTSTRAP_SERVERS names one)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, Cluster, CommandSender, EventReader

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.broker)
