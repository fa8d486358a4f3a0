"""The CLI's conversations with the service: ping, request/reply, watch.

Each returns the process exit code: 0 every expected reply arrived, 1 some replies are missing
or the service rejected the command. Connection and usage errors (3 and 2) are raised before
these run, by ``cli.main``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from dummyservice.kafka import Security
from dummyservice.settings import KafkaSettings

from .client import ControlClient, Received
from .report import PingReply, event_line, one_way_ms, reply_line, summarize, summary_lines

EXIT_OK = 0
EXIT_MISSING = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3

BROADCAST = frozenset({"*", "all"})


@dataclass(frozen=True)
class Connection:
    """Where the service's topics are, and how to reach them."""

    kafka: KafkaSettings
    security: Security
    control_topic: str = "queue-control"
    events_topic: str = "queue-events"
    connect_timeout: float = 10.0
    fetch_max_wait_ms: int = 100

    def client(self) -> ControlClient:
        return ControlClient(
            self.kafka,
            self.security,
            control_topic=self.control_topic,
            events_topic=self.events_topic,
            connect_timeout=self.connect_timeout,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )


@dataclass(frozen=True)
class Printer:
    """Results on stdout (text or one JSON object per line), diagnostics on stderr."""

    output: str = "text"

    def result(self, line: str) -> None:
        print(line, flush=True)

    def note(self, message: str) -> None:
        print(f"dummy-service: {message}", file=sys.stderr, flush=True)


def expected_replies(queue_id: str, expect: int | None) -> int | None:
    """Replies to wait for per command; ``None`` (a broadcast) means: collect until the timeout."""
    if expect is not None:
        return expect
    return None if queue_id in BROADCAST else 1


async def ping(
    connection: Connection,
    printer: Printer,
    queue_id: str,
    *,
    count: int = 1,
    interval: float = 1.0,
    timeout: float = 10.0,
    delay_ms: int | None = None,
    expect: int | None = None,
) -> int:
    """Send ``count`` pings ``interval`` apart; each one waits up to ``timeout`` for its pong.

    A pong that arrives after its ping's deadline counts as missing, as it would in ping(8).
    """
    wanted = expected_replies(queue_id, expect)
    extra: dict[str, Any] = {} if delay_ms is None else {"delay_ms": delay_ms}
    sent: dict[str, tuple[int, float]] = {}  # correlation id -> (seq, monotonic send time)
    replies: list[PingReply] = []
    rejected = 0

    async with connection.client() as client:
        next_send = time.monotonic()
        while True:
            now = time.monotonic()
            if len(sent) < count and now >= next_send:
                correlation_id = uuid.uuid4().hex
                sent[correlation_id] = (len(sent) + 1, now)
                await client.send(queue_id, "ping", {"correlation_id": correlation_id, **extra})
                next_send = now + interval
                continue
            all_sent = len(sent) == count
            last_deadline = max((at for _, at in sent.values()), default=now) + timeout
            complete = wanted is not None and _answered(count, replies, wanted)
            if all_sent and (now >= last_deadline or complete):
                break
            # Positive by construction: a send that is due, or a deadline that passed, is
            # handled above.
            until = last_deadline if all_sent else next_send
            for received in await client.poll(min(until - now, 0.5)):
                origin = _origin(sent, received.event)
                if origin is None:
                    continue
                seq, sent_at = origin
                if received.at - sent_at > timeout:
                    printer.note(f"late {received.event.get('event')} for seq={seq} ignored")
                elif received.event.get("event") == "rejected":
                    rejected += 1
                    printer.note(_rejection(received.event))
                elif received.event.get("event") == "pong":
                    reply = _ping_reply(received, seq, sent_at)
                    replies.append(reply)
                    printer.result(reply_line(reply, printer.output))

    for seq in sorted(set(range(1, count + 1)) - {reply.seq for reply in replies}):
        printer.note(f"no pong for seq={seq} within {timeout:g} s")
    for line in summary_lines(summarize(queue_id, count, replies), printer.output):
        printer.result(line)
    return EXIT_OK if not rejected and _answered(count, replies, wanted) else EXIT_MISSING


def _origin(sent: dict[str, tuple[int, float]], event: dict[str, Any]) -> tuple[int, float] | None:
    """The ping an event answers, if it answers one of ours."""
    correlation_id = event.get("correlation_id")
    return sent.get(correlation_id) if isinstance(correlation_id, str) else None


def _answered(count: int, replies: list[PingReply], wanted: int | None) -> bool:
    """Every ping has its replies (at least one, when their number is open)."""
    seqs = [reply.seq for reply in replies]
    return all(seqs.count(seq) >= (wanted or 1) for seq in range(1, count + 1))


async def request(
    connection: Connection,
    printer: Printer,
    queue_id: str,
    command: str,
    *,
    answers: Collection[str] | None,
    timeout: float = 10.0,
    expect: int | None = None,
    fields: Mapping[str, Any] | None = None,
) -> int:
    """Send one command and print every event that answers it (by ``correlation_id``).

    ``answers`` names the events that count as a reply (``None``: any event but ``rejected``);
    ``fields`` are added to the command as they are (see ``ControlClient.send``).
    """
    wanted = expected_replies(queue_id, expect)
    got = rejected = 0
    async with connection.client() as client:
        correlation_id = await client.send(queue_id, command, fields)
        deadline = time.monotonic() + timeout
        async with contextlib.aclosing(client.events(deadline)) as events:
            async for received in events:
                event = received.event
                if event.get("correlation_id") != correlation_id:
                    continue
                printer.result(event_line(event, printer.output))
                if event.get("event") == "rejected":
                    rejected += 1
                    printer.note(_rejection(event))
                elif answers is None or event.get("event") in answers:
                    got += 1
                if wanted is not None and got + rejected >= wanted:
                    break
    if rejected:
        return EXIT_MISSING
    if got == 0 or (wanted is not None and got < wanted):
        what = "/".join(sorted(answers)) if answers else "reply"
        printer.note(f"no {what} to {command} for queue {queue_id} within {timeout:g} s")
        return EXIT_MISSING
    return EXIT_OK


async def send_command(
    connection: Connection,
    printer: Printer,
    queue_id: str,
    command: str,
    *,
    count: int = 1,
    interval: float = 0.0,
    fields: Mapping[str, Any] | None = None,
) -> int:
    """Send a command ``count`` times, ``interval`` apart, without waiting for answers."""
    async with connection.client() as client:
        for seq in range(1, count + 1):
            if seq > 1:
                await asyncio.sleep(interval)
            correlation_id = await client.send(queue_id, command, fields)
            printer.note(f"sent {command} to {queue_id} with correlation_id {correlation_id}")
    return EXIT_OK


async def send_raw(connection: Connection, printer: Printer, value: bytes) -> int:
    """Send bytes verbatim (to test the service's validation); nothing to wait for."""
    async with connection.client() as client:
        await client.send_raw(value)
    printer.note(f"sent {len(value)} bytes to {connection.control_topic}")
    return EXIT_OK


async def watch(
    connection: Connection,
    printer: Printer,
    *,
    queue_id: str | None = None,
    events: Collection[str] = (),
    count: int | None = None,
    timeout: float | None = None,
) -> int:
    """Print events as they are published until ``count`` of them, the timeout or Ctrl-C."""
    seen = 0
    async with connection.client() as client:
        printer.note(f"watching {connection.events_topic} from now on")
        deadline = time.monotonic() + timeout if timeout is not None else float("inf")
        async with contextlib.aclosing(client.events(deadline)) as stream:
            async for received in stream:
                event = received.event
                if queue_id is not None and event.get("queue_id") not in (queue_id, None):
                    continue
                if events and event.get("event") not in events:
                    continue
                printer.result(event_line(event, printer.output))
                seen += 1
                if count is not None and seen >= count:
                    return EXIT_OK
    if count is not None:
        printer.note(f"saw {seen} of {count} events within {timeout:g} s")
        return EXIT_MISSING
    return EXIT_OK


def _ping_reply(received: Received, seq: int, sent_at: float) -> PingReply:
    event = received.event
    return PingReply(
        seq=seq,
        instance=str(event.get("instance", "?")),
        queue_id=str(event.get("queue_id", "?")),
        correlation_id=str(event.get("correlation_id")),
        rtt_ms=(received.at - sent_at) * 1000,
        one_way_ms=one_way_ms(event),
    )


def _rejection(event: dict[str, Any]) -> str:
    field = f" (field {event['field']})" if event.get("field") else ""
    return (
        f"{event.get('instance', '?')} rejected the command: {event.get('reason')}{field}: "
        f"{event.get('detail')}"
    )
