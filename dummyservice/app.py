"""The Faust app: topics, the control agent, the events sink and the loader, wired together.

``faust -A dummyservice.app worker`` and ``python -m dummyservice`` both run this module.
Importing it validates the configuration, and exits with code 2 when it is wrong.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import faust
import faust.tables
from faust.types import TP

from .kafka import faust_credentials
from .loader import Loader
from .runtime import Runtime
from .startup import load_or_exit
from .transport import FETCH_MAX_WAIT_MS_SETTING, Transport

log = logging.getLogger(__name__)

settings, security = load_or_exit()


class DummyApp(faust.App):
    """A Faust app whose consumer uses our transport (see ``transport.py``)."""

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)


class TableManager(faust.tables.TableManager):
    """Faust's table manager without its one-second pause at start-up.

    Faust sleeps 1 s so that agents can declare tables before the consumer subscribes. This
    app declares none, and the pause would delay `started` (and readiness) by that second.
    """

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


def _consumer_group(queue_id: str, instance: str) -> str:
    # One group per run: every instance sees every command, and a new run starts at the end.
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"dummy-service.{queue_id}.{instance}")
    return f"{name[:180]}.{uuid.uuid4().hex[:12]}"


group_id = _consumer_group(settings.queue_id, settings.instance)
app = DummyApp(
    group_id,
    broker=[f"kafka://{server}" for server in settings.kafka.bootstrap_servers],
    broker_credentials=faust_credentials(security),
    broker_session_timeout=settings.session_timeout,
    broker_heartbeat_interval=settings.heartbeat_interval,
    broker_rebalance_timeout=settings.rebalance_timeout,
    consumer_auto_offset_reset="latest",
    topic_disable_leader=True,
    producer_acks=-1,
    # Faust waits 20 minutes by default; an event the broker cannot take in 30 s is reported.
    producer_request_timeout=30.0,
    web_enabled=False,
    datadir=str(settings.data_dir),
    Worker="dummyservice.worker:Worker",
    TableManager=TableManager,
)
setattr(app, FETCH_MAX_WAIT_MS_SETTING, settings.fetch_max_wait_ms)

control_topic = app.topic(
    settings.control_topic,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",  # we decode the bytes ourselves: bad input must never raise here
)


async def send_event(key: bytes, value: bytes) -> None:
    await app.producer.send_and_wait(settings.events_topic, key, value, None, None, None)


async def send_record(key: bytes, value: bytes) -> None:
    assert settings.data_topic is not None
    await app.producer.send_and_wait(settings.data_topic, key, value, None, None, None)


behaviour = settings.behaviour
loader = (
    Loader(
        symbol=settings.symbol,
        time_range=settings.time_range,
        batch_size=behaviour.batch_size,
        records_total=behaviour.records_total,
        send_record=send_record if behaviour.emit_data else None,
    )
    if behaviour.simulate_loading or behaviour.emit_data or behaviour.records_total
    else None
)
runtime = Runtime(settings, send_event, loader=loader)
app.runtime = runtime  # type: ignore[attr-defined]  # the worker reaches the runtime here


async def control(stream: faust.StreamT[bytes]) -> None:
    """Dispatch every control-topic message; bad input is answered, never raised."""
    async for event in stream.events():
        await runtime.handle(event.value, event.message.timestamp)


if behaviour.noop:
    app.producer_only = True  # Faust starts no consumer at all

    @app.task
    async def start_without_consumer() -> None:
        runtime.readiness.update(partitions_held=True)  # there are none to hold
        await runtime.on_listening()

else:
    app.agent(control_topic, name="dummyservice.control")(control)

    @app.on_partitions_assigned.connect
    async def on_partitions_assigned(sender: Any, assigned: set[TP], **_: Any) -> None:
        owned = [tp for tp in assigned if tp.topic == settings.control_topic]
        if not owned:
            runtime.readiness.update(partitions_held=False)
        elif not runtime.lifecycle.ended:
            # Publishing `started` from inside the rebalance would delay it; do it next.
            app.add_future(_announce_when_positioned(owned))

    @app.on_partitions_revoked.connect
    async def on_partitions_revoked(sender: Any, revoked: set[TP], **_: Any) -> None:
        if any(tp.topic == settings.control_topic for tp in revoked):
            runtime.readiness.update(partitions_held=False)


async def _announce_when_positioned(partitions: list[TP]) -> None:
    """Publish `started` once every control partition has a resolved position.

    Until then, "start from the end" is not fixed yet: a command sent in reaction to an
    earlier `started` could land before the end we later seek to, and be skipped.
    """
    try:
        for tp in partitions:
            await app.consumer.position(tp)
    except Exception:
        log.exception("Could not resolve the control topic positions")
        return
    runtime.readiness.update(partitions_held=True)
    await runtime.on_listening()
