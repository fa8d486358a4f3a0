"""Building event payloads: the common envelope and the fields each event adds.

Pure functions over plain data, so the whole message contract can be read (and unit-tested)
in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .commands import Command, Rejection

SCHEMA_VERSION = 1
LIFECYCLE_EVENTS = ("started", "loading", "interrupted", "finished", "error")
TERMINAL_EVENTS = frozenset({"interrupted", "finished", "error"})
EVENTS = (*LIFECYCLE_EVENTS, "pong", "status", "rejected")


@dataclass(frozen=True)
class Identity:
    """Who publishes: the fields every event repeats."""

    queue_id: str
    symbol: str | None
    type: str
    time_range: str | None
    producer: str
    instance: str


def envelope(
    identity: Identity, *, event: str, status: str, seq: int, now: float, event_id: str
) -> dict[str, Any]:
    return {
        "event": event,
        "status": status,
        "queue_id": identity.queue_id,
        "symbol": identity.symbol,
        "type": identity.type,
        "time_range": identity.time_range,
        "producer": identity.producer,
        "telemetry_id": identity.producer,
        "instance": identity.instance,
        "timestamp": now,
        "sent_at": now,
        "event_id": event_id,
        "seq": seq,
        "schema_version": SCHEMA_VERSION,
    }


def lifecycle_fields(
    event: str, message: str, records_written: int, error_message: str | None = None
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "message": message,
        "finished": event in TERMINAL_EVENTS,
        "records_written": records_written,
    }
    if event == "error":
        fields["error_message"] = error_message or message
    return fields


def pong_fields(command: Command, now: float) -> dict[str, Any]:
    return {"ping_ts": command.sent_at, "ponged_at": now, "correlation_id": command.correlation_id}


def rejected_fields(rejection: Rejection) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "reason": rejection.reason,
        "detail": rejection.detail,
        "correlation_id": rejection.correlation_id,
    }
    if rejection.command is not None:
        fields["command"] = rejection.command
    if rejection.field is not None:
        fields["field"] = rejection.field
    return fields


def encode(payload: dict[str, Any]) -> bytes:
    """Serialise an event as compact JSON (ASCII, so a subset of UTF-8).

    Non-ASCII characters are escaped: a command may carry strings that JSON allows but UTF-8
    cannot hold (lone surrogates), and echoing them must never stop an event from going out.
    """
    return json.dumps(payload, separators=(",", ":")).encode("ascii")
