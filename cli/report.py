"""What the CLI prints: ping replies and statistics, events, in text or JSON lines (pure)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

# Fields every event repeats; a one-line text rendering leaves them out.
ENVELOPE_FIELDS = frozenset(
    {
        "event",
        "status",
        "queue_id",
        "symbol",
        "type",
        "time_range",
        "producer",
        "telemetry_id",
        "instance",
        "timestamp",
        "sent_at",
        "event_id",
        "seq",
        "schema_version",
    }
)


@dataclass(frozen=True)
class PingReply:
    """One pong: ``rtt_ms`` on the CLI's monotonic clock, ``one_way_ms`` across two clocks."""

    seq: int
    instance: str
    queue_id: str
    correlation_id: str
    rtt_ms: float
    one_way_ms: float | None


@dataclass(frozen=True)
class PingSummary:
    queue_id: str
    sent: int
    answered: int
    replies: int
    loss_pct: float
    min_ms: float | None
    avg_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


def one_way_ms(event: dict[str, Any]) -> float | None:
    """The service-side latency ``ponged_at - ping_ts``; skewed clocks can make it negative."""
    ponged_at, ping_ts = event.get("ponged_at"), event.get("ping_ts")
    if not _is_number(ponged_at) or not _is_number(ping_ts):
        return None
    difference = (ponged_at - ping_ts) * 1000
    return difference if math.isfinite(difference) else None


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile: a value that was measured, never an interpolation."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(queue_id: str, sent: int, replies: Sequence[PingReply]) -> PingSummary:
    answered = len({reply.seq for reply in replies})
    rtts = [reply.rtt_ms for reply in replies]
    loss = 100.0 * (sent - answered) / sent if sent else 0.0
    if not rtts:
        return PingSummary(queue_id, sent, answered, 0, loss, None, None, None, None, None)
    return PingSummary(
        queue_id=queue_id,
        sent=sent,
        answered=answered,
        replies=len(rtts),
        loss_pct=loss,
        min_ms=min(rtts),
        avg_ms=sum(rtts) / len(rtts),
        p50_ms=percentile(rtts, 50),
        p95_ms=percentile(rtts, 95),
        max_ms=max(rtts),
    )


def reply_line(reply: PingReply, output: str) -> str:
    if output == "json":
        return _json({"type": "reply", **asdict(reply)})
    one_way = "n/a" if reply.one_way_ms is None else f"{reply.one_way_ms:.1f} ms"
    return (
        f"pong from {reply.instance}: queue={reply.queue_id} seq={reply.seq} "
        f"rtt={reply.rtt_ms:.1f} ms one-way={one_way}"
    )


def summary_lines(summary: PingSummary, output: str) -> list[str]:
    if output == "json":
        return [_json({"type": "summary", **asdict(summary)})]
    lines = [
        f"--- {summary.queue_id} ping statistics ---",
        f"{summary.sent} sent, {summary.answered} answered ({summary.replies} replies), "
        f"{summary.loss_pct:.1f}% loss",
    ]
    if summary.replies:
        numbers = (summary.min_ms, summary.avg_ms, summary.p50_ms, summary.p95_ms, summary.max_ms)
        lines.append("rtt min/avg/p50/p95/max = " + "/".join(f"{n:.1f}" for n in numbers) + " ms")
    return lines


def event_line(event: dict[str, Any], output: str) -> str:
    """One event: the JSON as published, or a compact line for people."""
    if output == "json":
        return _json(event)
    when = _when(event.get("timestamp"))
    details = " ".join(
        f"{key}={_compact(value)}" for key, value in event.items() if key not in ENVELOPE_FIELDS
    )
    head = (
        f"{when} {event.get('instance', '-')} {event.get('queue_id', '-')} "
        f"{event.get('event', '-')} status={event.get('status', '-')}"
    )
    return f"{head} {details}".rstrip()


def _when(stamp: Any) -> str:
    """An event's epoch timestamp as ISO 8601, or "-" when it is not a usable number."""
    if not _is_number(stamp):
        return "-"
    try:
        return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        return "-"


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))
