"""Command-line flags of the worker, each one a shortcut for an environment variable.

A flag beats its variable: the entry point writes flags into the environment before the
settings are read, so ``faust -A dummyservice.app worker`` and Kubernetes manifests can set
the same behaviour with variables alone.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    name: str
    variable: str
    help: str
    metavar: str | None = None  # None: a switch that takes no value
    switch_value: str = "true"


FLAGS = (
    Flag("--debug", "LOG_LEVEL", "log at DEBUG level", switch_value="DEBUG"),
    Flag("--noop", "DUMMY_NOOP", "publish `started` at once and consume no commands"),
    Flag("--exit-on-ping", "DUMMY_EXIT_ON_PING", "after the first ping: pong, finished, exit 0"),
    Flag("--exit-after", "DUMMY_EXIT_AFTER", "finish after N seconds, exit 0", "N"),
    Flag("--simulate-loading", "DUMMY_SIMULATE_LOADING", "publish `loading` events on a timer"),
    Flag("--loading-interval", "DUMMY_LOADING_INTERVAL", "seconds between loading ticks", "S"),
    Flag("--batch-size", "DUMMY_BATCH_SIZE", "records per loading tick (default 100)", "N"),
    Flag("--fail-after", "DUMMY_FAIL_AFTER", "publish `error` after N seconds, exit 1", "N"),
    Flag("--emit-data", "DUMMY_EMIT_DATA", "produce synthetic records to KAFKA_TOPIC"),
    Flag("--records-total", "DUMMY_RECORDS_TOTAL", "finish after N records", "N"),
    Flag(
        "--signal-exit-code",
        "DUMMY_SIGNAL_EXIT_CODE",
        "exit code when SIGTERM/SIGINT ends the run (default 0; a Job uses 143)",
        "N",
    ),
    Flag(
        "--metrics-port", "METRICS_PORT", "HTTP port for /metrics and probes (default 8000)", "PORT"
    ),
)

FLAG_BY_VARIABLE = {flag.variable: flag.name for flag in FLAGS}


def parser(prog: str = "python -m dummyservice") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run the dummy-service worker. Every flag can also be set by its variable.",
        epilog="Exit codes: 0 finished or interrupted, 1 error, 2 bad configuration or usage, "
        "3 Kafka unreachable or authentication failed at start-up.",
    )
    for flag in FLAGS:
        help_text = f"{flag.help} [{flag.variable}]"
        dest = flag.variable
        if flag.metavar is None:
            parser.add_argument(
                flag.name, dest=dest, action="store_const", const=flag.switch_value, help=help_text
            )
        else:
            parser.add_argument(flag.name, dest=dest, metavar=flag.metavar, help=help_text)
    return parser


def environment_from_args(argv: Sequence[str], prog: str | None = None) -> Mapping[str, str]:
    """Parse flags into the variables they set (values are validated with the settings)."""
    namespace = parser(prog) if prog else parser()
    parsed = namespace.parse_args(list(argv))
    return {name: value for name, value in vars(parsed).items() if value is not None}
