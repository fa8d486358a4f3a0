"""The JSON log formatter: one object per line, the fields every line carries, no secrets."""

from __future__ import annotations

import json
import logging
import re
import string
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dummyservice.logs import REDACTED, ServiceJsonFormatter, configure_logging

CONTEXT = {"queue_id": "queue-7", "producer": "loader-1"}
PASSWORD = "Pa55-w0rd-never-shown"


def format_line(
    message: str,
    *args: object,
    secrets: tuple[str, ...] = (),
    exc_info: Any = None,
    created: float | None = None,
    **extra: Any,
) -> str:
    record = logging.LogRecord(
        "dummyservice.sink", logging.WARNING, __file__, 1, message, args, exc_info
    )
    record.__dict__.update(extra)
    if created is not None:
        record.created = created
    return ServiceJsonFormatter(dict(CONTEXT), secrets).format(record)


def format_json(message: str, *args: object, **kwargs: Any) -> dict[str, Any]:
    line = format_line(message, *args, **kwargs)
    assert "\n" not in line
    return json.loads(line)


def test_every_line_carries_timestamp_level_logger_message_and_context() -> None:
    fields = format_json("Published %s event", "pong", created=1733257397.3329)

    assert fields == {
        "timestamp": "2024-12-03T20:23:17.332Z",
        "level": "WARNING",
        "logger": "dummyservice.sink",
        "message": "Published pong event",
        "queue_id": "queue-7",
        "producer": "loader-1",
    }


def test_the_timestamp_is_iso_8601_utc_with_milliseconds() -> None:
    timestamp = format_json("x")["timestamp"]

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", timestamp)


def test_extra_fields_become_fields_of_their_own() -> None:
    fields = format_json("Published %s event", "pong", event="pong", seq=2, correlation_id="c-1")

    assert (fields["event"], fields["seq"], fields["correlation_id"]) == ("pong", 2, "c-1")


def test_fields_of_the_record_beat_the_context() -> None:
    assert format_json("x", queue_id="other-queue")["queue_id"] == "other-queue"


def test_logging_internals_are_left_out() -> None:
    fields = format_json("x %s", "y", color_message="x")

    assert not {"args", "msg", "levelno", "pathname", "lineno", "color_message"} & set(fields)


def test_a_multi_line_message_stays_on_one_line() -> None:
    assert format_json("first\nsecond")["message"] == "first\nsecond"


def test_a_traceback_goes_into_exc_info_on_the_same_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        fields = format_json("Failed", exc_info=sys.exc_info())

    assert "RuntimeError: boom" in fields["exc_info"]
    assert "Traceback" in fields["exc_info"]


@pytest.mark.parametrize(
    ("message", "args", "extra"),
    [
        pytest.param(f"login with {PASSWORD}", (), {}, id="message"),
        pytest.param("login with %s", (PASSWORD,), {}, id="arguments"),
        pytest.param("login", (), {"password": PASSWORD}, id="extra-field"),
        pytest.param("login", (), {"config": {"sasl": [PASSWORD]}}, id="nested-extra"),
    ],
)
def test_a_secret_is_redacted_wherever_it_appears(
    message: str, args: tuple, extra: dict[str, Any]
) -> None:
    line = format_line(message, *args, secrets=(PASSWORD,), **extra)

    assert PASSWORD not in line
    assert REDACTED in line
    json.loads(line)


def test_a_secret_in_a_traceback_is_redacted() -> None:
    try:
        raise PermissionError(f"SASL failed for {PASSWORD}")
    except PermissionError:
        line = format_line("Failed", secrets=(PASSWORD,), exc_info=sys.exc_info())

    assert PASSWORD not in line
    assert REDACTED in json.loads(line)["exc_info"]


def test_every_known_secret_is_redacted() -> None:
    line = format_line(
        "kafka %s arango %s", "k-secret", "a-secret", secrets=("k-secret", "a-secret")
    )

    assert json.loads(line)["message"] == f"kafka {REDACTED} arango {REDACTED}"


def test_unset_secrets_are_ignored() -> None:
    assert format_json("nothing to hide", secrets=("", ""))["message"] == "nothing to hide"


SAFE_TEXT = string.ascii_letters + string.digits + " -_.:/@!?"


@given(
    secret=st.text(string.ascii_letters + string.digits, min_size=6, max_size=30),
    before=st.text(SAFE_TEXT, max_size=40),
    after=st.text(SAFE_TEXT, max_size=40),
)
def test_a_line_never_contains_a_secret_and_stays_one_json_object(
    secret: str, before: str, after: str
) -> None:
    line = format_line(before + secret + after, secrets=(secret,), detail=after + secret)

    assert "\n" not in line
    fields = json.loads(line)
    assert isinstance(fields, dict)
    # Field names are fixed by the code, so a secret that happens to spell one ("detail")
    # shows nothing about itself there; what must never carry it is a value.
    assert all(secret not in json.dumps(value) for value in fields.values())


@pytest.mark.parametrize(
    "secret",
    ['pa"ss-word', "pa\\ss-word", "pässwörd", "pass\tword"],
    ids=["quote", "backslash", "non-ascii", "tab"],
)
def test_a_secret_that_json_escapes_is_redacted_too(secret: str) -> None:
    line = format_line("login with %s", secret, secrets=(secret,))

    assert json.loads(line)["message"] == f"login with {REDACTED}"


def test_a_numeric_secret_leaves_the_line_valid_json() -> None:
    line = format_line("Published pong event", secrets=("20241203",), seq=20241203)

    assert json.loads(line)["seq"] == REDACTED


def test_an_uncaught_exception_in_a_thread_is_one_json_line() -> None:
    import io
    import threading

    stream = io.StringIO()
    root = logging.getLogger()
    previous = (sys.excepthook, threading.excepthook, root.handlers[:], root.level)
    try:
        configure_logging("INFO", dict(CONTEXT), (PASSWORD,), stream=stream)

        def fail() -> None:
            raise ConnectionError(f"lost the broker while logged in with {PASSWORD}")

        thread = threading.Thread(target=fail, name="consumer-thread")
        thread.start()
        thread.join(5)
    finally:
        sys.excepthook, threading.excepthook, root.handlers[:], level = previous
        root.setLevel(level)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    fields = json.loads(lines[0])
    assert fields["level"] == "ERROR"
    assert fields["message"] == "Uncaught exception in thread consumer-thread"
    assert "ConnectionError" in fields["exc_info"]
    assert PASSWORD not in lines[0]
