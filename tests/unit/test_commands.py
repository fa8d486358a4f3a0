"""Control-topic bytes → Command or Rejection; addressing and staleness."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dummyservice.commands import (
    MAX_COMMAND_BYTES,
    MAX_DELAY_MS,
    Command,
    Rejection,
    is_addressed_to,
    is_stale,
    parse_command,
)

REASONS = frozenset(
    {
        "empty",
        "too_large",
        "invalid_utf8",
        "invalid_json",
        "not_an_object",
        "missing_field",
        "invalid_field",
        "unknown_command",
    }
)
FIELDS = frozenset({"queue_id", "command", "correlation_id", "sent_at", "delay_ms", "message"})
PING = {"queue_id": "queue-7", "command": "ping", "correlation_id": "c-1"}


def encoded(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")


def command(**fields: Any) -> Command:
    result = parse_command(encoded(fields))
    assert isinstance(result, Command), result
    return result


def rejection(raw: bytes | None) -> Rejection:
    result = parse_command(raw)
    assert isinstance(result, Rejection), result
    return result


def padded_to(size: int) -> bytes:
    """A valid ping command of exactly ``size`` bytes (an ignored field takes up the room)."""
    empty = encoded({**PING, "padding": ""})
    raw = encoded({**PING, "padding": "x" * (size - len(empty))})
    assert len(raw) == size
    return raw


# --- valid commands -------------------------------------------------------------------------


def test_a_ping_with_every_field_becomes_a_command() -> None:
    parsed = command(**PING, sent_at=1733240000.5, delay_ms=250)

    assert parsed == Command(
        name="ping",
        queue_id="queue-7",
        correlation_id="c-1",
        sent_at=1733240000.5,
        args={"delay_ms": 250},
    )


@pytest.mark.parametrize("name", ["ping", "stop", "status", "fail"])
def test_every_documented_command_is_known(name: str) -> None:
    parsed = command(queue_id="queue-7", command=name)

    assert (parsed.name, parsed.queue_id, parsed.correlation_id, parsed.sent_at) == (
        name,
        "queue-7",
        None,
        None,
    )
    assert parsed.args == {}


def test_an_integer_sent_at_becomes_a_float() -> None:
    sent_at = command(**PING, sent_at=1733240000).sent_at

    assert sent_at == 1733240000.0
    assert isinstance(sent_at, float)


def test_null_optional_fields_count_as_absent() -> None:
    parsed = command(queue_id="q", command="ping", correlation_id=None, sent_at=None, delay_ms=None)

    assert (parsed.correlation_id, parsed.sent_at, parsed.args) == (None, None, {})


def test_unknown_fields_and_other_commands_arguments_are_ignored() -> None:
    parsed = command(queue_id="q", command="stop", delay_ms=-1, message=5, extra={"a": [1]})

    assert parsed.args == {}


@pytest.mark.parametrize(
    ("delay_ms", "parsed"),
    [(0, 0), (MAX_DELAY_MS, MAX_DELAY_MS), (1.9, 1)],
    ids=["zero", "maximum", "fraction-truncated"],
)
def test_ping_delay_ms_is_accepted_within_its_range(delay_ms: float, parsed: int) -> None:
    assert command(**PING, delay_ms=delay_ms).args == {"delay_ms": parsed}


def test_fail_message_is_kept_and_cut_at_1000_characters() -> None:
    assert command(queue_id="q", command="fail", message="disk full").args == {
        "message": "disk full"
    }
    assert command(queue_id="q", command="fail", message="x" * 5000).args == {"message": "x" * 1000}


# --- messages that name no queue: nobody to answer -------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(None, "empty", id="no-value"),
        pytest.param(b"\xff\xfe{}", "invalid_utf8", id="not-utf8"),
        pytest.param(b'{"queue_id": "q", "command": "\xe9"}', "invalid_utf8", id="latin-1"),
        pytest.param(b"{", "invalid_json", id="truncated-json"),
        pytest.param(b"ping", "invalid_json", id="plain-text"),
        pytest.param(b"[" * 10_000, "invalid_json", id="nested-too-deep"),
        pytest.param(b"[]", "not_an_object", id="array"),
        pytest.param(b'"ping"', "not_an_object", id="string"),
        pytest.param(b"null", "not_an_object", id="null"),
        pytest.param(b"42", "not_an_object", id="number"),
        pytest.param(b"true", "not_an_object", id="bool"),
        pytest.param(b'{"command": "ping"}', "missing_field", id="no-queue-id"),
        pytest.param(b'{"queue_id": null, "command": "ping"}', "missing_field", id="null-queue"),
        pytest.param(b'{"queue_id": "", "command": "ping"}', "invalid_field", id="empty-queue"),
        pytest.param(b'{"queue_id": 7, "command": "ping"}', "invalid_field", id="number-queue"),
        pytest.param(b'{"queue_id": ["q"], "command": "ping"}', "invalid_field", id="list-queue"),
    ],
)
def test_a_message_without_a_usable_queue_id_is_rejected_anonymously(
    raw: bytes | None, reason: str
) -> None:
    rejected = rejection(raw)

    assert rejected.reason == reason
    assert rejected.queue_id is None
    assert rejected.detail


def test_a_queue_id_problem_names_the_field() -> None:
    assert rejection(b'{"queue_id": 7}').field == "queue_id"


def test_an_empty_value_is_rejected_anonymously() -> None:
    rejected = rejection(b"")

    assert rejected.queue_id is None
    assert rejected.reason in {"empty", "invalid_json"}


def test_a_message_of_exactly_64_kib_is_parsed() -> None:
    assert isinstance(parse_command(padded_to(MAX_COMMAND_BYTES)), Command)


def test_a_message_one_byte_over_64_kib_is_too_large() -> None:
    rejected = rejection(padded_to(MAX_COMMAND_BYTES + 1))

    assert rejected.reason == "too_large"
    assert rejected.queue_id is None
    assert str(MAX_COMMAND_BYTES + 1) in rejected.detail


def test_decoding_details_say_where_without_echoing_the_message() -> None:
    assert rejection(b"ab\xffcd").detail == "the message is not UTF-8 (invalid start byte at 2)"
    assert rejection(b"[1, 2").detail.startswith("the message is not JSON (")
    assert rejection(b"[1, 2]").detail == "the message is JSON list, not an object"


# --- messages for a queue that are not valid commands ----------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason", "field"),
    [
        pytest.param({"command": None}, "missing_field", "command", id="no-command"),
        pytest.param({"command": ""}, "invalid_field", "command", id="empty-command"),
        pytest.param({"command": 1}, "invalid_field", "command", id="number-command"),
        pytest.param({"command": "reboot"}, "unknown_command", None, id="unknown"),
        pytest.param({"command": "PING"}, "unknown_command", None, id="case-sensitive"),
        pytest.param({"sent_at": True}, "invalid_field", "sent_at", id="sent-at-true"),
        pytest.param({"sent_at": False}, "invalid_field", "sent_at", id="sent-at-false"),
        pytest.param({"sent_at": "1733240000"}, "invalid_field", "sent_at", id="sent-at-text"),
        pytest.param({"sent_at": [1]}, "invalid_field", "sent_at", id="sent-at-list"),
        pytest.param({"sent_at": float("nan")}, "invalid_field", "sent_at", id="sent-at-nan"),
        pytest.param({"sent_at": float("inf")}, "invalid_field", "sent_at", id="sent-at-inf"),
        pytest.param({"delay_ms": -1}, "invalid_field", "delay_ms", id="delay-negative"),
        pytest.param({"delay_ms": 60_001}, "invalid_field", "delay_ms", id="delay-too-long"),
        pytest.param({"delay_ms": True}, "invalid_field", "delay_ms", id="delay-bool"),
        pytest.param({"delay_ms": "100"}, "invalid_field", "delay_ms", id="delay-text"),
        pytest.param({"delay_ms": float("nan")}, "invalid_field", "delay_ms", id="delay-nan"),
        pytest.param(
            {"command": "fail", "message": 5}, "invalid_field", "message", id="message-number"
        ),
    ],
)
def test_an_invalid_command_is_rejected_with_its_queue_and_correlation_id(
    fields: dict[str, Any], reason: str, field: str | None
) -> None:
    payload = {**PING, **fields}
    if payload["command"] is None:
        del payload["command"]

    rejected = rejection(encoded(payload))

    assert (rejected.reason, rejected.field) == (reason, field)
    assert (rejected.queue_id, rejected.correlation_id) == ("queue-7", "c-1")


def test_a_non_string_correlation_id_is_rejected_without_being_echoed() -> None:
    rejected = rejection(encoded({**PING, "correlation_id": 42}))

    assert (rejected.reason, rejected.field) == ("invalid_field", "correlation_id")
    assert (rejected.queue_id, rejected.correlation_id) == ("queue-7", None)


def test_rejections_after_the_command_is_known_name_it() -> None:
    assert rejection(encoded({**PING, "delay_ms": -1})).command == "ping"
    assert rejection(encoded({**PING, "sent_at": True})).command == "ping"


def test_a_delay_out_of_range_says_the_range() -> None:
    detail = rejection(encoded({**PING, "delay_ms": 60_001})).detail

    assert detail == "delay_ms must be between 0 and 60000"


def test_an_unknown_command_is_cut_to_64_characters_and_lists_the_known_ones() -> None:
    rejected = rejection(encoded({**PING, "command": "x" * 10_000}))

    assert rejected.command == "x" * 64
    assert rejected.detail.endswith("expected one of fail, ping, status, stop")
    assert len(rejected.detail) < 200


def test_an_integer_too_long_for_python_is_rejected_not_raised() -> None:
    raw = b'{"queue_id": "queue-7", "command": "ping", "sent_at": ' + b"1" * 5000 + b"}"

    assert rejection(raw).reason == "invalid_json"


# --- properties ---------------------------------------------------------------------------


def assert_well_formed(result: Command | Rejection) -> None:
    assert isinstance(result, Command | Rejection)
    if isinstance(result, Rejection):
        assert result.reason in REASONS
        assert len(result.detail) <= 1024
        assert result.command is None or len(result.command) <= 64
        assert result.field is None or result.field in FIELDS


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
command_like = st.fixed_dictionaries(
    {},
    optional={
        "queue_id": st.sampled_from(["queue-7", "*", "all", ""]) | json_values,
        "command": st.sampled_from(["ping", "stop", "status", "fail"]) | json_values,
        "correlation_id": json_values,
        "sent_at": json_values,
        "delay_ms": json_values,
        "message": json_values,
    },
)


@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    assert_well_formed(parse_command(raw))


@given(command_like)
def test_arbitrary_command_like_objects_never_raise(payload: dict[str, Any]) -> None:
    assert_well_formed(parse_command(encoded(payload)))


@given(json_values)
def test_arbitrary_json_never_raises(value: Any) -> None:
    assert_well_formed(parse_command(encoded(value)))


# --- addressing and staleness -------------------------------------------------------------


@pytest.mark.parametrize(
    ("queue_id", "addressed"),
    [
        ("queue-7", True),
        ("*", True),
        ("all", True),
        ("queue-8", False),
        ("ALL", False),
        ("", False),
        (None, False),
    ],
)
def test_a_command_is_addressed_to_its_queue_or_to_everyone(
    queue_id: str | None, addressed: bool
) -> None:
    assert is_addressed_to(queue_id, "queue-7") is addressed


READY = 1_000.0
SKEW = 1.0


@pytest.mark.parametrize(
    ("sent_at", "record_time", "stale"),
    [
        pytest.param(None, None, False, id="no-time-at-all"),
        pytest.param(READY + 5, None, False, id="sent-after-start"),
        pytest.param(READY - 0.5, None, False, id="within-clock-skew"),
        pytest.param(READY - SKEW, None, False, id="exactly-at-the-skew-limit"),
        pytest.param(READY - SKEW - 0.001, None, True, id="just-beyond-the-skew"),
        pytest.param(None, READY - 60, True, id="old-record-time"),
        pytest.param(None, READY, False, id="fresh-record-time"),
        pytest.param(READY, READY - 60, False, id="sent-at-beats-old-record-time"),
        pytest.param(READY - 60, READY, True, id="sent-at-beats-fresh-record-time"),
    ],
)
def test_a_command_sent_before_the_worker_listened_is_stale(
    sent_at: float | None, record_time: float | None, stale: bool
) -> None:
    assert is_stale(sent_at, record_time, READY, SKEW) is stale


def test_without_clock_skew_any_earlier_command_is_stale() -> None:
    assert is_stale(READY - 0.001, None, READY, 0.0) is True
    assert is_stale(READY, None, READY, 0.0) is False


@given(
    moment=st.floats(0, 2e9),
    ready_since=st.floats(0, 2e9),
    skew=st.floats(0, 3600),
    more=st.floats(0, 3600),
)
def test_more_clock_skew_never_makes_a_command_stale(
    moment: float, ready_since: float, skew: float, more: float
) -> None:
    if not is_stale(moment, None, ready_since, skew):
        assert not is_stale(moment, None, ready_since, skew + more)
