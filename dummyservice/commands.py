"""Raw control-topic bytes → a ``Command`` or a ``Rejection``.

This is the only place that decides whether a message is a valid command, so every
``rejected`` reason comes from here. Nothing in this module does I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_COMMAND_BYTES = 64 * 1024
BROADCAST_QUEUE_IDS = frozenset({"*", "all"})
MAX_DELAY_MS = 60_000


@dataclass(frozen=True)
class Command:
    name: str
    queue_id: str
    correlation_id: str | None = None
    sent_at: float | None = None
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejection:
    """Why a message is not a command we can run.

    ``queue_id`` is known only when the message got far enough to name one: without it there
    is nobody to answer, and the message is only logged.
    """

    reason: str
    detail: str
    queue_id: str | None = None
    correlation_id: str | None = None
    command: str | None = None
    field: str | None = None


# Each command lists its extra fields and a validator returning the parsed value or raising
# ValueError with the message the sender sees.
ArgParser = Callable[[Any], Any]


def _optional_delay_ms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("must be a number of milliseconds")
    if not 0 <= value <= MAX_DELAY_MS:
        raise ValueError(f"must be between 0 and {MAX_DELAY_MS}")
    return int(value)


def _optional_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value[:1000]


COMMAND_ARGS: dict[str, dict[str, ArgParser]] = {
    "ping": {"delay_ms": _optional_delay_ms},
    "stop": {},
    "status": {},
    "fail": {"message": _optional_text},
}


def parse_command(
    raw: bytes | None, known: Mapping[str, Mapping[str, ArgParser]] = COMMAND_ARGS
) -> Command | Rejection:
    """Decode one control-topic value; never raises."""
    if not raw:
        return Rejection("empty", "the message has no value")
    if len(raw) > MAX_COMMAND_BYTES:
        return Rejection(
            "too_large", f"the message has {len(raw)} bytes, more than {MAX_COMMAND_BYTES}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection("invalid_utf8", f"the message is not UTF-8 ({exc.reason} at {exc.start})")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also integers too long to convert
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else _short(exc)
        return Rejection("invalid_json", f"the message is not JSON ({detail})")
    if not isinstance(payload, dict):
        return Rejection(
            "not_an_object", f"the message is JSON {type(payload).__name__}, not an object"
        )
    return _parse_object(payload, known)


def _parse_object(
    payload: dict[str, Any], known: Mapping[str, Mapping[str, ArgParser]]
) -> Command | Rejection:
    queue_id = payload.get("queue_id")
    if not isinstance(queue_id, str) or not queue_id:
        reason = "missing_field" if queue_id is None else "invalid_field"
        return Rejection(reason, "queue_id must be a non-empty string", field="queue_id")

    correlation_id = payload.get("correlation_id")
    context = {"queue_id": queue_id}
    if correlation_id is not None and not isinstance(correlation_id, str):
        return Rejection(
            "invalid_field", "correlation_id must be a string", field="correlation_id", **context
        )
    context["correlation_id"] = correlation_id

    name = payload.get("command")
    if not isinstance(name, str) or not name:
        reason = "missing_field" if name is None else "invalid_field"
        return Rejection(reason, "command must be a non-empty string", field="command", **context)
    if name not in known:
        return Rejection(
            "unknown_command",
            f"unknown command {name[:64]!r}; expected one of {', '.join(sorted(known))}",
            command=name[:64],
            **context,
        )

    sent_at = payload.get("sent_at")
    if sent_at is not None and (
        isinstance(sent_at, bool)
        or not isinstance(sent_at, (int, float))
        or not math.isfinite(sent_at)
    ):
        return Rejection(
            "invalid_field",
            "sent_at must be epoch seconds",
            field="sent_at",
            command=name,
            **context,
        )

    args: dict[str, Any] = {}
    for arg, parse in known[name].items():
        if payload.get(arg) is None:
            continue
        try:
            args[arg] = parse(payload[arg])
        except ValueError as exc:
            return Rejection("invalid_field", f"{arg} {exc}", field=arg, command=name, **context)

    return Command(
        name=name,
        queue_id=queue_id,
        correlation_id=correlation_id,
        sent_at=float(sent_at) if sent_at is not None else None,
        args=args,
    )


def is_addressed_to(queue_id: str | None, own_queue_id: str) -> bool:
    """Whether a message naming ``queue_id`` is meant for the instance serving ``own_queue_id``."""
    return queue_id == own_queue_id or queue_id in BROADCAST_QUEUE_IDS


def is_stale(
    sent_at: float | None, record_time: float | None, ready_since: float, clock_skew: float
) -> bool:
    """Whether a command predates this run and must not act on it.

    A command counts from its ``sent_at`` (the sender's clock) or, without one, the Kafka record
    timestamp. Anything older than the moment this worker started listening, less the allowed
    clock skew, was sent to an earlier run and only reached us through an offset reset.
    """
    moment = sent_at if sent_at is not None else record_time
    return moment is not None and moment < ready_since - clock_skew


def _short(exc: BaseException) -> str:
    return "nesting too deep" if isinstance(exc, RecursionError) else str(exc)[:200]
