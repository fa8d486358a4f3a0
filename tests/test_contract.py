"""The command/event contract, end to end: a real worker process on a real broker."""

from __future__ import annotations

import signal
import time

import pytest

from tests.support import Cluster, CommandSender, EventReader, started_worker, unique

ENVELOPE = {
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


def test_ping_is_answered_by_one_pong_with_every_field(cluster, sender, reader):
    queue = unique()
    with started_worker(
        cluster,
        reader,
        queue,
        SYMBOL="BTCUSD",
        TIME_RANGE="2024-01-01:2024-01-31",
        TELEMETRY_PRODUCER_ID="loader-7",
        TYPE="candles",
        POD_NAME="pod-a",
    ):
        sent_at = time.time()
        correlation = sender.command(queue, "ping", sent_at=sent_at)
        pong = reader.wait_event(queue, "pong", correlation_id=correlation)

        assert pong.keys() >= ENVELOPE
        assert pong["status"] == "started"
        assert pong["symbol"] == "BTCUSD"
        assert pong["type"] == "candles"
        assert pong["time_range"] == "2024-01-01:2024-01-31"
        assert pong["producer"] == pong["telemetry_id"] == "loader-7"
        assert pong["instance"] == "pod-a"
        assert pong["schema_version"] == 1
        assert pong["seq"] == 2  # after `started`
        assert pong["ping_ts"] == sent_at
        assert sent_at <= pong["ponged_at"] <= time.time()
        assert pong["timestamp"] == pong["sent_at"]
        reader.poll(1.0)
        assert len([e for e in reader.of(queue, "pong")]) == 1


def test_events_are_plain_json_keyed_by_queue_id(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        correlation = sender.command(queue, "ping")
        reader.wait_event(queue, "pong", correlation_id=correlation)
    keys = {key for key, value in reader.raw if value and f'"{queue}"'.encode() in value}
    assert keys == {queue.encode()}
    started = reader.of(queue, "started")[0]
    assert started["message"] and started["finished"] is False
    assert started["records_written"] == 0
    assert "__faust" not in str(reader.raw)


def test_stop_publishes_interrupted_and_the_worker_exits_0(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue) as worker:
        correlation = sender.command(queue, "stop")
        interrupted = reader.wait_event(queue, "interrupted")
        assert worker.wait(timeout=30) == 0
    assert interrupted["correlation_id"] == correlation
    assert interrupted["finished"] is True
    assert interrupted["status"] == "interrupted"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_publishes_interrupted_and_exits_0(cluster, reader, signum):
    queue = unique()
    with started_worker(cluster, reader, queue) as worker:
        worker.signal(signum)
        assert worker.wait(timeout=30) == 0
        reader.wait_event(queue, "interrupted")


def test_exactly_one_terminal_event_and_nothing_after_it(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue) as worker:
        sender.command(queue, "stop")
        sender.command(queue, "stop")
        sender.command(queue, "ping")
        worker.signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    reader.poll(1.5)
    events = reader.of(queue)
    terminal = [e for e in events if e["event"] in ("interrupted", "finished", "error")]
    assert len(terminal) == 1
    assert events[-1] is terminal[0]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_commands_for_other_queues_are_ignored_and_broadcasts_answered(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        other = sender.command(unique(), "ping")
        star = sender.command("*", "ping")
        everyone = sender.command("all", "ping")
        reader.wait_event(queue, "pong", correlation_id=star)
        reader.wait_event(queue, "pong", correlation_id=everyone)
        reader.poll(0.5)
    assert not [e for e in reader.of(queue) if e.get("correlation_id") == other]


def test_two_instances_answer_only_their_own_pings(cluster, sender, reader):
    first, second = unique(), unique()
    with started_worker(cluster, reader, first), started_worker(cluster, reader, second):
        to_first = sender.command(first, "ping")
        to_second = sender.command(second, "ping")
        reader.wait_event(first, "pong", correlation_id=to_first)
        reader.wait_event(second, "pong", correlation_id=to_second)
        reader.poll(0.5)
    assert {e["correlation_id"] for e in reader.of(first, "pong")} == {to_first}
    assert {e["correlation_id"] for e in reader.of(second, "pong")} == {to_second}


def test_two_replicas_of_one_queue_both_answer(cluster, sender, reader):
    queue = unique()
    with (
        started_worker(cluster, reader, queue, POD_NAME="replica-1"),
        started_worker(cluster, reader, queue, POD_NAME="replica-2"),
    ):
        # The second `started` may be the first replica's: wait for both.
        reader.wait_for(
            lambda e: (
                e.get("queue_id") == queue
                and e["event"] == "started"
                and e["instance"] == "replica-2"
            ),
            timeout=30,
        )
        correlation = sender.command(queue, "ping")
        reader.wait_for(
            lambda e: e.get("correlation_id") == correlation and e["instance"] == "replica-1"
        )
        reader.wait_for(
            lambda e: e.get("correlation_id") == correlation and e["instance"] == "replica-2"
        )


BAD_INPUT = [
    pytest.param(b"\xff\xfe not utf-8", None, id="invalid-utf8"),
    pytest.param(b"{not json", None, id="invalid-json"),
    pytest.param(b"[1, 2, 3]", None, id="json-array"),
    pytest.param(b'"just a string"', None, id="json-string"),
    pytest.param(None, None, id="empty-value"),
    pytest.param(b"x" * 1_000_000, None, id="one-megabyte-blob"),
    pytest.param(b'{"command": "ping"}', None, id="missing-queue-id"),
    pytest.param(b'{"queue_id": 42, "command": "ping"}', None, id="queue-id-not-a-string"),
    pytest.param(b'{"queue_id": "%(q)s"}', "missing_field", id="missing-command"),
    pytest.param(
        b'{"queue_id": "%(q)s", "command": 7}', "invalid_field", id="command-not-a-string"
    ),
    pytest.param(
        b'{"queue_id": "%(q)s", "command": "dance"}', "unknown_command", id="unknown-command"
    ),
    pytest.param(
        b'{"queue_id": "%(q)s", "command": "ping", "sent_at": "noon"}',
        "invalid_field",
        id="sent-at-not-a-number",
    ),
    pytest.param(
        b'{"queue_id": "%(q)s", "command": "ping", "correlation_id": 5}',
        "invalid_field",
        id="correlation-id-not-a-string",
    ),
]


@pytest.mark.parametrize(("payload", "reason"), BAD_INPUT)
def test_bad_input_never_stops_the_worker_from_answering(cluster, sender, reader, payload, reason):
    queue = unique()
    with started_worker(cluster, reader, queue) as worker:
        sender.send(
            payload % {b"q": queue.encode()} if payload and b"%(q)s" in payload else payload
        )
        correlation = sender.command(queue, "ping")
        reader.wait_event(queue, "pong", correlation_id=correlation)
        assert worker.process.poll() is None
    rejected = reader.of(queue, "rejected")
    if reason is None:
        assert rejected == []  # nobody to answer: logged only
        assert any(line["level"] == "WARNING" for line in worker.logs())
    else:
        assert [r["reason"] for r in rejected] == [reason]
        assert rejected[0]["detail"]
        assert rejected[0]["status"] == "started"


def test_a_rejection_echoes_the_correlation_id(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        correlation = sender.command(queue, "dance")
        rejected = reader.wait_event(queue, "rejected", correlation_id=correlation)
    assert rejected["reason"] == "unknown_command"
    assert "dance" in rejected["detail"]


def test_a_command_sent_before_the_worker_started_is_not_run(cluster, sender, reader):
    queue = unique()
    sender.send({"queue_id": queue, "command": "stop", "sent_at": time.time() - 60})
    with started_worker(cluster, reader, queue) as worker:
        # A stale stop that a broker re-delivers must not end the fresh run.
        stale = {
            "queue_id": queue,
            "command": "stop",
            "sent_at": time.time() - 60,
            "correlation_id": "old",
        }
        sender.send(stale)
        rejected = reader.wait_event(queue, "rejected", correlation_id="old")
        correlation = sender.command(queue, "ping")
        reader.wait_event(queue, "pong", correlation_id=correlation)
        assert worker.process.poll() is None
    assert rejected["reason"] == "stale"


def test_every_stdout_line_is_json_with_the_common_fields(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue, KAFKA_USER="", KAFKA_PASSWORD="") as worker:
        sender.send(b"{broken")
        sender.command(queue, "ping")
        sender.command(queue, "stop")
        assert worker.wait(timeout=30) == 0
    logs = worker.logs()  # raises if a line is not JSON
    assert logs
    for line in logs:
        assert {"timestamp", "level", "logger", "message", "queue_id", "producer"} <= line.keys()
        assert line["timestamp"].endswith("Z")
    published = [line for line in logs if line["message"] == "Published pong event"]
    assert published and published[0]["event"] == "pong"


def test_the_faust_command_line_runs_the_same_worker(
    cluster: Cluster, sender: CommandSender, reader: EventReader
):
    queue = unique()
    faust = [cluster_python_bin("faust"), "-A", "dummyservice.app", "worker"]
    worker = cluster.start(queue, command=faust)
    reader.wait_event(queue, "started", timeout=30)
    correlation = sender.command(queue, "ping")
    reader.wait_event(queue, "pong", correlation_id=correlation)
    sender.command(queue, "stop")
    reader.wait_event(queue, "interrupted")
    assert worker.wait(timeout=30) == 0


def test_the_faust_command_line_exits_1_after_a_fail_command(cluster, sender, reader):
    queue = unique()
    faust = [cluster_python_bin("faust"), "-A", "dummyservice.app", "worker"]
    worker = cluster.start(queue, command=faust)
    reader.wait_event(queue, "started", timeout=30)
    sender.command(queue, "fail", message="boom")
    error = reader.wait_event(queue, "error")
    assert worker.wait(timeout=30) == 1
    assert error["error_message"] == "boom"


def test_the_faust_command_line_takes_the_flags_as_variables(cluster, reader):
    queue = unique()
    faust = [cluster_python_bin("faust"), "-A", "dummyservice.app", "worker"]
    worker = cluster.start(queue, command=faust, DUMMY_SIGNAL_EXIT_CODE="143")
    reader.wait_event(queue, "started", timeout=30)
    worker.signal(signal.SIGTERM)
    assert reader.wait_event(queue, "interrupted")["message"] == "Interrupted by SIGTERM"
    assert worker.wait(timeout=30) == 143


def test_the_faust_command_line_exits_2_on_bad_configuration(cluster):
    faust = [cluster_python_bin("faust"), "-A", "dummyservice.app", "worker"]
    worker = cluster.start(unique(), command=faust, DUMMY_EXIT_AFTER="soon")
    assert worker.wait(timeout=30) == 2
    assert "DUMMY_EXIT_AFTER" in worker.output()


def test_dummy_service_run_starts_the_worker_and_a_flag_beats_its_variable(cluster, reader):
    queue = unique()
    run = [cluster_python_bin("dummy-service"), "run", "--exit-after", "0.5"]
    worker = cluster.start(queue, command=run, DUMMY_EXIT_AFTER="600")
    reader.wait_event(queue, "started", timeout=30)
    assert reader.wait_event(queue, "finished")["message"] == "Finished after 0.5 s"
    assert worker.wait(timeout=30) == 0


def test_a_stop_command_exits_0_whatever_exit_code_a_signal_would_give(cluster, sender, reader):
    queue = unique()
    with started_worker(cluster, reader, queue, "--signal-exit-code", "143") as worker:
        sender.command(queue, "stop")
        assert worker.wait(timeout=30) == 0


def cluster_python_bin(name: str) -> str:
    import sys
    from pathlib import Path

    return str(Path(sys.executable).with_name(name))
