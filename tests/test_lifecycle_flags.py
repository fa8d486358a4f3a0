"""Lifecycle flags, timers, loader emulation and chaos commands, on real worker processes."""

from __future__ import annotations

import json
import signal
import sys
import time
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from tests.support import (
    ROOT,
    Cluster,
    EventReader,
    ensure_topic,
    started_worker,
    unique,
)

TERMINAL = ("interrupted", "finished", "error")

sys.path.insert(0, str(ROOT / "scripts"))


def single_terminal(reader: EventReader, queue: str, settle: float = 1.0) -> dict:
    """The run's only terminal event, checked to be its last event."""
    reader.poll(settle)
    events = reader.of(queue)
    terminal = [e for e in events if e["event"] in TERMINAL]
    assert len(terminal) == 1, f"terminal events: {[e['event'] for e in terminal]}"
    assert events[-1] is terminal[0], f"after the terminal event: {events[-1]['event']}"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    return terminal[0]


def test_exit_after_finishes_the_run_with_exit_code_0(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue, "--exit-after", "1") as worker:
        assert worker.wait(30) == 0
    finished = single_terminal(reader, queue)
    assert finished["event"] == "finished"
    assert finished["finished"] is True


def test_fail_after_publishes_error_and_exits_1(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue, "--fail-after", "1") as worker:
        assert worker.wait(30) == 1
    error = single_terminal(reader, queue)
    assert error["event"] == "error"
    assert error["status"] == "error"
    assert "failure" in error["error_message"].lower()


def test_exit_on_ping_answers_then_finishes(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue, "--exit-on-ping") as worker:
        correlation = sender.command(queue, "ping")
        assert worker.wait(30) == 0
    single_terminal(reader, queue)
    assert [e["event"] for e in reader.of(queue)][-2:] == ["pong", "finished"]
    assert reader.of(queue, "pong")[0]["correlation_id"] == correlation


@pytest.mark.parametrize("debug", [True, False])
def test_debug_logs_what_is_otherwise_left_out(cluster, sender, reader, debug):
    queue = unique()
    flags = ("--debug",) if debug else ()
    with started_worker(cluster, reader, queue, *flags) as worker:
        sender.command(unique("someone-else"), "ping")
        correlation = sender.command(queue, "ping")
        reader.wait_event(queue, "pong", correlation_id=correlation)
        sender.command(queue, "stop")
        assert worker.wait(30) == 0
    ignored = [line for line in worker.logs() if line["message"].startswith("Ignoring command")]
    assert bool(ignored) is debug
    assert all(line["level"] == "DEBUG" for line in ignored)


def test_noop_starts_at_once_and_consumes_no_commands(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue, "--noop", "--exit-after", "3") as worker:
        sender.command(queue, "ping")
        assert worker.wait(30) == 0
    assert reader.of(queue, "pong") == []
    assert single_terminal(reader, queue)["event"] == "finished"


def test_noop_still_ends_on_sigterm(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue, "--noop") as worker:
        worker.signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    assert single_terminal(reader, queue)["event"] == "interrupted"


def test_simulated_loading_counts_batches_until_stopped(cluster, sender, reader):
    queue = unique()
    flags = ("--simulate-loading", "--loading-interval", "0.3", "--batch-size", "7")
    with started_worker(cluster, reader, queue, *flags) as worker:
        reader.wait_event(queue, "loading", records_written=21)
        sender.command(queue, "stop")
        assert worker.wait(30) == 0
    loading = reader.of(queue, "loading")
    assert [e["records_written"] for e in loading[:3]] == [7, 14, 21]
    assert all(e["status"] == "loading" and e["finished"] is False for e in loading)
    interrupted = single_terminal(reader, queue)
    assert interrupted["records_written"] == loading[-1]["records_written"]


def test_records_total_ends_the_run_naturally(cluster, reader):
    queue = unique()
    flags = (
        "--simulate-loading",
        "--loading-interval",
        "0.2",
        "--batch-size",
        "40",
        "--records-total",
        "100",
    )
    with started_worker(cluster, reader, queue, *flags) as worker:
        assert worker.wait(30) == 0
    finished = single_terminal(reader, queue)
    assert finished["event"] == "finished"
    assert finished["records_written"] == 100
    assert [e["records_written"] for e in reader.of(queue, "loading")] == [40, 80]


def read_records(cluster: Cluster, topic: str, symbol: str, expected: int) -> list[dict]:
    """Every record on ``topic``: up to ``expected``, and whatever follows within half a second."""
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "group.id": uuid.uuid4().hex,
            "enable.auto.commit": False,
        }
    )
    partitions = ensure_topic(cluster.bootstrap, topic)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    records: list[dict] = []
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                assert message.key() == symbol.encode()
                records.append(json.loads(message.value()))
            if len(records) >= expected:
                deadline = min(deadline, time.monotonic() + 0.5)
    finally:
        consumer.close()
    return sorted(records, key=lambda r: r["seq"])


def test_emit_data_produces_the_whole_time_range_then_finishes(cluster, reader):
    queue, topic = unique(), unique("data")
    ensure_topic(cluster.bootstrap, topic)
    flags = ("--emit-data", "--loading-interval", "0.1", "--batch-size", "500")
    with started_worker(
        cluster,
        reader,
        queue,
        *flags,
        KAFKA_TOPIC=topic,
        SYMBOL="ETHUSD",
        TIME_RANGE="2024-03-01:2024-03-01",
    ) as worker:
        assert worker.wait(60) == 0
    finished = single_terminal(reader, queue)
    assert finished["event"] == "finished"
    assert finished["records_written"] == 1440  # one candle a minute for one day
    records = read_records(cluster, topic, "ETHUSD", 1440)
    assert len(records) == 1440
    assert [r["seq"] for r in records] == list(range(1, 1441))
    assert records[0]["timestamp"] == "2024-03-01T00:00:00Z"
    assert records[-1]["timestamp"] == "2024-03-01T23:59:00Z"
    assert all(
        r["low"] <= min(r["open"], r["close"]) <= max(r["open"], r["close"]) <= r["high"]
        for r in records
    )


def test_emit_data_is_identical_across_two_runs(cluster, reader):
    runs = []
    for _ in range(2):
        queue, topic = unique(), unique("data")
        ensure_topic(cluster.bootstrap, topic)
        flags = (
            "--emit-data",
            "--loading-interval",
            "0.1",
            "--batch-size",
            "50",
            "--records-total",
            "120",
        )
        with started_worker(
            cluster, reader, queue, *flags, KAFKA_TOPIC=topic, SYMBOL="SOLUSD"
        ) as worker:
            assert worker.wait(60) == 0
        assert single_terminal(reader, queue)["records_written"] == 120
        runs.append(read_records(cluster, topic, "SOLUSD", 120))
    assert len(runs[0]) == 120
    assert runs[0] == runs[1]


def test_a_signal_in_the_middle_of_emitting_counts_every_record_on_the_topic(cluster, reader):
    queue, topic = unique(), unique("data")
    ensure_topic(cluster.bootstrap, topic)
    flags = ("--emit-data", "--loading-interval", "0.01", "--batch-size", "2000")
    with started_worker(cluster, reader, queue, *flags, KAFKA_TOPIC=topic, SYMBOL="XRPUSD") as w:
        reader.wait_event(queue, "loading")
        w.signal(signal.SIGTERM)  # batches follow each other closely: one is almost always out
        assert w.wait(30) == 0
    interrupted = single_terminal(reader, queue)
    assert interrupted["event"] == "interrupted"
    written = interrupted["records_written"]
    assert written >= 2000
    assert len(read_records(cluster, topic, "XRPUSD", written)) == written


def test_status_command_reports_lifecycle_and_flags(cluster, sender, reader):
    queue = unique()
    flags = ("--simulate-loading", "--loading-interval", "0.2", "--batch-size", "5")
    with started_worker(cluster, reader, queue, *flags):
        reader.wait_event(queue, "loading")
        correlation = sender.command(queue, "status")
        status = reader.wait_event(queue, "status", correlation_id=correlation)
    assert status["status"] == "loading"
    assert status["records_written"] >= 5
    assert status["uptime_seconds"] > 0
    assert status["flags"] == {"simulate_loading": True, "loading_interval": 0.2, "batch_size": 5}


def test_fail_command_publishes_error_with_its_message_and_exits_1(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue) as worker:
        correlation = sender.command(queue, "fail", message="disk on fire")
        assert worker.wait(30) == 1
    error = single_terminal(reader, queue)
    assert error["error_message"] == "disk on fire"
    assert error["correlation_id"] == correlation


def test_a_delayed_pong_does_not_hold_up_other_commands(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        slow = sender.command(queue, "ping", delay_ms=1500)
        fast = sender.command(queue, "ping")
        reader.wait_event(queue, "pong", correlation_id=slow)
    pongs = [e["correlation_id"] for e in reader.of(queue, "pong")]
    assert pongs == [fast, slow]
    slow_pong = reader.of(queue, "pong")[1]
    assert slow_pong["ponged_at"] - slow_pong["ping_ts"] >= 1.5


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"delay_ms": -1}, "delay_ms"),
        ({"delay_ms": 60001}, "delay_ms"),
        ({"delay_ms": "soon"}, "delay_ms"),
    ],
)
def test_out_of_range_fields_are_rejected_by_name(cluster, sender, reader, fields, field):
    queue = unique()
    with started_worker(cluster, reader, queue):
        correlation = sender.command(queue, "ping", **fields)
        rejected = reader.wait_event(queue, "rejected", correlation_id=correlation)
    assert rejected["field"] == field
    assert rejected["reason"] == "invalid_field"


def test_stop_cancels_a_pending_exit_after(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue, "--exit-after", "120") as worker:
        sender.command(queue, "stop")
        assert worker.wait(30) == 0  # long before the 120 s timer
    assert single_terminal(reader, queue)["event"] == "interrupted"


@pytest.mark.parametrize(
    ("flags", "event", "code"),
    [
        (("--fail-after", "1", "--exit-after", "60"), "error", 1),
        (("--exit-after", "1", "--fail-after", "60"), "finished", 0),
    ],
)
def test_the_first_timer_decides_the_outcome(cluster, reader, flags, event, code):
    queue = unique()
    with started_worker(cluster, reader, queue, *flags) as worker:
        assert worker.wait(30) == code
    assert single_terminal(reader, queue)["event"] == event


def test_sigterm_during_loading_interrupts_and_loading_stops(cluster, reader):
    queue = unique()
    flags = ("--simulate-loading", "--loading-interval", "0.1", "--batch-size", "3")
    with started_worker(cluster, reader, queue, *flags) as worker:
        reader.wait_event(queue, "loading", records_written=9)
        worker.signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    assert single_terminal(reader, queue, settle=1.5)["event"] == "interrupted"


def test_a_second_signal_exits_at_once_when_the_broker_hangs(private_broker):
    queue = unique()
    with started_worker(private_broker.cluster, private_broker.reader, queue) as worker:
        private_broker.freeze()
        worker.signal(signal.SIGTERM)  # `interrupted` cannot be published now
        time.sleep(0.5)
        worker.signal(signal.SIGTERM)
        assert worker.wait(5) == 0
    assert any("again" in line["message"] for line in worker.logs())


@pytest.mark.parametrize(
    ("flags", "env", "named"),
    [
        (("--exit-after", "-1"), {}, "--exit-after"),
        (("--exit-after", "soon"), {}, "--exit-after"),
        (("--fail-after", "0"), {}, "--fail-after"),
        (("--loading-interval", "0"), {}, "--loading-interval"),
        (("--batch-size", "0"), {}, "--batch-size"),
        (("--records-total", "-5"), {}, "--records-total"),
        (("--emit-data",), {}, "KAFKA_TOPIC"),
        ((), {"DUMMY_EXIT_AFTER": "never"}, "DUMMY_EXIT_AFTER"),
        ((), {"QUEUE_ID": ""}, "QUEUE_ID"),
        ((), {"TIME_RANGE": "2024-01-31:2024-01-01"}, "TIME_RANGE"),
        ((), {"TIME_RANGE": "January"}, "TIME_RANGE"),
        ((), {"KAFKA_CA_PATH": "/nonexistent/ca.crt"}, "KAFKA_CA_PATH"),
        ((), {"CA_PATH": "/nonexistent/ca.crt"}, "CA_PATH"),
        ((), {"KAFKA_USER": "alice"}, "KAFKA_PASSWORD"),
    ],
)
def test_bad_configuration_exits_2_with_one_line_naming_it(cluster, reader, flags, env, named):
    queue = unique()
    worker = cluster.start(queue, *flags, **env)
    assert worker.wait(20) == 2
    lines = worker.logs()
    assert len(lines) == 1
    assert lines[0]["level"] == "ERROR"
    assert named in lines[0]["message"]
    assert (lines[0]["queue_id"], lines[0]["producer"]) == (env.get("QUEUE_ID", queue), "dummy")
    reader.poll(0.3)
    assert reader.of(queue) == []


def test_unknown_flag_is_a_usage_error(cluster):
    worker = cluster.start(unique(), "--frobnicate")
    assert worker.wait(20) == 2
    assert "--frobnicate" in worker.output()


def test_an_unreachable_broker_exits_3_with_a_clear_message(cluster):
    worker = cluster.start(unique(), KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1", STARTUP_TIMEOUT="2")
    assert worker.wait(20) == 3
    errors = [line for line in worker.logs() if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert "unreachable" in errors[0]["message"]


def test_shutdown_is_bounded_when_the_broker_is_gone(private_broker):
    queue = unique()
    cluster, reader = private_broker.cluster, private_broker.reader
    with started_worker(cluster, reader, queue, SHUTDOWN_TIMEOUT="2") as worker:
        private_broker.freeze()
        worker.signal(signal.SIGTERM)  # one signal only, as Kubernetes sends
        # Unbounded, Faust's own stop would wait 20 s for the producer and 60 s for the consumer.
        assert worker.wait(45) == 0
    overdue = [line for line in worker.logs() if line.get("cause") == "shutdown_timeout"]
    assert [line["level"] for line in overdue] == ["ERROR"]
    assert "SHUTDOWN_TIMEOUT" in overdue[0]["message"]
