"""The service's Prometheus metrics, in base units, with low-cardinality labels only."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from . import __version__
from .events import EVENTS
from .lifecycle import Status

# Ping handling is usually a few milliseconds; the upper buckets catch broker trouble.
# The *_created series only repeat the process start time; dashboards do not use them.
disable_created_metrics()

PING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Owns one registry, so every worker (and every test) counts on its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "dummy_events", "Events acknowledged by the broker.", ["event"], registry=r
        )
        self.pings = Counter("dummy_pings", "Ping commands received.", registry=r)
        self.pongs = Counter("dummy_pongs", "Pong events acknowledged by the broker.", registry=r)
        self.status_last = Gauge(
            "dummy_status_last",
            "1 for the current lifecycle status, 0 for the others.",
            ["status"],
            registry=r,
        )
        self.ping_seconds = Histogram(
            "dummy_ping_handling_seconds",
            "Time from receiving a ping to the broker acknowledging its pong, "
            "less any delay the ping asked for.",
            buckets=PING_BUCKETS,
            registry=r,
        )
        self.commands = Counter(
            "dummy_commands", "Valid commands received for this queue.", ["command"], registry=r
        )
        self.rejected = Counter(
            "dummy_commands_rejected",
            "Control messages rejected, by reason.",
            ["reason"],
            registry=r,
        )
        self.publish_failures = Counter(
            "dummy_event_publish_failures",
            "Events the broker did not acknowledge.",
            ["event"],
            registry=r,
        )
        self.records = Counter(
            "dummy_records_written", "Records written by the loader emulation.", registry=r
        )
        self.last_event = Gauge(
            "dummy_last_event_timestamp_seconds",
            "When the last event was acknowledged.",
            registry=r,
        )
        self.ready = Gauge("dummy_ready", "1 while the worker is ready, else 0.", registry=r)
        self.build_info = Gauge(
            "dummy_build_info",
            "Always 1; the labels describe the build.",
            ["version"],
            registry=r,
        )
        self.build_info.labels(version=__version__).set(1)
        # Series that exist from the start at 0 let rate() and alerts see the first increase.
        for event in EVENTS:
            self.events.labels(event=event)
            self.publish_failures.labels(event=event)
        self.status_changed(Status.STARTING)

    def expect_commands(self, commands: Iterable[str]) -> None:
        """Start a series at 0 for every command the service knows."""
        for command in commands:
            self.commands.labels(command=command)

    def status_changed(self, current: Status) -> None:
        for status in Status:
            self.status_last.labels(status=status.value).set(int(status is current))

    def event_published(self, payload: dict[str, Any]) -> None:
        self.events.labels(event=payload["event"]).inc()
        self.last_event.set(payload.get("timestamp", time.time()))
        if payload["event"] == "pong":
            self.pongs.inc()

    def event_failed(self, event: str) -> None:
        self.publish_failures.labels(event=event).inc()

    def ping_received(self) -> None:
        self.pings.inc()

    def pong_published(self, seconds: float) -> None:
        self.ping_seconds.observe(seconds)

    def command_received(self, command: str) -> None:
        self.commands.labels(command=command).inc()

    def command_rejected(self, reason: str) -> None:
        self.rejected.labels(reason=reason).inc()

    def records_written(self, count: int) -> None:
        self.records.inc(count)

    def set_ready(self, ready: bool) -> None:
        self.ready.set(int(ready))

    @staticmethod
    def counts(counter: Counter, label: str) -> dict[str, int]:
        """A labelled counter's values above zero, e.g. ``{"pong": 3}``."""
        return {
            sample.labels[label]: int(sample.value)
            for metric in counter.collect()
            for sample in metric.samples
            if sample.name.endswith("_total") and sample.value
        }
