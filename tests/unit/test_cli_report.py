"""What the CLI prints: ping statistics and event lines (pure functions)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli.actions import expected_replies
from cli.report import (
    PingReply,
    event_line,
    one_way_ms,
    percentile,
    reply_line,
    summarize,
    summary_lines,
)


def reply(seq: int, rtt_ms: float, instance: str = "pod-1") -> PingReply:
    return PingReply(seq, instance, "q", f"c-{seq}", rtt_ms, 1.5)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 95, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([4.0, 3.0, 2.0, 1.0], 95, 4.0),
        (list(map(float, range(1, 101))), 95, 95.0),
        (list(map(float, range(1, 101))), 50, 50.0),
        ([1.0, 2.0], 0, 1.0),
    ],
)
def test_percentile_is_the_nearest_rank(values, q, expected):
    assert percentile(values, q) == expected


@given(st.lists(st.floats(0, 1e6), min_size=1), st.floats(0, 100))
def test_a_percentile_is_always_one_of_the_measured_values(values, q):
    assert percentile(values, q) in values


def test_summary_counts_pings_answered_and_replies_separately():
    replies = [reply(1, 10.0, "a"), reply(1, 30.0, "b"), reply(3, 20.0, "a")]
    summary = summarize("q", 4, replies)

    assert (summary.sent, summary.answered, summary.replies) == (4, 2, 3)
    assert summary.loss_pct == 50.0
    assert (summary.min_ms, summary.max_ms) == (10.0, 30.0)
    assert summary.avg_ms == pytest.approx(20.0)
    assert (summary.p50_ms, summary.p95_ms) == (20.0, 30.0)


def test_summary_without_replies_has_no_numbers():
    summary = summarize("q", 2, [])
    assert summary.loss_pct == 100.0
    assert summary.min_ms is summary.p95_ms is None
    assert summary_lines(summary, "text") == [
        "--- q ping statistics ---",
        "2 sent, 0 answered (0 replies), 100.0% loss",
    ]


def test_text_lines_read_like_ping():
    assert reply_line(reply(2, 9.87), "text") == (
        "pong from pod-1: queue=q seq=2 rtt=9.9 ms one-way=1.5 ms"
    )
    lines = summary_lines(summarize("q", 1, [reply(1, 9.87)]), "text")
    assert lines[-1] == "rtt min/avg/p50/p95/max = 9.9/9.9/9.9/9.9/9.9 ms"


def test_json_lines_are_one_object_each_with_a_type():
    line = reply_line(reply(1, 2.0), "json")
    assert json.loads(line) == {
        "type": "reply",
        "seq": 1,
        "instance": "pod-1",
        "queue_id": "q",
        "correlation_id": "c-1",
        "rtt_ms": 2.0,
        "one_way_ms": 1.5,
    }
    [summary] = summary_lines(summarize("q", 1, [reply(1, 2.0)]), "json")
    assert json.loads(summary)["type"] == "summary"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"ping_ts": 100.0, "ponged_at": 100.25}, 250.0),
        ({"ping_ts": 100.25, "ponged_at": 100.0}, -250.0),  # skewed clocks show as negative
        ({"ping_ts": None, "ponged_at": 100.0}, None),
        ({"ping_ts": True, "ponged_at": 100.0}, None),
        ({"ping_ts": -1e308, "ponged_at": 1e308}, None),  # overflows to infinity
        ({}, None),
    ],
)
def test_one_way_time_is_measured_across_two_clocks(event, expected):
    assert one_way_ms(event) == (pytest.approx(expected) if expected is not None else None)


def test_an_event_line_shows_what_the_envelope_does_not():
    event = {
        "event": "rejected",
        "status": "loading",
        "queue_id": "q",
        "instance": "pod-1",
        "timestamp": 0.0,
        "seq": 4,
        "reason": "invalid_field",
        "field": "delay_ms",
        "flags": {"noop": True},
    }
    assert event_line(event, "text") == (
        "1970-01-01T00:00:00.000+00:00 pod-1 q rejected status=loading "
        'reason=invalid_field field=delay_ms flags={"noop":true}'
    )
    assert json.loads(event_line(event, "json")) == event


@pytest.mark.parametrize("stamp", [1e300, -1e300, "yesterday", None, True])
def test_an_event_line_survives_a_timestamp_that_is_no_time(stamp):
    event = {"event": "pong", "queue_id": "q", "instance": "pod-1", "timestamp": stamp}
    assert event_line(event, "text").startswith("- pod-1 q pong")


@pytest.mark.parametrize(
    ("queue_id", "expect", "wanted"),
    [("q", None, 1), ("*", None, None), ("all", None, None), ("*", 3, 3), ("q", 2, 2)],
)
def test_a_broadcast_waits_for_every_reply_until_the_timeout(queue_id, expect, wanted):
    assert expected_replies(queue_id, expect) == wanted
