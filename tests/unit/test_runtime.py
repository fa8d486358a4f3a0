"""The runtime's ordering rules, driven through an in-memory topic instead of Kafka.

The topic behaves like a Kafka client does: a message handed over is on its way at once, and
the acknowledgement comes later. Cancelling the wait for it does not take the message back.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from dummyservice.events import Identity
from dummyservice.lifecycle import Outcome
from dummyservice.loader import Loader
from dummyservice.runtime import Runtime
from dummyservice.settings import load_settings
from dummyservice.sink import EventSink


class Topic:
    def __init__(self, ack_delay: float = 0.0) -> None:
        self.values: list[dict[str, Any]] = []
        self.ack_delay = ack_delay

    async def send(self, key: bytes, value: bytes) -> None:
        self.values.append(json.loads(value))
        await asyncio.sleep(self.ack_delay)

    def names(self) -> list[str]:
        return [value["event"] for value in self.values]


def runtime(events: Topic, data: Topic | None = None, **env: str) -> Runtime:
    settings = load_settings({"QUEUE_ID": "q", "POD_NAME": "pod-1", **env})
    loader = None
    if data is not None:
        behaviour = settings.behaviour
        loader = Loader(
            symbol="ACME",
            time_range=None,
            batch_size=behaviour.batch_size,
            send_record=data.send,
        )
    return Runtime(settings, events.send, loader=loader)


def ping(correlation_id: str) -> bytes:
    return json.dumps(
        {"queue_id": "q", "command": "ping", "correlation_id": correlation_id}
    ).encode()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_an_event_cut_off_while_sending_still_uses_up_its_number():
    async def scenario() -> list[int]:
        topic = Topic(ack_delay=10)
        identity = Identity("q", None, "dummy", None, "dummy", "pod-1")
        sink = EventSink(identity, topic.send)
        loading = asyncio.ensure_future(sink.publish("loading", "loading", {}))
        await settle()
        loading.cancel()  # as the end of a run cancels a loading tick
        topic.ack_delay = 0
        await sink.publish("interrupted", "interrupted", {})
        return [value["seq"] for value in topic.values]

    assert asyncio.run(scenario()) == [1, 2]


def test_the_end_of_a_run_counts_the_loading_batch_it_interrupts():
    async def scenario() -> tuple[int, dict[str, Any]]:
        events, data = Topic(), Topic(ack_delay=0.2)
        service = runtime(
            events,
            data,
            KAFKA_TOPIC="data",
            DUMMY_EMIT_DATA="1",
            DUMMY_LOADING_INTERVAL="0.01",
            DUMMY_BATCH_SIZE="7",
        )
        await service.on_listening()
        while not data.values:  # the first batch is on its way, not yet acknowledged
            await asyncio.sleep(0.005)
        await service.end(Outcome.INTERRUPTED, "Stopped")
        return len(data.values), events.values[-1]

    on_topic, terminal = asyncio.run(scenario())
    assert terminal["event"] == "interrupted"
    assert terminal["records_written"] == on_topic == 7


def test_a_command_seen_before_started_is_answered_after_it():
    async def scenario() -> list[tuple[str, str]]:
        events = Topic()
        service = runtime(events)
        # The consumer holds its partitions a moment before `started` is published.
        answering = asyncio.ensure_future(service.handle(ping("c-1")))
        await settle()
        await service.on_listening()
        await asyncio.wait_for(answering, 1)
        return [(value["event"], value["status"]) for value in events.values]

    assert asyncio.run(scenario()) == [("started", "started"), ("pong", "started")]


def test_a_run_that_ends_before_it_starts_answers_no_command():
    async def scenario() -> list[str]:
        events = Topic()
        service = runtime(events)
        waiting = asyncio.ensure_future(service.handle(ping("c-1")))
        await settle()
        await service.end(Outcome.INTERRUPTED, "Stopped during start-up")
        await asyncio.wait_for(waiting, 1)
        return events.names()

    assert asyncio.run(scenario()) == []


class FailingTopic(Topic):
    async def send(self, key: bytes, value: bytes) -> None:
        if json.loads(value)["event"] == "pong":
            raise ConnectionError("the broker went away")
        await super().send(key, value)


def test_a_delayed_pong_that_cannot_be_published_does_not_end_the_run():
    async def scenario() -> tuple[list[str], bool]:
        events = FailingTopic()
        service = runtime(events)
        await service.on_listening()
        delayed = {"queue_id": "q", "command": "ping", "delay_ms": 10, "correlation_id": "c-1"}
        await service.handle(json.dumps(delayed).encode())
        await asyncio.sleep(0.1)
        return events.names(), service.lifecycle.ended

    assert asyncio.run(scenario()) == (["started"], False)
