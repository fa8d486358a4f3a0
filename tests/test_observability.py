"""HTTP endpoints, metric values, promtool, a real Prometheus scrape, and the JSON logs."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import (
    ROOT,
    free_port,
    started_worker,
    unique,
)

sys.path.insert(0, str(ROOT / "scripts"))

LIFECYCLE = ("starting", "started", "loading", "interrupted", "finished", "error")


def get(port: int, path: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, body = get(port, "/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(port: int, name: str, **labels: str) -> float:
    return samples(port)[(name, tuple(sorted(labels.items())))]


def one_hot(port: int) -> dict[str, float]:
    """``dummy_status_last`` for every status, from a single scrape."""
    scraped = samples(port)
    return {status: scraped[("dummy_status_last", (("status", status),))] for status in LIFECYCLE}


def wait_http(port: int, path: str, expected: int, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = get(port, path, timeout=1.0)
            if last[0] == expected:
                return last[1]
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{path} did not answer {expected} within {timeout} s (last: {last})")


def test_readiness_follows_the_lifecycle(cluster, sender, reader):
    queue = unique()
    worker = cluster.start(queue)
    body = wait_http(worker.port, "/readyz", 503)
    assert json.loads(body)["reason"] in ("starting", "no_partitions")
    assert get(worker.port, "/healthz")[0] == 200

    reader.wait_event(queue, "started", timeout=30)
    assert json.loads(wait_http(worker.port, "/readyz", 200)) == {"ready": True}
    assert value(worker.port, "dummy_ready") == 1

    sender.command(queue, "stop")
    assert worker.wait(30) == 0
    logs = [line["message"] for line in worker.logs()]
    # Not ready before the terminal event leaves the process.
    assert logs.index("Readiness changed: shutting_down") < logs.index(
        "Published interrupted event"
    )


def test_healthz_and_readyz_turn_503_while_shutting_down(cluster, reader):
    queue = unique()
    with started_worker(cluster, reader, queue) as worker:
        port = worker.port
        assert get(port, "/healthz")[0] == 200
        assert get(port, "/readyz")[0] == 200
        worker.signal(signal.SIGTERM)
        # Faust takes about a second to shut down after `interrupted`: the server is still up.
        wait_http(port, "/healthz", 503, timeout=10)
        status, body = get(port, "/readyz")
        assert (status, json.loads(body)) == (503, {"ready": False, "reason": "shutting_down"})
        assert worker.wait(30) == 0


def only(status: str) -> dict[str, float]:
    return {name: float(name == status) for name in LIFECYCLE}


def test_the_status_gauge_is_one_hot_through_every_transition(cluster, reader):
    queue = unique()
    worker = cluster.start(queue, "--simulate-loading", "--loading-interval", "3")
    port = worker.port
    wait_http(port, "/metrics", 200)
    starting = one_hot(port)
    assert get(port, "/readyz")[0] == 503  # so the scrape above was taken before `started`
    assert starting == only("starting")

    reader.wait_event(queue, "started", timeout=30)
    assert one_hot(port) == only("started")
    reader.wait_event(queue, "loading", timeout=10)
    assert one_hot(port) == only("loading")

    worker.signal(signal.SIGTERM)
    # The server stays up for about a second after the terminal event: poll it right away.
    seen = [one_hot(port)]
    while seen[-1] != only("interrupted") and len(seen) < 200:
        seen.append(one_hot(port))
    assert seen[-1] == only("interrupted")
    assert all(sum(sample.values()) == 1 for sample in seen)
    reader.wait_event(queue, "interrupted", timeout=10)
    assert worker.wait(30) == 0


def test_readiness_tells_the_truth_during_a_broker_outage(private_broker):
    queue = unique()
    with started_worker(private_broker.cluster, private_broker.reader, queue) as worker:
        wait_http(worker.port, "/readyz", 200)
        private_broker.freeze()
        body = wait_http(worker.port, "/readyz", 503, timeout=30)
        assert json.loads(body)["reason"] in ("kafka_unreachable", "no_partitions")
        assert get(worker.port, "/healthz")[0] == 200  # alive, only not ready
        private_broker.thaw()
        wait_http(worker.port, "/readyz", 200, timeout=30)


def test_metrics_count_pings_and_keep_the_status_one_hot(cluster, sender, reader):
    queue = unique()
    flags = ("--simulate-loading", "--loading-interval", "0.3")
    worker = cluster.start(queue, *flags)
    reader.wait_event(queue, "started", timeout=30)
    wait_http(worker.port, "/readyz", 200)
    assert one_hot(worker.port)["started"] + one_hot(worker.port)["loading"] == 1

    for _ in range(3):
        correlation = sender.command(queue, "ping")
        reader.wait_event(queue, "pong", correlation_id=correlation)
    sender.command(queue, "dance")
    reader.wait_event(queue, "rejected")
    reader.wait_event(queue, "loading")

    port = worker.port
    assert value(port, "dummy_pings_total") == 3
    assert value(port, "dummy_pongs_total") == 3
    assert value(port, "dummy_events_total", event="pong") == 3
    assert value(port, "dummy_events_total", event="started") == 1
    assert value(port, "dummy_commands_total", command="ping") == 3
    assert value(port, "dummy_commands_rejected_total", reason="unknown_command") == 1
    assert value(port, "dummy_ping_handling_seconds_count") == 3
    assert value(port, "dummy_records_written_total") >= 100
    assert value(port, "dummy_last_event_timestamp_seconds") > time.time() - 60
    assert value(port, "dummy_build_info", version="0.1.0") == 1
    assert one_hot(port) == {
        "starting": 0,
        "started": 0,
        "loading": 1,
        "interrupted": 0,
        "finished": 0,
        "error": 0,
    }
    worker.stop()


def test_status_endpoint_shows_identity_and_counts_without_secrets(cluster, sender, reader):
    queue = unique()
    worker = cluster.start(
        queue,
        ARANGO_URL="http://arango:8529",
        ARANGO_USER="loader",
        ARANGO_PASSWORD="arango-Pa55word-xyz",
        POD_NAME="pod-7",
    )
    reader.wait_event(queue, "started", timeout=30)
    correlation = sender.command(queue, "ping")
    reader.wait_event(queue, "pong", correlation_id=correlation)
    status, body = get(worker.port, "/status")
    worker.stop()
    assert status == 200
    document = json.loads(body)
    assert document["queue_id"] == queue
    assert document["instance"] == "pod-7"
    assert document["status"] == "started"
    assert document["ready"] is True
    assert document["events_published"] == {"started": 1, "pong": 1}
    assert document["commands_received"] == {"ping": 1}
    assert document["version"] == "0.1.0"
    assert "arango-Pa55word-xyz" not in body
    assert "arango:8529" not in body


def test_a_taken_port_exits_2_naming_the_port(cluster):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = cluster.start(unique(), METRICS_PORT=str(port))
        assert worker.wait(20) == 2
    errors = [line for line in worker.logs() if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert str(port) in errors[0]["message"]
    assert "in use" in errors[0]["message"]


def test_a_bind_address_the_machine_lacks_exits_2_naming_it(cluster):
    # 192.0.2.1 is reserved for documentation: no machine has it, and nothing is sent to it.
    worker = cluster.start(unique(), METRICS_BIND="192.0.2.1")
    assert worker.wait(20) == 2
    errors = [line for line in worker.logs() if line["level"] in ("ERROR", "CRITICAL")]
    assert len(errors) == 1
    assert "METRICS_BIND 192.0.2.1" in errors[0]["message"]


def test_promtool_finds_nothing_to_complain_about(cluster, sender, reader):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`)")
    queue = unique()
    worker = cluster.start(queue)
    reader.wait_event(queue, "started", timeout=30)
    sender.command(queue, "ping")
    reader.wait_event(queue, "pong")
    _, body = get(worker.port, "/metrics")
    worker.stop()
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


def test_a_real_prometheus_scrapes_the_worker(cluster, sender, reader, tmp_path: Path):
    server = shutil.which("prometheus")
    if server is None:
        pytest.skip("the Prometheus server is not installed (Debian package `prometheus`)")
    queue = unique()
    worker = cluster.start(queue)
    reader.wait_event(queue, "started", timeout=30)
    for _ in range(2):
        correlation = sender.command(queue, "ping")
        reader.wait_event(queue, "pong", correlation_id=correlation)

    web_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: dummy-service\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{worker.port}']\n"
    )
    prometheus = subprocess.Popen(
        [
            server,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pings = query_until(web_port, 'dummy_pings_total{job="dummy-service"}', "2")
        up = query_until(web_port, 'up{job="dummy-service"}', "1")
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=20)
        worker.stop()
    assert pings == "2"
    assert up == "1"


def query_until(port: int, query: str, expected: str, timeout: float = 30.0) -> str | None:
    deadline = time.monotonic() + timeout
    result = None
    while time.monotonic() < deadline:
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                data = json.loads(reply.read())
            values = [item["value"][1] for item in data["data"]["result"]]
            result = values[0] if values else None
            if result == expected:
                return result
        except OSError:
            pass
        time.sleep(0.5)
    return result


def test_every_stdout_line_of_a_run_is_documented_json(cluster, sender, reader):
    queue = unique()
    password = "arango-Secret-Value-123"
    with started_worker(
        cluster,
        reader,
        queue,
        "--simulate-loading",
        "--loading-interval",
        "0.2",
        ARANGO_USER="u",
        ARANGO_PASSWORD=password,
    ) as worker:
        sender.command(queue, "ping")
        sender.send(b"\xff garbage")
        sender.command(queue, "dance")
        rejected = reader.wait_event(queue, "rejected")
        status = sender.command(queue, "status")
        reader.wait_event(queue, "status", correlation_id=status)
        _, metrics = get(worker.port, "/metrics")
        _, document = get(worker.port, "/status")
        sender.command(queue, "stop")
        assert worker.wait(30) == 0
    assert rejected["reason"] == "unknown_command"
    for shown in (metrics, document, json.dumps(reader.of(queue)), worker.output()):
        assert password not in shown
    logs = worker.logs()
    for line in logs:
        assert {"timestamp", "level", "logger", "message", "queue_id", "producer"} <= line.keys()
    events = [line for line in logs if line["message"].startswith("Published ")]
    assert {line["event"] for line in events} >= {"started", "pong", "rejected", "interrupted"}
    assert all(isinstance(line["seq"], int) for line in events)
    rejections = [line for line in logs if line["level"] == "WARNING" and "reason" in line]
    assert {line["reason"] for line in rejections} >= {"invalid_utf8", "unknown_command"}
    commands = [line for line in logs if line["message"].startswith("Received ")]
    assert commands and all("command" in line and "correlation_id" in line for line in commands)
    assert password not in worker.output()
