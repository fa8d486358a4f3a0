"""The events sink: the only way an event leaves the process.

It numbers events, refuses anything after the terminal event, waits for the broker's
acknowledgement, and tells the observers (logs, metrics) what was published. Events go out
one at a time, so they reach the topic in the order of their numbers.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from .events import TERMINAL_EVENTS, Identity, encode, envelope

log = logging.getLogger(__name__)

Send = Callable[[bytes, bytes], Awaitable[None]]
Observer = Callable[[dict[str, Any]], None]


class RunEnded(Exception):
    """An event was offered after the terminal event; it was not published."""


class EventSink:
    def __init__(
        self,
        identity: Identity,
        send: Send,
        *,
        clock: Callable[[], float] = time.time,
        on_published: Observer | None = None,
        on_failed: Callable[[str], None] | None = None,
    ) -> None:
        self._identity = identity
        self._send = send
        self._clock = clock
        self._on_published = on_published
        self._on_failed = on_failed
        self._lock = asyncio.Lock()
        self._seq = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once a terminal event has been offered."""
        return self._closed

    async def publish(self, event: str, status: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Publish one event and return its payload once the broker has acknowledged it.

        Raises ``RunEnded`` after the terminal event, or the client's error if the broker
        did not take the event.
        """
        async with self._lock:
            if self._closed:
                log.debug("Dropping %s event: the run has ended", event, extra={"event": event})
                raise RunEnded(event)
            if event in TERMINAL_EVENTS:
                self._closed = True
            # The number is used up even if the send fails or is cancelled: the event may
            # still reach the topic, and a gap in `seq` is safer than a number used twice.
            self._seq += 1
            payload = envelope(
                self._identity,
                event=event,
                status=status,
                seq=self._seq,
                now=self._clock(),
                event_id=uuid.uuid4().hex,
            )
            payload.update(fields)
            try:
                await self._send(self._identity.queue_id.encode("utf-8"), encode(payload))
            except Exception as exc:
                log.error(
                    "Could not publish %s event: %s",
                    event,
                    exc.__class__.__name__,
                    extra={"event": event},
                )
                if self._on_failed:
                    self._on_failed(event)
                raise

        log.info(
            "Published %s event",
            event,
            extra={
                "event": event,
                "seq": payload["seq"],
                "correlation_id": payload.get("correlation_id"),
            },
        )
        if self._on_published:
            self._on_published(payload)
        return payload
