"""Shared by the CLI's entry points: Kafka settings from the environment, and exit codes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn

from . import actions
from .actions import EXIT_UNAVAILABLE, EXIT_USAGE, Connection, Printer


def connection_from_env(
    bootstrap_servers: str | None, connect_timeout: float, control_topic: str, events_topic: str
) -> Connection:
    """Kafka settings from the service's variables, or a usage error (exit 2) naming the fix."""
    from dummyservice.kafka import resolve_security
    from dummyservice.settings import ConfigError, load_kafka_settings

    env = dict(os.environ)
    if bootstrap_servers is not None:
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap_servers
    try:
        kafka = load_kafka_settings(env)
        security = resolve_security(kafka)
        fetch_wait = int(env.get("KAFKA_FETCH_MAX_WAIT_MS", "100"))
    except ConfigError as error:
        message = str(error)
        if error.variable == "KAFKA_BOOTSTRAP_SERVERS" and bootstrap_servers is not None:
            message = message.replace("KAFKA_BOOTSTRAP_SERVERS", "--bootstrap-servers", 1)
        usage_error(message)
    except ValueError:
        usage_error("KAFKA_FETCH_MAX_WAIT_MS must be a whole number of milliseconds")
    return Connection(
        kafka,
        security,
        control_topic=control_topic,
        events_topic=events_topic,
        connect_timeout=connect_timeout,
        fetch_max_wait_ms=max(fetch_wait, 1),
    )


def finish(
    coroutine: Coroutine[Any, Any, int],
    json_output: bool,
    *,
    interrupt_code: int = 130,
) -> NoReturn:
    """Run a conversation and exit with its code; Kafka trouble becomes one line and exit 3."""
    from dummyservice.kafka import KafkaUnavailable

    from .client import SendFailed, TopicMissing

    quiet_logging()
    try:
        code = asyncio.run(coroutine)
    except KafkaUnavailable as error:
        fail(str(error), EXIT_UNAVAILABLE, json_output, kind=error.kind)
    except TopicMissing as error:
        fail(str(error), actions.EXIT_MISSING, json_output, kind="topic")
    except SendFailed as error:
        fail(str(error), actions.EXIT_MISSING, json_output, kind="send")
    except KeyboardInterrupt:
        code = interrupt_code
    sys.exit(code)


def fail(message: str, code: int, json_output: bool, *, kind: str) -> NoReturn:
    Printer().note(f"error: {message}")
    if json_output:
        print(json.dumps({"type": "error", "kind": kind, "message": message}), flush=True)
    sys.exit(code)


def usage_error(message: str) -> NoReturn:
    Printer().note(f"error: {message}")
    sys.exit(EXIT_USAGE)


def parse_fields(pairs: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            usage_error(f"--field {pair!r}: expected key=value")
        try:
            fields[key] = json.loads(text)
        except ValueError:
            fields[key] = text
    return fields


def quiet_logging() -> None:
    """Warnings on stderr; aiokafka's retry chatter only with LOG_LEVEL=DEBUG."""
    debug = os.environ.get("LOG_LEVEL", "").upper() == "DEBUG"
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="dummy-service: %(levelname)s %(name)s: %(message)s",
    )
    if not debug:
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
