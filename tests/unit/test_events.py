"""Event payloads: the envelope every event carries and the fields each kind adds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dummyservice.commands import Command, Rejection, parse_command
from dummyservice.events import (
    LIFECYCLE_EVENTS,
    SCHEMA_VERSION,
    TERMINAL_EVENTS,
    Identity,
    encode,
    envelope,
    lifecycle_fields,
    pong_fields,
    rejected_fields,
)

README = Path(__file__).resolve().parents[2] / "README.md"
ENVELOPE_FIELDS = {
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
IDENTITY = Identity(
    queue_id="queue-7",
    symbol="BTCUSD",
    type="dummy",
    time_range="2024-01-01:2024-01-31",
    producer="loader-1",
    instance="pod-7",
)
NOW = 1733240000.512
PING = Command(name="ping", queue_id="queue-7", correlation_id="c-1", sent_at=1733240000.5)


def event(name: str, fields: dict[str, Any], status: str = "started") -> dict[str, Any]:
    """A whole event as the sink publishes it: the envelope, then the event's own fields."""
    return {
        **envelope(IDENTITY, event=name, status=status, seq=3, now=NOW, event_id="e-1"),
        **fields,
    }


def test_the_envelope_has_every_field_of_the_contract() -> None:
    payload = envelope(IDENTITY, event="pong", status="loading", seq=3, now=NOW, event_id="e-1")

    assert payload == {
        "event": "pong",
        "status": "loading",
        "queue_id": "queue-7",
        "symbol": "BTCUSD",
        "type": "dummy",
        "time_range": "2024-01-01:2024-01-31",
        "producer": "loader-1",
        "telemetry_id": "loader-1",
        "instance": "pod-7",
        "timestamp": NOW,
        "sent_at": NOW,
        "event_id": "e-1",
        "seq": 3,
        "schema_version": SCHEMA_VERSION,
    }
    assert SCHEMA_VERSION == 1


def test_symbol_and_time_range_may_be_null() -> None:
    identity = Identity("q", None, "dummy", None, "dummy", "host")

    payload = envelope(identity, event="started", status="started", seq=1, now=NOW, event_id="e")

    assert (payload["symbol"], payload["time_range"]) == (None, None)


@pytest.mark.parametrize("name", LIFECYCLE_EVENTS)
def test_lifecycle_events_say_whether_they_end_the_run(name: str) -> None:
    fields = lifecycle_fields(name, "Something happened", records_written=300)

    assert fields["message"] == "Something happened"
    assert fields["records_written"] == 300
    assert fields["finished"] is (name in {"interrupted", "finished", "error"})


def test_the_terminal_events_are_interrupted_finished_and_error() -> None:
    assert frozenset({"interrupted", "finished", "error"}) == TERMINAL_EVENTS
    assert set(LIFECYCLE_EVENTS) == {"started", "loading", *TERMINAL_EVENTS}


def test_an_error_event_carries_its_error_message() -> None:
    fields = lifecycle_fields("error", "Failed by a fail command", 0, error_message="disk full")

    assert fields["error_message"] == "disk full"


def test_an_error_event_without_an_error_message_repeats_its_message() -> None:
    assert lifecycle_fields("error", "Failed after 5 s", 0)["error_message"] == "Failed after 5 s"


@pytest.mark.parametrize("name", ["started", "loading", "interrupted", "finished"])
def test_only_error_events_carry_an_error_message(name: str) -> None:
    assert "error_message" not in lifecycle_fields(name, "m", 0, error_message="ignored")


def test_a_pong_echoes_the_ping_time_and_correlation_id() -> None:
    assert pong_fields(PING, NOW) == {
        "ping_ts": 1733240000.5,
        "ponged_at": NOW,
        "correlation_id": "c-1",
    }


def test_a_pong_for_a_ping_without_sent_at_has_a_null_ping_ts() -> None:
    fields = pong_fields(Command(name="ping", queue_id="q"), NOW)

    assert (fields["ping_ts"], fields["correlation_id"]) == (None, None)


def test_a_rejected_event_carries_reason_detail_field_command_and_correlation_id() -> None:
    rejection = Rejection(
        "invalid_field",
        "delay_ms must be between 0 and 60000",
        queue_id="queue-7",
        correlation_id="c-3",
        command="ping",
        field="delay_ms",
    )

    assert rejected_fields(rejection) == {
        "reason": "invalid_field",
        "detail": "delay_ms must be between 0 and 60000",
        "correlation_id": "c-3",
        "command": "ping",
        "field": "delay_ms",
    }


def test_a_rejected_event_leaves_out_command_and_field_when_unknown() -> None:
    fields = rejected_fields(Rejection("missing_field", "command is missing", queue_id="q"))

    assert fields == {
        "reason": "missing_field",
        "detail": "command is missing",
        "correlation_id": None,
    }


def test_a_parsed_rejection_becomes_a_rejected_event() -> None:
    rejection = parse_command(
        b'{"queue_id": "queue-7", "command": "reboot", "correlation_id": "c"}'
    )
    assert isinstance(rejection, Rejection)

    fields = rejected_fields(rejection)

    assert (fields["reason"], fields["command"], fields["correlation_id"]) == (
        "unknown_command",
        "reboot",
        "c",
    )
    assert "field" not in fields


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(lifecycle_fields("error", "m", 1, "e"), id="lifecycle"),
        pytest.param(pong_fields(PING, NOW), id="pong"),
        pytest.param(
            rejected_fields(Rejection("stale", "d", "q", "c", command="stop", field="x")),
            id="rejected",
        ),
    ],
)
def test_no_event_fields_overwrite_the_envelope(fields: dict[str, Any]) -> None:
    assert not set(fields) & ENVELOPE_FIELDS


def test_the_pong_example_in_the_readme_has_exactly_these_fields() -> None:
    example = next(
        line for line in README.read_text().splitlines() if line.startswith('{"event":"pong"')
    )

    assert set(json.loads(example)) == set(event("pong", pong_fields(PING, NOW)))


def test_encode_writes_compact_ascii_json() -> None:
    payload = event("error", lifecycle_fields("error", "Échec", 0, "disque plein"))

    raw = encode(payload)

    assert json.loads(raw.decode("utf-8")) == payload
    assert raw.isascii()
    assert b"\\u00c9chec" in raw
    assert not re.search(rb"[:,] ", raw)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            rb'{"queue_id": "q", "command": "stop", "correlation_id": "\udc00"}', id="stop"
        ),
        pytest.param(rb'{"queue_id": "q", "command": "\ud800"}', id="unknown-command"),
    ],
)
def test_every_parsed_command_or_rejection_can_be_published(raw: bytes) -> None:
    parsed = parse_command(raw)
    if isinstance(parsed, Command):
        fields = lifecycle_fields("interrupted", "Stopped by a stop command", 0)
        fields["correlation_id"] = parsed.correlation_id
    else:
        fields = rejected_fields(parsed)

    assert json.loads(encode(event("x", fields)))
