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
from dataclasses import dataclass, field
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

    A pong that arrives after its ping's deadline counts as missing, as it would in ping(8),
    and Ctrl-C still prints the summary of what was sent.
    """
    run = _PingRun(count, timeout, expected_replies(queue_id, expect))
    extra: dict[str, Any] = {} if delay_ms is None else {"delay_ms": delay_ms}
    try:
        async with connection.client() as client:
            await _exchange_pings(client, printer, run, queue_id, interval, extra)
    except asyncio.CancelledError:  # Ctrl-C
        _print_summary(printer, queue_id, run)
        raise
    _print_summary(printer, queue_id, run)
    return EXIT_OK if not run.rejected and run.answered() else EXIT_MISSING


@dataclass
class _PingRun:
    """What one `ping` has sent and what has answered it."""

    count: int
    timeout: float
    wanted: int | None  # replies per ping; None: as many as arrive before the deadline
    sent: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (seq, monotonic)
    replies: list[PingReply] = field(default_factory=list)
    rejected: int = 0

    def answered(self) -> bool:
        """Every ping has its replies (at least one, when their number is open)."""
        seqs = [reply.seq for reply in self.replies]
        return all(seqs.count(seq) >= (self.wanted or 1) for seq in range(1, self.count + 1))

    def done(self, now: float) -> bool:
        if len(self.sent) < self.count:
            return False
        return now >= self.last_deadline(now) or (self.wanted is not None and self.answered())

    def last_deadline(self, now: float) -> float:
        return max((at for _, at in self.sent.values()), default=now) + self.timeout


async def _exchange_pings(
    client: ControlClient,
    printer: Printer,
    run: _PingRun,
    queue_id: str,
    interval: float,
    extra: dict[str, Any],
) -> None:
    next_send = time.monotonic()
    while not run.done(now := time.monotonic()):
        if len(run.sent) < run.count and now >= next_send:
            correlation_id = uuid.uuid4().hex
            run.sent[correlation_id] = (len(run.sent) + 1, now)
            await client.send(queue_id, "ping", {"correlation_id": correlation_id, **extra})
            next_send = now + interval
            continue
        # Positive: a send that is due, or a deadline that has passed, is handled above.
        until = next_send if len(run.sent) < run.count else run.last_deadline(now)
        for received in await client.poll(min(until - now, 0.5)):
            _take_ping_answer(printer, run, received)


def _take_ping_answer(printer: Printer, run: _PingRun, received: Received) -> None:
    event = received.event
    correlation_id = event.get("correlation_id")
    origin = run.sent.get(correlation_id) if isinstance(correlation_id, str) else None
    if origin is None:
        return  # not an answer to one of our pings
    seq, sent_at = origin
    if received.at - sent_at > run.timeout:
        printer.note(f"late {event.get('event')} for seq={seq} ignored")
    elif event.get("event") == "rejected":
        run.rejected += 1
        printer.result(event_line(event, printer.output))
        printer.note(_rejection(event))
    elif event.get("event") == "pong":
        reply = _ping_reply(received, seq, sent_at)
        run.replies.append(reply)
        printer.result(reply_line(reply, printer.output))


def _print_summary(printer: Printer, queue_id: str, run: _PingRun) -> None:
    sent = len(run.sent)
    for seq in sorted(set(range(1, sent + 1)) - {reply.seq for reply in run.replies}):
        printer.note(f"no pong for seq={seq} within {run.timeout:g} s")
    for line in summary_lines(summarize(queue_id, sent, run.replies), printer.output):
        printer.result(line)


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
                if queue_id is not None and event.get("queue_id") != queue_id:
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
