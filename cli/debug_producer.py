"""The old debug tool's interface, kept for scripts that call it; ``dummy-service`` does more.

    python cli/debug_producer.py --queue-id Q --command ping --expect-pong [--repeat N]
                                 [--interval S] [--timeout S]
    python cli/debug_producer.py --queue-id Q --command stop [--timeout S]

Exit codes as ``dummy-service``: 0 every expected reply arrived, 1 replies missing or the command
rejected, 2 usage error, 3 cannot connect to or authenticate with Kafka.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the ``cli`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli import actions
from cli.actions import Printer
from cli.runner import connection_from_env, finish


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Send a command to dummy-service and, if asked, wait for the reply.",
        epilog="Exit codes: 0 replies arrived, 1 replies missing or rejected, 2 usage error, "
        "3 cannot connect to or authenticate with Kafka.",
    )
    parser.add_argument("--queue-id", default=os.environ.get("QUEUE_ID"), help="default QUEUE_ID")
    parser.add_argument("--command", required=True, choices=("ping", "stop"))
    parser.add_argument("--expect-pong", action="store_true", help="wait for each ping's pong")
    parser.add_argument("--repeat", type=_positive_int, default=1, help="pings to send")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between pings")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for replies")
    parser.add_argument("--bootstrap-servers", help="overrides KAFKA_BOOTSTRAP_SERVERS")
    parser.add_argument("--output", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    if not args.queue_id:
        parser.error("--queue-id is required (or set QUEUE_ID)")
    if args.timeout <= 0 or args.interval < 0:
        parser.error("--timeout must be positive and --interval not negative")
    return args


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    connection = connection_from_env(
        args.bootstrap_servers,
        connect_timeout=5.0,
        control_topic=os.environ.get("QUEUE_CONTROL_TOPIC", "queue-control"),
        events_topic=os.environ.get("QUEUE_EVENTS_TOPIC", "queue-events"),
    )
    printer = Printer(args.output)
    if args.command == "stop":
        coroutine = actions.request(
            connection,
            printer,
            args.queue_id,
            "stop",
            answers={"interrupted"},
            timeout=args.timeout,
        )
    elif args.expect_pong:
        coroutine = actions.ping(
            connection,
            printer,
            args.queue_id,
            count=args.repeat,
            interval=args.interval,
            timeout=args.timeout,
        )
    else:
        coroutine = actions.send_command(
            connection, printer, args.queue_id, "ping", count=args.repeat, interval=args.interval
        )
    finish(coroutine, args.output == "json")


if __name__ == "__main__":
    main()
