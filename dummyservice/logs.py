"""One JSON object per line on stdout, for our loggers and Faust's, mode's and aiokafka's."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

log = logging.getLogger(__name__)

REDACTED = "********"
# Attributes of a LogRecord that are not worth a field of their own in the JSON line.
_RESERVED = ("color_message", "taskName")
NOISY_LIBRARIES = ("faust", "mode", "aiokafka", "dummyservice.app", "dummyservice.transport")


class ServiceJsonFormatter(JsonFormatter):
    """Adds the fields every line carries and blanks out known secrets."""

    def __init__(self, context: dict[str, str], secrets: Iterable[str] = ()) -> None:
        super().__init__(reserved_attrs=[*_default_reserved(), *_RESERVED])
        self._context = context
        self._secrets = [s for s in secrets if s]

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["timestamp"] = _iso_utc(record.created)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        super().add_fields(log_data, record, message_dict)
        for key, value in self._context.items():
            log_data.setdefault(key, value)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # Before serialising: a secret is found however JSON would escape it.
        return {key: self._redact(value) for key, value in log_data.items()}

    def _redact(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self._redact(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact(item) for item in value]
        text = value if isinstance(value, str) else str(value)
        if not any(secret in text for secret in self._secrets):
            return value
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def configure_logging(
    level: str,
    context: dict[str, str],
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
) -> None:
    """Route every logger in the process through one JSON handler on stdout."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(ServiceJsonFormatter(context, secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Faust and mode attach their own handlers to a few loggers; let everything reach ours.
    for name in list(logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    # The libraries narrate every service start and stop at INFO; keep that for DEBUG runs.
    library_level = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(library_level)
    logging.captureWarnings(True)
    # Uncaught exceptions would print plain tracebacks to stderr; log them as JSON instead.
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(
    exc_type: type[BaseException], value: BaseException, traceback: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, value, traceback)
        return
    log.critical("Uncaught exception", exc_info=(exc_type, value, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if issubclass(args.exc_type, SystemExit):
        return
    name = args.thread.name if args.thread is not None else "unknown"
    exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
    log.error("Uncaught exception in thread %s", name, exc_info=exc_info)  # type: ignore[arg-type]


def _iso_utc(created: float) -> str:
    moment = dt.datetime.fromtimestamp(created, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _default_reserved() -> list[str]:
    from pythonjsonlogger.core import RESERVED_ATTRS

    return list(RESERVED_ATTRS)
