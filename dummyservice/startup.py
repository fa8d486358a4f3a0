"""Start-up checks shared by every entry point: settings, security, logging."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Collection
from typing import NoReturn

from .flags import FLAG_BY_VARIABLE
from .kafka import Security, resolve_security
from .logs import configure_logging
from .settings import DEFAULT_PRODUCER_ID, ConfigError, Settings, load_settings

EXIT_BAD_CONFIG = 2

log = logging.getLogger("dummyservice")


def load_or_exit(from_flags: Collection[str] = ()) -> tuple[Settings, Security]:
    """Validate the configuration and set up logging, or log one line and exit with code 2.

    ``from_flags`` names the variables a command-line flag set, so errors name the flag.
    """
    try:
        settings = load_settings()
        security = resolve_security(settings.kafka)
        _prepare_data_dir(settings)
    except ConfigError as error:
        _exit_bad_config(error, from_flags)
    secrets = [s.reveal() for s in (settings.kafka.password, settings.arango_password) if s]
    configure_logging(
        settings.log_level,
        {"queue_id": settings.queue_id, "producer": settings.producer_id},
        secrets,
    )
    return settings, security


def _prepare_data_dir(settings: Settings) -> None:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            "DATA_DIR", f"points to {settings.data_dir}, which cannot be created ({exc.strerror})"
        ) from None


def _exit_bad_config(error: ConfigError, from_flags: Collection[str]) -> NoReturn:
    secrets = [os.environ.get(name, "") for name in ("KAFKA_PASSWORD", "ARANGO_PASSWORD")]
    # The settings are unusable, so the common fields come straight from the environment.
    context = {
        "queue_id": os.environ.get("QUEUE_ID", ""),
        "producer": os.environ.get("TELEMETRY_PRODUCER_ID") or DEFAULT_PRODUCER_ID,
    }
    configure_logging("INFO", context, secrets)
    message = str(error)
    if error.variable in from_flags:
        message = f"{FLAG_BY_VARIABLE[error.variable]}: {message}"
    log.error("Invalid configuration: %s", message, extra={"variable": error.variable})
    sys.exit(EXIT_BAD_CONFIG)
