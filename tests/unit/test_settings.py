"""Environment → Settings: defaults, parsing, and one ConfigError per wrong value."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from dummyservice.settings import (
    Behaviour,
    ConfigError,
    KafkaSettings,
    Secret,
    Settings,
    TimeRange,
    load_kafka_settings,
    load_settings,
)

PASSWORD = "Pa55-w0rd-never-shown"
BASE = {"QUEUE_ID": "queue-7", "POD_NAME": "pod-7"}
WITH_SECRETS = {
    **BASE,
    "KAFKA_USER": "svc",
    "KAFKA_PASSWORD": PASSWORD,
    "ARANGO_PASSWORD": PASSWORD,
}
MISSING_FILE = "/nonexistent-dir/ca.crt"


def load(**variables: str) -> Settings:
    return load_settings({**BASE, **variables})


def config_error(env: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    return caught.value


# --- defaults and valid values ---------------------------------------------------------------


def test_only_queue_id_is_required_and_the_rest_takes_the_documented_defaults() -> None:
    settings = load_settings({"QUEUE_ID": "queue-7", "POD_NAME": "pod-7"})

    assert settings == Settings(queue_id="queue-7", instance="pod-7")
    assert settings.kafka == KafkaSettings(
        bootstrap_servers=("localhost:9092",),
        user=None,
        password=None,
        ca_path=None,
        sasl_mechanism="SCRAM-SHA-512",
        security_protocol=None,
    )
    assert (settings.type, settings.producer_id) == ("dummy", "dummy")
    assert (settings.events_topic, settings.control_topic) == ("queue-events", "queue-control")
    assert (settings.metrics_port, settings.metrics_bind) == (8000, "0.0.0.0")
    assert (settings.log_level, settings.startup_timeout) == ("INFO", 30.0)
    assert settings.shutdown_timeout == 15.0
    assert settings.data_dir == Path("/tmp/dummy-service")
    assert (settings.fetch_max_wait_ms, settings.command_clock_skew) == (500, 1.0)
    assert (settings.session_timeout, settings.heartbeat_interval) == (10.0, 3.0)
    assert settings.rebalance_timeout == 10.0
    assert settings.behaviour == Behaviour()


def test_every_variable_is_read_into_its_setting(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("not checked here")

    settings = load_settings(
        {
            "QUEUE_ID": "q",
            "SYMBOL": "BTCUSD",
            "TIME_RANGE": "2024-01-01:2024-01-31",
            "TYPE": "ohlc",
            "TELEMETRY_PRODUCER_ID": "loader-1",
            "POD_NAME": "pod-1",
            "KAFKA_TOPIC": "candles",
            "QUEUE_EVENTS_TOPIC": "events.v1",
            "QUEUE_CONTROL_TOPIC": "control_v1",
            "KAFKA_BOOTSTRAP_SERVERS": "kafka-0:9093,kafka-1:9093",
            "KAFKA_USER": "svc",
            "KAFKA_PASSWORD": PASSWORD,
            "KAFKA_CA_PATH": str(ca),
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "ARANGO_URL": "https://arango:8529",
            "ARANGO_DB": "market",
            "ARANGO_USER": "root",
            "ARANGO_PASSWORD": "arango-secret",
            "LOG_LEVEL": "WARNING",
            "METRICS_PORT": "9100",
            "METRICS_BIND": "127.0.0.1",
            "STARTUP_TIMEOUT": "5.5",
            "SHUTDOWN_TIMEOUT": "7",
            "DATA_DIR": str(tmp_path),
            "COMMAND_CLOCK_SKEW": "0",
            "KAFKA_FETCH_MAX_WAIT_MS": "20",
            "KAFKA_SESSION_TIMEOUT": "3",
            "KAFKA_HEARTBEAT_INTERVAL": "1",
            "KAFKA_REBALANCE_TIMEOUT": "4",
        }
    )

    assert settings.symbol == "BTCUSD"
    assert settings.time_range == TimeRange(dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    assert (settings.type, settings.producer_id, settings.instance) == ("ohlc", "loader-1", "pod-1")
    assert settings.data_topic == "candles"
    assert (settings.events_topic, settings.control_topic) == ("events.v1", "control_v1")
    assert settings.kafka == KafkaSettings(
        bootstrap_servers=("kafka-0:9093", "kafka-1:9093"),
        user="svc",
        password=Secret(PASSWORD),
        ca_path=ca,
        sasl_mechanism="SCRAM-SHA-256",
        security_protocol="SASL_SSL",
    )
    assert (settings.arango_url, settings.arango_db, settings.arango_user) == (
        "https://arango:8529",
        "market",
        "root",
    )
    assert settings.arango_password == Secret("arango-secret")
    assert (settings.log_level, settings.metrics_port, settings.metrics_bind) == (
        "WARNING",
        9100,
        "127.0.0.1",
    )
    assert (settings.startup_timeout, settings.shutdown_timeout) == (5.5, 7.0)
    assert settings.data_dir == tmp_path
    assert (settings.command_clock_skew, settings.fetch_max_wait_ms) == (0.0, 20)
    assert (settings.session_timeout, settings.heartbeat_interval) == (3.0, 1.0)
    assert settings.rebalance_timeout == 4.0


def test_settings_are_immutable() -> None:
    settings = load()

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.queue_id = "other"  # type: ignore[misc]


def test_blank_values_count_as_unset() -> None:
    settings = load(
        SYMBOL="  ", TYPE="", KAFKA_BOOTSTRAP_SERVERS=" ", METRICS_PORT="", DUMMY_NOOP=""
    )

    assert settings.symbol is None
    assert settings.type == "dummy"
    assert settings.kafka.bootstrap_servers == ("localhost:9092",)
    assert settings.metrics_port == 8000
    assert settings.behaviour.noop is False


@pytest.mark.parametrize(
    ("variables", "instance"),
    [
        ({"POD_NAME": "pod-1", "HOSTNAME": "host-1"}, "pod-1"),
        ({"HOSTNAME": "host-1"}, "host-1"),
    ],
    ids=["pod-name-wins", "hostname-fallback"],
)
def test_instance_comes_from_pod_name_then_hostname(
    variables: dict[str, str], instance: str
) -> None:
    assert load_settings({"QUEUE_ID": "q", **variables}).instance == instance


def test_instance_falls_back_to_the_host_name_when_no_variable_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "machine-1")

    assert load_settings({"QUEUE_ID": "q"}).instance == "machine-1"


@pytest.mark.parametrize(
    ("raw", "start", "end"),
    [
        ("2024-01-01:2024-01-31", "2024-01-01", "2024-01-31"),
        ("2024-02-29:2024-02-29", "2024-02-29", "2024-02-29"),
        (" 2024-01-01 : 2024-01-02 ", "2024-01-01", "2024-01-02"),
    ],
    ids=["month", "single-day", "spaces"],
)
def test_time_range_includes_both_days(raw: str, start: str, end: str) -> None:
    time_range = load(TIME_RANGE=raw).time_range

    assert time_range is not None
    assert str(time_range) == f"{start}:{end}"


@pytest.mark.parametrize(
    ("raw", "servers"),
    [
        ("kafka:9092", ("kafka:9092",)),
        (" a:1 , b.example.com:65535 ,", ("a:1", "b.example.com:65535")),
        ("[::1]:9093,10.0.0.1:9092", ("[::1]:9093", "10.0.0.1:9092")),
    ],
    ids=["one", "spaces-and-trailing-comma", "ipv6-and-ipv4"],
)
def test_bootstrap_servers_are_a_list_of_host_port(raw: str, servers: tuple[str, ...]) -> None:
    assert load(KAFKA_BOOTSTRAP_SERVERS=raw).kafka.bootstrap_servers == servers


@pytest.mark.parametrize(
    ("variable", "raw", "value"),
    [
        ("KAFKA_SASL_MECHANISM", "scram-sha-256", "SCRAM-SHA-256"),
        ("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext", "SASL_PLAINTEXT"),
    ],
)
def test_kafka_choices_are_case_insensitive(variable: str, raw: str, value: str) -> None:
    kafka = load(**{variable: raw}).kafka

    assert getattr(kafka, variable.removeprefix("KAFKA_").lower()) == value


def test_log_level_is_case_insensitive() -> None:
    assert load(LOG_LEVEL="debug").log_level == "DEBUG"


def test_ca_path_may_come_from_ca_path_and_kafka_ca_path_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "first.crt", tmp_path / "second.crt"
    first.write_text("x")
    second.write_text("x")

    assert load(CA_PATH=str(first)).kafka.ca_path == first
    assert load(KAFKA_CA_PATH=str(second), CA_PATH=str(first)).kafka.ca_path == second


@pytest.mark.parametrize("word", ["1", "true", "TRUE", "yes", "On"])
def test_boolean_variables_accept_true_words(word: str) -> None:
    assert load(DUMMY_SIMULATE_LOADING=word).behaviour.simulate_loading is True


@pytest.mark.parametrize("word", ["0", "false", "No", "off"])
def test_boolean_variables_accept_false_words(word: str) -> None:
    assert load(DUMMY_SIMULATE_LOADING=word).behaviour.simulate_loading is False


def test_lifecycle_variables_are_read_into_the_behaviour() -> None:
    behaviour = load(
        DUMMY_NOOP="1",
        DUMMY_EXIT_ON_PING="yes",
        DUMMY_EXIT_AFTER="30",
        DUMMY_FAIL_AFTER="2.5",
        DUMMY_SIMULATE_LOADING="true",
        DUMMY_LOADING_INTERVAL="0.5",
        DUMMY_BATCH_SIZE="7",
        DUMMY_EMIT_DATA="on",
        KAFKA_TOPIC="candles",
        DUMMY_RECORDS_TOTAL="100",
    ).behaviour

    assert behaviour == Behaviour(
        noop=True,
        exit_on_ping=True,
        exit_after=30.0,
        fail_after=2.5,
        simulate_loading=True,
        loading_interval=0.5,
        batch_size=7,
        emit_data=True,
        records_total=100,
    )


def test_active_flags_lists_only_what_differs_from_the_defaults() -> None:
    assert Behaviour().active_flags() == {}
    assert Behaviour(exit_after=5.0, batch_size=10).active_flags() == {
        "exit_after": 5.0,
        "batch_size": 10,
    }


def test_kafka_settings_load_without_the_worker_variables() -> None:
    kafka = load_kafka_settings({"KAFKA_BOOTSTRAP_SERVERS": "kafka:9093"})

    assert kafka.bootstrap_servers == ("kafka:9093",)


# --- ConfigError: one per wrong value, naming the variable, never showing a secret ------------

INVALID = [
    pytest.param({"QUEUE_ID": ""}, "QUEUE_ID", id="queue-id-empty"),
    pytest.param({"QUEUE_ID": "   "}, "QUEUE_ID", id="queue-id-blank"),
    pytest.param({"TIME_RANGE": "2024-01-01"}, "TIME_RANGE", id="time-range-one-date"),
    pytest.param({"TIME_RANGE": "2024-01-01:"}, "TIME_RANGE", id="time-range-no-end"),
    pytest.param({"TIME_RANGE": "2024-01-01:2024-01-02:2024-01-03"}, "TIME_RANGE", id="three"),
    pytest.param({"TIME_RANGE": "2024-02-30:2024-03-01"}, "TIME_RANGE", id="no-such-day"),
    pytest.param({"TIME_RANGE": "yesterday:today"}, "TIME_RANGE", id="time-range-words"),
    pytest.param({"TIME_RANGE": "2024-01-31:2024-01-01"}, "TIME_RANGE", id="time-range-reversed"),
    pytest.param({"KAFKA_CA_PATH": MISSING_FILE}, "KAFKA_CA_PATH", id="ca-missing"),
    pytest.param({"CA_PATH": MISSING_FILE}, "CA_PATH", id="ca-path-missing"),
    pytest.param({"KAFKA_PASSWORD": ""}, "KAFKA_USER", id="user-without-password"),
    pytest.param({"KAFKA_USER": ""}, "KAFKA_PASSWORD", id="password-without-user"),
    pytest.param({"KAFKA_BOOTSTRAP_SERVERS": "kafka"}, "KAFKA_BOOTSTRAP_SERVERS", id="no-port"),
    pytest.param({"KAFKA_BOOTSTRAP_SERVERS": "kafka:0"}, "KAFKA_BOOTSTRAP_SERVERS", id="port-0"),
    pytest.param({"KAFKA_BOOTSTRAP_SERVERS": "k:65536"}, "KAFKA_BOOTSTRAP_SERVERS", id="port-big"),
    pytest.param({"KAFKA_BOOTSTRAP_SERVERS": ","}, "KAFKA_BOOTSTRAP_SERVERS", id="servers-empty"),
    pytest.param(
        {"KAFKA_BOOTSTRAP_SERVERS": "kafka://k:9092"}, "KAFKA_BOOTSTRAP_SERVERS", id="servers-url"
    ),
    pytest.param({"KAFKA_SASL_MECHANISM": "PLAIN"}, "KAFKA_SASL_MECHANISM", id="mechanism"),
    pytest.param({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL", id="protocol"),
    pytest.param({"ARANGO_URL": "arango:8529"}, "ARANGO_URL", id="arango-url-no-scheme"),
    pytest.param({"KAFKA_TOPIC": "bad topic"}, "KAFKA_TOPIC", id="topic-space"),
    pytest.param({"QUEUE_EVENTS_TOPIC": "e" * 250}, "QUEUE_EVENTS_TOPIC", id="topic-too-long"),
    pytest.param({"QUEUE_CONTROL_TOPIC": "ctl/1"}, "QUEUE_CONTROL_TOPIC", id="topic-slash"),
    pytest.param({"LOG_LEVEL": "TRACE"}, "LOG_LEVEL", id="log-level"),
    pytest.param({"METRICS_PORT": "0"}, "METRICS_PORT", id="port-zero"),
    pytest.param({"METRICS_PORT": "65536"}, "METRICS_PORT", id="port-too-big"),
    pytest.param({"METRICS_PORT": "80.5"}, "METRICS_PORT", id="port-fraction"),
    pytest.param({"METRICS_PORT": "http"}, "METRICS_PORT", id="port-word"),
    pytest.param({"STARTUP_TIMEOUT": "0"}, "STARTUP_TIMEOUT", id="timeout-zero"),
    pytest.param({"STARTUP_TIMEOUT": "-1"}, "STARTUP_TIMEOUT", id="timeout-negative"),
    pytest.param({"STARTUP_TIMEOUT": "soon"}, "STARTUP_TIMEOUT", id="timeout-word"),
    pytest.param({"STARTUP_TIMEOUT": "nan"}, "STARTUP_TIMEOUT", id="timeout-nan"),
    pytest.param({"STARTUP_TIMEOUT": "inf"}, "STARTUP_TIMEOUT", id="timeout-inf"),
    pytest.param({"SHUTDOWN_TIMEOUT": "0"}, "SHUTDOWN_TIMEOUT", id="shutdown-timeout-zero"),
    pytest.param({"SHUTDOWN_TIMEOUT": "later"}, "SHUTDOWN_TIMEOUT", id="shutdown-timeout-word"),
    pytest.param({"COMMAND_CLOCK_SKEW": "-0.5"}, "COMMAND_CLOCK_SKEW", id="skew-negative"),
    pytest.param({"KAFKA_FETCH_MAX_WAIT_MS": "0"}, "KAFKA_FETCH_MAX_WAIT_MS", id="fetch-zero"),
    pytest.param({"KAFKA_SESSION_TIMEOUT": "x"}, "KAFKA_SESSION_TIMEOUT", id="session-word"),
    pytest.param(
        {"KAFKA_HEARTBEAT_INTERVAL": "10"}, "KAFKA_HEARTBEAT_INTERVAL", id="heartbeat-not-shorter"
    ),
    pytest.param({"KAFKA_REBALANCE_TIMEOUT": "0"}, "KAFKA_REBALANCE_TIMEOUT", id="rebalance-0"),
    pytest.param({"DUMMY_NOOP": "maybe"}, "DUMMY_NOOP", id="flag-word"),
    pytest.param({"DUMMY_EXIT_ON_PING": "2"}, "DUMMY_EXIT_ON_PING", id="flag-number"),
    pytest.param({"DUMMY_EXIT_AFTER": "0"}, "DUMMY_EXIT_AFTER", id="exit-after-zero"),
    pytest.param({"DUMMY_FAIL_AFTER": "1m"}, "DUMMY_FAIL_AFTER", id="fail-after-unit"),
    pytest.param({"DUMMY_LOADING_INTERVAL": "-1"}, "DUMMY_LOADING_INTERVAL", id="interval-neg"),
    pytest.param({"DUMMY_BATCH_SIZE": "0"}, "DUMMY_BATCH_SIZE", id="batch-zero"),
    pytest.param({"DUMMY_BATCH_SIZE": "1.5"}, "DUMMY_BATCH_SIZE", id="batch-fraction"),
    pytest.param({"DUMMY_SIGNAL_EXIT_CODE": "256"}, "DUMMY_SIGNAL_EXIT_CODE", id="exit-code-256"),
    pytest.param(
        {"DUMMY_SIGNAL_EXIT_CODE": "-1"}, "DUMMY_SIGNAL_EXIT_CODE", id="exit-code-negative"
    ),
    pytest.param({"DUMMY_RECORDS_TOTAL": "-5"}, "DUMMY_RECORDS_TOTAL", id="records-negative"),
    pytest.param({"DUMMY_EMIT_DATA": "1"}, "DUMMY_EMIT_DATA", id="emit-data-without-topic"),
]


@pytest.mark.parametrize(("variables", "variable"), INVALID)
def test_an_invalid_value_raises_a_config_error_naming_its_variable(
    variables: dict[str, str], variable: str
) -> None:
    error = config_error({**WITH_SECRETS, **variables})

    assert error.variable == variable
    assert str(error).startswith(f"{variable} ")
    assert PASSWORD not in str(error)
    assert PASSWORD not in repr(error)


def test_a_missing_queue_id_says_what_to_set() -> None:
    error = config_error({})

    assert error.variable == "QUEUE_ID"
    assert str(error) == "QUEUE_ID is not set: set it to the id of the queue this worker serves"


def test_a_malformed_time_range_shows_the_expected_form() -> None:
    assert "expected YYYY-MM-DD:YYYY-MM-DD" in str(config_error({**BASE, "TIME_RANGE": "2024"}))


def test_a_missing_ca_file_is_named_in_the_message() -> None:
    error = config_error({**BASE, "KAFKA_CA_PATH": MISSING_FILE})

    assert (
        str(error)
        == f"KAFKA_CA_PATH points to {MISSING_FILE}, which does not exist or is not a file"
    )


def test_a_directory_is_not_a_ca_file(tmp_path: Path) -> None:
    assert config_error({**BASE, "KAFKA_CA_PATH": str(tmp_path)}).variable == "KAFKA_CA_PATH"


@pytest.mark.parametrize(
    ("variables", "variable"),
    [
        ({"KAFKA_USER": "svc"}, "KAFKA_USER"),
        ({"KAFKA_PASSWORD": PASSWORD}, "KAFKA_PASSWORD"),
    ],
    ids=["user-only", "password-only"],
)
def test_kafka_credentials_come_in_pairs_for_the_cli_too(
    variables: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_kafka_settings(variables)

    assert caught.value.variable == variable
    assert "set both, or neither" in str(caught.value)
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("raw", ["20240101:20240131", "2024-W01-1:2024-W05-7"])
def test_time_range_accepts_only_the_documented_yyyy_mm_dd_form(raw: str) -> None:
    assert config_error({**BASE, "TIME_RANGE": raw}).variable == "TIME_RANGE"


def test_an_invalid_url_is_not_echoed_with_its_credentials() -> None:
    error = config_error({**BASE, "ARANGO_URL": f"tcp://root:{PASSWORD}@arango:8529"})

    assert error.variable == "ARANGO_URL"
    assert PASSWORD not in str(error)


# --- Secret ---------------------------------------------------------------------------------


def test_a_secret_never_shows_its_value() -> None:
    secret = Secret(PASSWORD)

    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", format(secret)):
        assert PASSWORD not in shown
        assert "********" in shown


def test_a_secret_reveals_its_value_only_when_asked() -> None:
    assert Secret(PASSWORD).reveal() == PASSWORD


def test_secrets_compare_and_hash_by_value() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert len({Secret("a"), Secret("a")}) == 1


def test_settings_repr_shows_no_password() -> None:
    settings = load_settings(WITH_SECRETS)

    assert settings.kafka.password == Secret(PASSWORD)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(dataclasses.asdict(settings))
