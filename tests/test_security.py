"""Kafka security on real processes: TLS to a broker behind socat, and SCRAM logins it rejects.

Tansu cannot store SCRAM users, so every login against a broker started with
``--authentication`` fails: these tests check the failure path (exit 3, one line naming the
cause, the password nowhere). The settings a successful login would use are checked in
``tests/unit/test_kafka_security.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, STARTUP_TIMEOUT, Cluster, WorkerProcess, unique
from tests.tls_support import (
    TlsBroker,
    TlsClient,
    issue_certificates,
    issue_expired_certificates,
    running_tls_broker,
    tls_broker,  # noqa: F401  (a fixture)
    tls_certificates,  # noqa: F401  (a fixture)
    write_unrelated_ca,
)

sys.path.insert(0, str(ROOT / "scripts"))
from local_broker import LOCAL_PROFILE

pytestmark = pytest.mark.broker

# A failed start must be reported long before the worker's own STARTUP_TIMEOUT (30 s); the
# budget includes the interpreter importing Faust.
FAIL_FAST = 15.0


def tls_cluster_for(broker: TlsBroker, tmp_path: Path) -> Cluster:
    """Workers that reach ``broker`` over TLS, trusting its CA."""
    return Cluster(broker.bootstrap, {**LOCAL_PROFILE, **broker.worker_env()}, tmp_path)


@pytest.fixture
def tls_cluster(tls_broker: TlsBroker, tmp_path: Path) -> Iterator[Cluster]:  # noqa: F811
    cluster = tls_cluster_for(tls_broker, tmp_path)
    yield cluster
    cluster.stop_all()


@pytest.fixture
def tls_client(tls_broker: TlsBroker) -> Iterator[TlsClient]:  # noqa: F811
    client = TlsClient(tls_broker)
    yield client
    client.close()


@pytest.fixture(scope="module")
def auth_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """A broker that requires a SCRAM login, plain on ``plain_port`` and TLS on ``tls_port``."""
    certificates = issue_certificates(tmp_path_factory.mktemp("auth-tls"))
    with running_tls_broker(certificates, authentication=True) as broker:
        yield broker


@pytest.fixture
def password() -> str:
    return f"s3cr3t-{uuid.uuid4()}"


def exits_fast(worker: WorkerProcess) -> tuple[int, float]:
    """The worker's exit code and how long it ran."""
    started = time.monotonic()
    try:
        code = worker.wait(STARTUP_TIMEOUT + 10)
    finally:
        worker.stop()
    return code, time.monotonic() - started


def the_error(worker: WorkerProcess) -> dict:
    """The run's one ERROR log line; nothing else on stderr."""
    errors = [line for line in worker.logs() if line["level"] == "ERROR"]
    assert len(errors) == 1, worker.output()[-3000:]
    assert "Traceback" not in worker.output()
    return errors[0]


def assert_unavailable(worker: WorkerProcess, cause: str) -> str:
    """Exit 3 within the budget, with one ERROR line naming ``cause``; returns its message."""
    code, elapsed = exits_fast(worker)
    assert code == 3, worker.output()[-3000:]
    assert elapsed < FAIL_FAST
    error = the_error(worker)
    assert error["cause"] == cause, error
    return error["message"]


def nothing_published(client: TlsClient, queue: str) -> bool:
    client.poll(1.0)
    return client.of(queue) == []


def cli_command() -> list[str]:
    if (ROOT / "cli" / "__main__.py").exists():
        return [sys.executable, "-m", "cli"]
    return [str(Path(sys.executable).parent / "dummy-service")]


def run_cli(cluster: Cluster, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli_command(), *args],
        env=cluster.env("cli", **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def stderr_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


# -- TLS that works ------------------------------------------------------------------------


def test_the_worker_answers_a_ping_over_tls_and_stops_on_command(tls_cluster, tls_client):
    queue = unique()
    worker = tls_cluster.start(queue)
    tls_client.wait_event(queue, "started", timeout=STARTUP_TIMEOUT)

    ping = tls_client.command(queue, "ping")
    pong = tls_client.wait_event(queue, "pong", correlation_id=ping)
    stop = tls_client.command(queue, "stop")
    tls_client.wait_event(queue, "interrupted", correlation_id=stop)

    assert worker.wait(30) == 0
    assert pong["queue_id"] == queue


# -- TLS that fails ------------------------------------------------------------------------


def test_a_wrong_ca_exits_3_at_once_naming_the_certificate(tls_cluster, tls_client, tmp_path):
    queue = unique()
    wrong_ca = write_unrelated_ca(tmp_path / "unrelated" / "ca.pem")

    worker = tls_cluster.start(queue, KAFKA_CA_PATH=str(wrong_ca))

    message = assert_unavailable(worker, "tls")
    assert "TLS" in message
    assert "certificate" in message
    assert "KAFKA_CA_PATH" in message
    assert nothing_published(tls_client, queue)


def test_an_expired_server_certificate_exits_3_naming_the_expiry(tmp_path):
    certificates = issue_expired_certificates(tmp_path / "expired")
    with running_tls_broker(certificates) as broker:
        cluster = tls_cluster_for(broker, tmp_path)
        try:
            message = assert_unavailable(cluster.start(unique()), "tls")
        finally:
            cluster.stop_all()

    assert "expired" in message


def test_a_certificate_for_another_host_exits_3_naming_the_mismatch(tmp_path):
    certificates = issue_certificates(tmp_path / "other-host", ("other.example",))
    with running_tls_broker(certificates) as broker:
        cluster = tls_cluster_for(broker, tmp_path)
        try:
            message = assert_unavailable(cluster.start(unique()), "tls")
        finally:
            cluster.stop_all()

    assert "mismatch" in message.lower()
    assert "certificate" in message


def test_tls_to_a_plaintext_port_exits_3_within_the_startup_timeout(tls_cluster, tls_broker):  # noqa: F811
    plaintext = f"127.0.0.1:{tls_broker.plain_port}"

    worker = tls_cluster.start(unique(), KAFKA_BOOTSTRAP_SERVERS=plaintext, STARTUP_TIMEOUT="4")

    code, elapsed = exits_fast(worker)
    assert code == 3, worker.output()[-3000:]
    assert elapsed < FAIL_FAST
    error = the_error(worker)
    assert error["cause"] in ("tls", "unreachable")
    assert "TLS" in error["message"]


def test_the_faust_command_line_exits_at_once_on_a_wrong_ca_without_the_password(
    tls_cluster,
    tmp_path,
    password,
):
    wrong_ca = write_unrelated_ca(tmp_path / "unrelated" / "ca.pem")
    faust = [str(Path(sys.executable).with_name("faust")), "-A", "dummyservice.app", "worker"]

    worker = tls_cluster.start(
        unique(),
        command=faust,
        KAFKA_CA_PATH=str(wrong_ca),
        KAFKA_USER="loader",
        KAFKA_PASSWORD=password,
    )

    code, elapsed = exits_fast(worker)
    assert code == 3, worker.output()[-3000:]
    assert elapsed < FAIL_FAST
    assert "certificate" in worker.output()
    assert password not in worker.output()


# -- SCRAM logins the broker rejects ---------------------------------------------------------


@pytest.mark.parametrize("log_level", ["INFO", "DEBUG"])
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
@pytest.mark.parametrize("over_tls", [False, True], ids=["SASL_PLAINTEXT", "SASL_SSL"])
def test_a_rejected_login_exits_3_naming_authentication_without_the_password(
    auth_broker, tmp_path, password, over_tls, mechanism, log_level
):
    cluster = tls_cluster_for(auth_broker, tmp_path)
    env = {
        "KAFKA_USER": "loader",
        "KAFKA_PASSWORD": password,
        "KAFKA_SASL_MECHANISM": mechanism,
        "LOG_LEVEL": log_level,
    }
    if not over_tls:
        env.update(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{auth_broker.plain_port}", KAFKA_CA_PATH="")

    try:
        message = assert_unavailable(cluster.start(unique(), **env), "authentication")
    finally:
        cluster.stop_all()

    assert "authentication failed" in message
    assert password not in cluster.workers[0].output()


# -- the debug command line ----------------------------------------------------------------


def test_the_cli_pings_a_worker_over_tls(tls_cluster, tls_client):
    queue = unique()
    worker = tls_cluster.start(queue)
    tls_client.wait_event(queue, "started", timeout=STARTUP_TIMEOUT)

    result = run_cli(tls_cluster, "ping", "--queue-id", queue, "--timeout", "15")

    assert result.returncode == 0, result.stdout + result.stderr
    tls_client.wait_event(queue, "pong")
    worker.stop()


def test_the_cli_exits_3_on_a_wrong_ca_naming_tls(tls_cluster, tmp_path):
    wrong_ca = write_unrelated_ca(tmp_path / "unrelated" / "ca.pem")

    started = time.monotonic()
    result = run_cli(
        tls_cluster, "ping", "--queue-id", unique(), "--timeout", "5", KAFKA_CA_PATH=str(wrong_ca)
    )

    assert result.returncode == 3, result.stdout + result.stderr
    assert time.monotonic() - started < FAIL_FAST
    [line] = stderr_lines(result)
    assert "TLS" in line
    assert "certificate" in line


@pytest.mark.parametrize("output", ["text", "json"])
def test_the_cli_exits_3_on_a_rejected_login_without_the_password(
    auth_broker, tmp_path, password, output
):
    cluster = tls_cluster_for(auth_broker, tmp_path)

    result = run_cli(
        cluster,
        "ping",
        "--queue-id",
        unique(),
        "--timeout",
        "5",
        "--output",
        output,
        KAFKA_USER="loader",
        KAFKA_PASSWORD=password,
    )

    assert result.returncode == 3, result.stdout + result.stderr
    [line] = stderr_lines(result)
    assert "authentication" in line
    assert password not in result.stdout + result.stderr
