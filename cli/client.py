"""A small request/reply client: send commands to the control topic, read events back.

The client never joins a consumer group. It assigns every partition of the events topic, seeks
to the end and confirms the position *before* it sends anything, so a fast reply cannot be missed
and nothing is left behind on the broker. Replies are matched on ``correlation_id`` only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from dummyservice.kafka import KafkaUnavailable, Security, classify_error, probe
from dummyservice.settings import KafkaSettings

log = logging.getLogger(__name__)

Event = dict[str, Any]


@dataclass(frozen=True)
class Received:
    """An event read from the events topic, stamped with the CLI's monotonic clock."""

    event: Event
    at: float


class SendFailed(Exception):
    """The broker answered, but refused the command (too large, not authorised, ...)."""


class TopicMissing(Exception):
    """The events topic has no partitions (it does not exist and the broker will not create it)."""


class ControlClient:
    """Sends commands and reads events; use as ``async with ControlClient(...) as client``."""

    def __init__(
        self,
        kafka: KafkaSettings,
        security: Security,
        *,
        control_topic: str,
        events_topic: str,
        connect_timeout: float,
        fetch_max_wait_ms: int = 100,
    ) -> None:
        self._kafka = kafka
        self._security = security
        self.control_topic = control_topic
        self.events_topic = events_topic
        self._connect_timeout = connect_timeout
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._producer: Any = None
        self._consumer: Any = None

    async def __aenter__(self) -> ControlClient:
        await probe(self._kafka.bootstrap_servers, self._security, self._connect_timeout)
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        common = {
            "bootstrap_servers": list(self._kafka.bootstrap_servers),
            "client_id": "dummy-service-cli",
            "request_timeout_ms": int(self._connect_timeout * 1000),
            **self._security.aiokafka_kwargs(),
        }
        self._producer = AIOKafkaProducer(**common, linger_ms=0)
        self._consumer = AIOKafkaConsumer(
            **common,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=self._fetch_max_wait_ms,
        )
        try:
            await asyncio.wait_for(self._producer.start(), self._connect_timeout)
            await asyncio.wait_for(self._consumer.start(), self._connect_timeout)
            await asyncio.wait_for(self._subscribe_at_end(), self._connect_timeout)
        except TimeoutError:
            raise KafkaUnavailable(
                "unreachable",
                f"Kafka at {','.join(self._kafka.bootstrap_servers)} did not answer within "
                f"{self._connect_timeout:g} s",
            ) from None
        except (KafkaUnavailable, TopicMissing):
            raise
        except Exception as exc:
            raise classify_error(
                exc, self._kafka.bootstrap_servers, self._connect_timeout
            ) from None

    async def _subscribe_at_end(self) -> None:
        from aiokafka import TopicPartition
        from aiokafka.errors import KafkaTimeoutError

        try:
            # Asking for the topic by name lets a broker with auto-creation create it.
            partitions = await self._producer.partitions_for(self.events_topic)
        except KafkaTimeoutError:
            partitions = None
        if not partitions:
            raise TopicMissing(f"topic {self.events_topic} has no partitions: does it exist?")
        assigned = [TopicPartition(self.events_topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        for partition in assigned:
            # Resolving the position now pins "the end" to before our first command.
            await self._consumer.position(partition)

    async def send(
        self, queue_id: str, command: str, fields: Mapping[str, Any] | None = None
    ) -> Any:
        """Send one command with a fresh ``correlation_id`` and return that id.

        ``fields`` are added last, so they may replace any field (also ``correlation_id``,
        whose value is then returned): that is how invalid commands are tested.
        """
        payload = {
            "queue_id": queue_id,
            "command": command,
            "sent_at": time.time(),
            "correlation_id": uuid.uuid4().hex,
            **(fields or {}),
        }
        await self.send_raw(json.dumps(payload).encode(), key=queue_id.encode())
        return payload["correlation_id"]

    async def send_raw(self, value: bytes, key: bytes | None = None) -> None:
        """Send bytes as they are, and wait until the broker has taken them."""
        from aiokafka.errors import (
            KafkaConnectionError,
            KafkaError,
            KafkaTimeoutError,
            NodeNotReadyError,
        )

        try:
            await asyncio.wait_for(
                self._producer.send_and_wait(self.control_topic, value=value, key=key),
                self._connect_timeout,
            )
        except (TimeoutError, KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError):
            raise KafkaUnavailable(
                "unreachable",
                f"Kafka at {','.join(self._kafka.bootstrap_servers)} did not take the command "
                f"within {self._connect_timeout:g} s",
            ) from None
        except KafkaError as exc:
            raise SendFailed(f"the broker did not take the command: {type(exc).__name__}") from None

    async def poll(self, timeout: float) -> list[Received]:
        """Events that arrive within ``timeout`` seconds (fewer when the topic is silent)."""
        if timeout <= 0:
            return []
        batches = await self._consumer.getmany(timeout_ms=max(1, int(timeout * 1000)))
        at = time.monotonic()
        received = []
        for records in batches.values():
            for record in records:
                event = _decode(record.value)
                if event is not None:
                    received.append(Received(event, at))
        return received

    async def events(self, deadline: float) -> AsyncIterator[Received]:
        """Yield events as they arrive until ``deadline`` (monotonic), even on a silent topic."""
        while (remaining := deadline - time.monotonic()) > 0:
            for received in await self.poll(min(remaining, 0.5)):
                yield received

    async def close(self) -> None:
        for client in (self._consumer, self._producer):
            if client is not None:
                try:
                    await asyncio.wait_for(client.stop(), 5)
                except Exception:  # closing is best effort; the result is already known
                    log.debug("Closing a Kafka client failed", exc_info=True)
        self._consumer = self._producer = None


def _decode(value: bytes | None) -> Event | None:
    try:
        event = json.loads(value) if value is not None else None
    except ValueError:
        log.warning("Skipping an event that is not JSON")
        return None
    return event if isinstance(event, dict) else None
