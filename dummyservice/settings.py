"""Environment variables → one validated, immutable settings object.

Every problem becomes a ``ConfigError`` that names the variable and says how to fix it; the
entry points turn it into one log line and exit code 2.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BOOTSTRAP_SERVERS = "localhost:9092"
DEFAULT_PRODUCER_ID = "dummy"
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


class ConfigError(ValueError):
    """A setting is missing or invalid; ``str()`` is the message shown to the user."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable} {message}")
        self.variable = variable


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class TimeRange:
    start: dt.date
    end: dt.date

    def __str__(self) -> str:
        return f"{self.start.isoformat()}:{self.end.isoformat()}"


@dataclass(frozen=True)
class Behaviour:
    """The lifecycle flags: what the simulated loader does and what ends a run."""

    noop: bool = False
    exit_on_ping: bool = False
    exit_after: float | None = None
    fail_after: float | None = None
    simulate_loading: bool = False
    loading_interval: float = 10.0
    batch_size: int = 100
    emit_data: bool = False
    records_total: int | None = None
    signal_exit_code: int = 0

    def active_flags(self) -> dict[str, object]:
        """The flags that differ from their defaults, as shown in `status` replies."""
        defaults = Behaviour()
        return {
            name: value for name, value in vars(self).items() if value != getattr(defaults, name)
        }


@dataclass(frozen=True)
class KafkaSettings:
    """How to reach Kafka: shared by the worker and the CLI."""

    bootstrap_servers: tuple[str, ...] = (DEFAULT_BOOTSTRAP_SERVERS,)
    user: str | None = None
    password: Secret | None = field(default=None, repr=False)
    ca_path: Path | None = None
    sasl_mechanism: str = "SCRAM-SHA-512"
    security_protocol: str | None = None


@dataclass(frozen=True)
class Settings:
    queue_id: str
    symbol: str | None = None
    time_range: TimeRange | None = None
    type: str = "dummy"
    producer_id: str = "dummy"
    instance: str = "localhost"
    data_topic: str | None = None
    events_topic: str = "queue-events"
    control_topic: str = "queue-control"
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    arango_url: str | None = None
    arango_db: str | None = None
    arango_user: str | None = None
    arango_password: Secret | None = field(default=None, repr=False)
    log_level: str = "INFO"
    metrics_port: int = 8000
    metrics_bind: str = "0.0.0.0"
    startup_timeout: float = 30.0
    shutdown_timeout: float = 15.0
    data_dir: Path = Path("/tmp/dummy-service")
    fetch_max_wait_ms: int = 500
    session_timeout: float = 10.0
    heartbeat_interval: float = 3.0
    rebalance_timeout: float = 10.0
    command_clock_skew: float = 1.0
    behaviour: Behaviour = field(default_factory=Behaviour)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise ``ConfigError`` on the first problem."""
    env = Env(os.environ if env is None else env)
    kafka = load_kafka_settings(env)
    arango_url = env.text("ARANGO_URL")
    if arango_url and not re.match(r"^https?://[^/\s]+", arango_url):
        raise ConfigError(
            "ARANGO_URL", f"is {_without_credentials(arango_url)!r}: expected http(s)://host:port"
        )

    settings = Settings(
        queue_id=env.required("QUEUE_ID", "the id of the queue this worker serves"),
        symbol=env.text("SYMBOL"),
        time_range=_time_range(env.text("TIME_RANGE")),
        type=env.text("TYPE") or "dummy",
        producer_id=env.text("TELEMETRY_PRODUCER_ID") or DEFAULT_PRODUCER_ID,
        instance=env.text("POD_NAME") or env.text("HOSTNAME") or socket.gethostname(),
        data_topic=env.topic("KAFKA_TOPIC", None),
        events_topic=env.topic("QUEUE_EVENTS_TOPIC", "queue-events"),
        control_topic=env.topic("QUEUE_CONTROL_TOPIC", "queue-control"),
        kafka=kafka,
        arango_url=arango_url,
        arango_db=env.text("ARANGO_DB"),
        arango_user=env.text("ARANGO_USER"),
        arango_password=env.secret("ARANGO_PASSWORD"),
        log_level=env.choice("LOG_LEVEL", LOG_LEVELS, "INFO"),
        metrics_port=env.integer("METRICS_PORT", 8000, minimum=1, maximum=65535),
        metrics_bind=env.text("METRICS_BIND") or "0.0.0.0",
        startup_timeout=env.number("STARTUP_TIMEOUT", 30.0),
        shutdown_timeout=env.number("SHUTDOWN_TIMEOUT", 15.0),
        data_dir=Path(env.text("DATA_DIR") or "/tmp/dummy-service"),
        fetch_max_wait_ms=env.integer("KAFKA_FETCH_MAX_WAIT_MS", 500, minimum=1),
        session_timeout=env.number("KAFKA_SESSION_TIMEOUT", 10.0),
        heartbeat_interval=env.number("KAFKA_HEARTBEAT_INTERVAL", 3.0),
        rebalance_timeout=env.number("KAFKA_REBALANCE_TIMEOUT", 10.0),
        command_clock_skew=env.number("COMMAND_CLOCK_SKEW", 1.0, allow_zero=True),
        behaviour=_behaviour(env),
    )
    if settings.behaviour.emit_data and not settings.data_topic:
        raise ConfigError("DUMMY_EMIT_DATA", "(--emit-data) needs KAFKA_TOPIC: set the data topic")
    if settings.heartbeat_interval >= settings.session_timeout:
        raise ConfigError("KAFKA_HEARTBEAT_INTERVAL", "must be smaller than KAFKA_SESSION_TIMEOUT")
    return settings


def load_kafka_settings(env: Mapping[str, str] | Env | None = None) -> KafkaSettings:
    """Read the Kafka connection variables alone (what the CLI needs)."""
    if not isinstance(env, Env):
        env = Env(os.environ if env is None else env)
    user = env.text("KAFKA_USER")
    password = env.secret("KAFKA_PASSWORD")
    if user and password is None:
        raise ConfigError("KAFKA_USER", "is set but KAFKA_PASSWORD is not: set both, or neither")
    if password is not None and not user:
        raise ConfigError("KAFKA_PASSWORD", "is set but KAFKA_USER is not: set both, or neither")
    return KafkaSettings(
        bootstrap_servers=_bootstrap_servers(env.text("KAFKA_BOOTSTRAP_SERVERS")),
        user=user,
        password=password,
        ca_path=_ca_path(env),
        sasl_mechanism=env.choice("KAFKA_SASL_MECHANISM", SASL_MECHANISMS, "SCRAM-SHA-512"),
        security_protocol=env.choice("KAFKA_SECURITY_PROTOCOL", SECURITY_PROTOCOLS, None),
    )


def _behaviour(env: Env) -> Behaviour:
    return Behaviour(
        noop=env.flag("DUMMY_NOOP"),
        exit_on_ping=env.flag("DUMMY_EXIT_ON_PING"),
        exit_after=env.number("DUMMY_EXIT_AFTER", None),
        fail_after=env.number("DUMMY_FAIL_AFTER", None),
        simulate_loading=env.flag("DUMMY_SIMULATE_LOADING"),
        loading_interval=env.number("DUMMY_LOADING_INTERVAL", 10.0),
        batch_size=env.integer("DUMMY_BATCH_SIZE", 100, minimum=1),
        emit_data=env.flag("DUMMY_EMIT_DATA"),
        records_total=env.integer("DUMMY_RECORDS_TOTAL", None, minimum=1),
        signal_exit_code=env.integer("DUMMY_SIGNAL_EXIT_CODE", 0, maximum=255),
    )


def _time_range(raw: str | None) -> TimeRange | None:
    if raw is None:
        return None
    hint = "expected YYYY-MM-DD:YYYY-MM-DD, e.g. 2024-01-01:2024-01-31"
    parts = [part.strip() for part in raw.split(":")]
    if len(parts) != 2 or not all(_ISO_DAY.fullmatch(part) for part in parts):
        raise ConfigError("TIME_RANGE", f"is {raw!r}: {hint}")
    try:
        start, end = (dt.date.fromisoformat(part) for part in parts)
    except ValueError:
        raise ConfigError("TIME_RANGE", f"is {raw!r}: {hint}") from None
    if end < start:
        raise ConfigError("TIME_RANGE", f"is {raw!r}: the end date is before the start date")
    return TimeRange(start, end)


def _bootstrap_servers(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return (DEFAULT_BOOTSTRAP_SERVERS,)
    servers = tuple(part.strip() for part in raw.split(",") if part.strip())
    for server in servers:
        match = _HOST_PORT.match(server)
        if not match or not 0 < int(match.group(2)) < 65536:
            raise ConfigError(
                "KAFKA_BOOTSTRAP_SERVERS",
                f"has {_without_credentials(server)!r}: expected host:port[,host:port], "
                "e.g. kafka:9093",
            )
    if not servers:
        raise ConfigError("KAFKA_BOOTSTRAP_SERVERS", "is empty: expected host:port[,host:port]")
    return servers


def _without_credentials(address: str) -> str:
    """``user:password@host`` → ``***@host``: a rejected value is echoed, its login never."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^@/\s]*@", r"\1***@", address)


def _ca_path(env: Env) -> Path | None:
    variable = "KAFKA_CA_PATH" if env.text("KAFKA_CA_PATH") else "CA_PATH"
    raw = env.text(variable)
    if raw is None:
        return None
    path = Path(raw)
    if not path.is_file():
        raise ConfigError(variable, f"points to {raw}, which does not exist or is not a file")
    return path


class Env:
    """Typed access to environment variables; blank values count as unset."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def text(self, name: str) -> str | None:
        value = self._values.get(name, "").strip()
        return value or None

    def secret(self, name: str) -> Secret | None:
        value = self._values.get(name, "")
        return Secret(value) if value.strip() else None

    def required(self, name: str, meaning: str) -> str:
        value = self.text(name)
        if value is None:
            raise ConfigError(name, f"is not set: set it to {meaning}")
        return value

    def topic(self, name: str, default: str | None) -> str | None:
        value = self.text(name) or default
        if value is not None and not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", value):
            raise ConfigError(name, f"is {value!r}: a topic name uses only letters, digits, . _ -")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        value = self.text(name)
        if value is None:
            return default
        if value.upper() not in allowed:
            raise ConfigError(name, f"is {value!r}: expected one of {', '.join(allowed)}")
        return value.upper()

    def flag(self, name: str) -> bool:
        value = (self.text(name) or "").lower()
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        raise ConfigError(name, f"is {value!r}: expected true or false")

    def number(self, name: str, default: float | None, *, allow_zero: bool = False) -> float:
        raw = self.text(name)
        if raw is None:
            return default  # type: ignore[return-value]
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(name, f"is {raw!r}: expected a number of seconds") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(name, f"is {raw!r}: expected a finite number")
        if value < 0 or (value == 0 and not allow_zero):
            bound = "zero or more" if allow_zero else "greater than zero"
            raise ConfigError(name, f"is {raw!r}: it must be {bound}")
        return value

    def integer(
        self, name: str, default: int | None, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        raw = self.text(name)
        if raw is None:
            return default  # type: ignore[return-value]
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(name, f"is {raw!r}: expected a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            raise ConfigError(name, f"is {raw!r}: it must be at least {minimum}{upper}")
        return value
