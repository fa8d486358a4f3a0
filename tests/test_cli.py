"""The debug CLI against real worker processes on a real broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    ROOT,
    Cluster,
    CommandSender,
    EventReader,
    ensure_topic,
    free_port,
    started_worker,
    unique,
)

pytestmark = pytest.mark.broker


def cli_env(bootstrap: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KAFKA_", "QUEUE_")) and key not in ("CA_PATH", "LOG_LEVEL")
    }
    return {**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, **extra}


def run_cli(
    bootstrap: str, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=cli_env(bootstrap, **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(bootstrap: str, *args: str) -> subprocess.Popen[str]:
    """The CLI running in the background, its output in pipes; the caller ends it."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *args],
        env=cli_env(bootstrap),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_ping_count_5_gets_5_replies_and_a_summary_that_adds_up(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue, POD_NAME="pod-a"):
        result = run_cli(
            cluster.bootstrap, "ping", "-q", queue, "-c", "5", "-i", "0.1", "-o", "json"
        )

    assert result.returncode == 0, result.stderr
    *replies, summary = json_lines(result.stdout)
    assert [reply["seq"] for reply in replies] == [1, 2, 3, 4, 5]
    assert {reply["instance"] for reply in replies} == {"pod-a"}
    assert len({reply["correlation_id"] for reply in replies}) == 5
    assert all(reply["one_way_ms"] is not None for reply in replies)
    rtts = sorted(reply["rtt_ms"] for reply in replies)
    assert summary["type"] == "summary"
    assert (summary["sent"], summary["answered"], summary["replies"]) == (5, 5, 5)
    assert summary["loss_pct"] == 0
    assert summary["min_ms"] == rtts[0] and summary["max_ms"] == rtts[-1]
    assert summary["avg_ms"] == pytest.approx(sum(rtts) / 5)
    assert summary["p50_ms"] == rtts[2]
    assert summary["p95_ms"] == rtts[4]


def test_ping_text_output_is_one_line_per_reply_and_a_summary(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue, POD_NAME="pod-b"):
        result = run_cli(cluster.bootstrap, "ping", "-q", queue, "-c", "2", "-i", "0")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"pong from pod-b: queue={queue} seq=1 rtt=")
    assert lines[1].startswith(f"pong from pod-b: queue={queue} seq=2 rtt=")
    assert lines[2] == f"--- {queue} ping statistics ---"
    assert lines[3] == "2 sent, 2 answered (2 replies), 0.0% loss"
    assert lines[4].startswith("rtt min/avg/p50/p95/max = ")


def test_pings_further_apart_than_the_timeout_each_get_their_own_deadline(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        result = run_cli(
            cluster.bootstrap, "ping", "-q", queue, "-c", "2", "-i", "2", "--timeout", "1",
            "-o", "json",
        )  # fmt: skip

    assert result.returncode == 0, result.stderr
    *replies, summary = json_lines(result.stdout)
    assert [reply["seq"] for reply in replies] == [1, 2]
    assert all(reply["rtt_ms"] < 1000 for reply in replies)
    assert summary["answered"] == 2


def test_a_pong_after_its_deadline_counts_as_missing(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        result = run_cli(
            cluster.bootstrap, "ping", "-q", queue, "-c", "2", "-i", "2", "--timeout", "0.5",
            "--delay-ms", "1000", "-o", "json",
        )  # fmt: skip

    assert result.returncode == 1
    [summary] = json_lines(result.stdout)
    assert (summary["sent"], summary["answered"]) == (2, 0)
    assert "late pong for seq=1 ignored" in result.stderr
    assert "no pong for seq=2 within 0.5 s" in result.stderr


def test_delayed_pongs_are_matched_to_their_pings(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        result = run_cli(
            cluster.bootstrap,
            *("ping", "-q", queue, "-c", "3", "-i", "0", "--delay-ms", "300", "-o", "json"),
        )

    assert result.returncode == 0, result.stderr
    *replies, _ = json_lines(result.stdout)
    assert sorted(reply["seq"] for reply in replies) == [1, 2, 3]
    assert all(reply["rtt_ms"] >= 300 for reply in replies)


def test_a_queue_nobody_serves_exits_1_within_the_timeout(cluster):
    started = time.monotonic()
    result = run_cli(cluster.bootstrap, "ping", "-q", unique("nobody"), "--timeout", "2")
    elapsed = time.monotonic() - started

    assert result.returncode == 1
    assert "1 sent, 0 answered (0 replies), 100.0% loss" in result.stdout
    assert "no pong for seq=1 within 2 s" in result.stderr
    assert elapsed < 2 + 20  # the deadline holds (generous: start-up and connection included)


def test_ctrl_c_stops_ping_with_a_summary_of_what_was_sent(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        ping = start_cli(cluster.bootstrap, "ping", "-q", queue, "-c", "1000", "-i", "0.2")
        try:
            first = ping.stdout.readline()  # type: ignore[union-attr]
            ping.send_signal(signal.SIGINT)
            stdout, stderr = ping.communicate(timeout=30)
        finally:
            ping.kill()

    assert first.startswith("pong from ")
    assert ping.returncode == 130, stderr
    lines = stdout.splitlines()
    assert lines[-3] == f"--- {queue} ping statistics ---"
    assert " sent, " in lines[-2] and "1000 sent" not in lines[-2]


def test_the_timeout_holds_on_a_topic_where_nothing_is_published(cluster):
    silent = unique("silent-events")
    ensure_topic(cluster.bootstrap, silent)
    started = time.monotonic()
    result = run_cli(
        cluster.bootstrap, "ping", "-q", unique(), "--timeout", "1.5", "--events-topic", silent
    )

    assert result.returncode == 1
    assert time.monotonic() - started < 1.5 + 20


def test_a_stale_pong_from_an_earlier_run_is_not_matched(cluster):
    queue = unique()
    stale_pong = {
        "event": "pong",
        "queue_id": queue,
        "instance": "old-run",
        "correlation_id": "from-an-earlier-run",
        "ping_ts": time.time() - 60,
        "ponged_at": time.time() - 60,
    }
    leftovers = CommandSender(cluster.bootstrap, topic="queue-events")
    for _ in range(3):  # the last records of a topic are the ones a lagging "latest" re-delivers
        leftovers.send(stale_pong, key=queue.encode())

    result = run_cli(cluster.bootstrap, "ping", "-q", queue, "--timeout", "2", "-o", "json")

    assert result.returncode == 1
    assert json_lines(result.stdout)[-1]["replies"] == 0
    assert "old-run" not in result.stdout


def test_events_from_before_the_command_are_never_read(cluster):
    queue = unique()
    reused = unique("reused-id")
    leftovers = CommandSender(cluster.bootstrap, topic="queue-events")
    for _ in range(3):
        leftovers.send({"event": "pong", "queue_id": queue, "correlation_id": reused})

    # The same correlation id again: only reading from before the end could match the old pong.
    result = run_cli(
        cluster.bootstrap, "send", "-q", queue, "--command", "ping",
        "--field", f"correlation_id={reused}", "--timeout", "2",
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stdout == ""


def test_a_broadcast_ping_is_answered_by_every_instance(cluster: Cluster, tmp_path: Path):
    control, events = unique("control"), unique("events")
    topics = {"QUEUE_CONTROL_TOPIC": control, "QUEUE_EVENTS_TOPIC": events}
    reader = EventReader(cluster.bootstrap, topic=events)
    try:
        with (
            started_worker(cluster, reader, unique(), POD_NAME="worker-1", **topics),
            started_worker(cluster, reader, unique(), POD_NAME="worker-2", **topics),
        ):
            result = run_cli(
                cluster.bootstrap,
                *("ping", "-q", "*", "--timeout", "4", "-o", "json"),
                *("--control-topic", control, "--events-topic", events),
            )
    finally:
        reader.close()

    assert result.returncode == 0, result.stderr
    *replies, summary = json_lines(result.stdout)
    assert sorted(reply["instance"] for reply in replies) == ["worker-1", "worker-2"]
    assert (summary["answered"], summary["replies"]) == (1, 2)


def test_stop_waits_for_interrupted_and_the_worker_exits_0(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue) as worker:
        result = run_cli(cluster.bootstrap, "stop", "-q", queue, "-o", "json")
        assert worker.wait(timeout=30) == 0

    assert result.returncode == 0, result.stderr
    [interrupted] = json_lines(result.stdout)
    assert interrupted["event"] == "interrupted"
    assert interrupted["queue_id"] == queue


def test_status_prints_the_status_reply(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue, "--simulate-loading"):
        result = run_cli(cluster.bootstrap, "status", "-q", queue, "-o", "json")

    assert result.returncode == 0, result.stderr
    [status] = json_lines(result.stdout)
    assert status["event"] == "status"
    assert status["flags"]["simulate_loading"] is True


def test_send_shows_a_rejection_and_exits_1(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        result = run_cli(
            cluster.bootstrap, "send", "-q", queue, "--command", "ping", "--field", "delay_ms=-5"
        )

    assert result.returncode == 1
    assert "rejected" in result.stdout
    assert "invalid_field (field delay_ms)" in result.stderr


def test_send_fields_may_replace_the_command_fields(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        result = run_cli(
            cluster.bootstrap,
            *("send", "-q", queue, "--command", "ping", "--output", "json"),
            *("--field", "command=status", "--field", "correlation_id=mine"),
        )

    assert result.returncode == 0, result.stderr
    [reply] = json_lines(result.stdout)
    assert (reply["event"], reply["correlation_id"]) == ("status", "mine")


def test_send_can_deliver_raw_bytes_that_the_worker_survives(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        raw = run_cli(cluster.bootstrap, "send", "--raw", "{not json")
        ping = run_cli(cluster.bootstrap, "ping", "-q", queue)

    assert raw.returncode == 0, raw.stderr
    assert ping.returncode == 0, ping.stderr


def test_watch_prints_the_events_it_is_asked_for(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue):
        watcher = start_cli(cluster.bootstrap, "watch", "-q", queue, "-e", "pong", "--count", "2")
        try:
            assert "watching queue-events" in watcher.stderr.readline()
            sender = CommandSender(cluster.bootstrap)
            sender.command(queue, "status")
            sender.command(queue, "ping")
            sender.command(queue, "ping")
            stdout, _ = watcher.communicate(timeout=30)
        finally:
            watcher.kill()

    assert watcher.returncode == 0
    lines = stdout.splitlines()
    assert len(lines) == 2
    assert all(f" {queue} pong status=started" in line for line in lines)


def test_watch_exits_1_when_fewer_events_than_counted_arrive(cluster):
    result = run_cli(cluster.bootstrap, "watch", "-q", unique(), "--count", "1", "--timeout", "1")
    assert result.returncode == 1
    assert "saw 0 of 1 events within 1 s" in result.stderr


def test_a_wrong_bootstrap_address_exits_3_quickly_with_a_clear_message(cluster):
    address = f"127.0.0.1:{free_port()}"
    result = run_cli(address, "ping", "-q", unique(), "--connect-timeout", "2", "--timeout", "30")

    assert result.returncode == 3
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"dummy-service: error: Kafka at {address} is unreachable")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(("ping",), {}, "--queue-id", id="no-queue-id"),
        pytest.param(("ping", "-q", "x", "-c", "0"), {}, "--count", id="zero-count"),
        pytest.param(
            ("send", "-q", "x", "--command", "ping", "--field", "bad"),
            {},
            "key=value",
            id="bad-field",
        ),
        pytest.param(("ping", "-q", "x"), {"KAFKA_USER": "u"}, "KAFKA_PASSWORD", id="no-password"),
        pytest.param(
            ("ping", "-q", "x", "--bootstrap-servers", "nohost"),
            {},
            "--bootstrap-servers",
            id="bad-bootstrap",
        ),
    ],
)
def test_usage_errors_exit_2_naming_the_problem(cluster, args, env, message):
    result = run_cli(cluster.bootstrap, *args, **env)
    assert result.returncode == 2
    assert message in result.stderr


def test_every_command_explains_its_flags_and_exit_codes():
    for command in ("ping", "stop", "status", "send", "watch"):
        result = subprocess.run(
            [sys.executable, "-m", "cli", command, "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert result.returncode == 0
        assert "--output" in result.stdout and "Exit codes" in result.stdout


def test_debug_producer_keeps_the_old_interface_working(cluster, reader):
    queue = unique()
    script = [sys.executable, str(ROOT / "cli" / "debug_producer.py"), "--queue-id", queue]
    env = cli_env(cluster.bootstrap)
    with started_worker(cluster, reader, queue) as worker:
        ping = subprocess.run(
            [*script, "--command", "ping", "--expect-pong", "--repeat", "2", "--interval", "0.1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        stop = subprocess.run(
            [*script, "--command", "stop", "--timeout", "20"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert worker.wait(timeout=30) == 0

    assert ping.returncode == 0, ping.stderr
    assert "2 sent, 2 answered" in ping.stdout
    assert stop.returncode == 0, stop.stderr
    assert " interrupted " in stop.stdout


def test_debug_producer_exits_1_when_no_pong_arrives(cluster):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli" / "debug_producer.py"),
            "--queue-id",
            unique(),
            "--command",
            "ping",
            "--expect-pong",
            "--timeout",
            "1",
        ],
        env=cli_env(cluster.bootstrap),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1


def make(target: str, bootstrap: str, queue: str) -> subprocess.CompletedProcess[str]:
    """Run a Makefile target with this interpreter's environment as the venv."""
    return subprocess.run(
        ["make", "--no-print-directory", target, f"VENV={sys.prefix}", f"QUEUE_ID={queue}"],
        env=cli_env(bootstrap),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_debug_ping_and_debug_stop_against_a_running_worker(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue) as worker:
        ping = make("debug-ping", cluster.bootstrap, queue)
        stop = make("debug-stop", cluster.bootstrap, queue)
        assert worker.wait(timeout=30) == 0

    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert "1 sent, 1 answered" in ping.stdout
    assert stop.returncode == 0, stop.stdout + stop.stderr


def test_make_debug_ping_fails_when_no_pong_arrives(cluster):
    result = make("debug-ping", cluster.bootstrap, unique("nobody"))
    assert result.returncode != 0
