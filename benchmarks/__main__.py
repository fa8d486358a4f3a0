"""``python -m benchmarks``: ping latency, start-up time and memory, each with its baseline.

Uses the broker in KAFKA_BOOTSTRAP_SERVERS, or starts a local one (Tansu) when it is unset.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dummyservice.kafka import KafkaUnavailable, probe

from . import latency, memory, startup
from .common import ROOT, BenchmarkError, Context
from .report import Section, context_lines, table

BENCHMARKS = ("latency", "startup", "memory")
EXIT_FAILED = 1
EXIT_UNAVAILABLE = 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Numbers are printed for people to compare; nothing here fails on speed.",
    )
    parser.add_argument("--only", choices=BENCHMARKS, help="run one benchmark only")
    parser.add_argument("--pings", type=int, default=200, help="pings and echoes (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="cold starts per measure (default 3)")
    parser.add_argument(
        "--loading-seconds",
        type=float,
        default=30.0,
        help="seconds of --simulate-loading before memory is read (default 30)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 20 pings, 1 run, 3 s of loading"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.pings, args.runs, args.loading_seconds = 20, 1, 3.0
    if args.pings < 1 or args.runs < 1 or args.loading_seconds <= 0:
        parser.error("--pings and --runs must be at least 1, --loading-seconds above 0")
    return args


@contextlib.contextmanager
def broker_env() -> Iterator[tuple[dict[str, str], str]]:
    """The environment with a broker in it: the caller's, or a local Tansu started here."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield dict(os.environ), "KAFKA_BOOTSTRAP_SERVERS"
        return
    sys.path.insert(0, str(ROOT / "scripts"))
    from local_broker import LOCAL_PROFILE, running_broker

    with running_broker() as bootstrap:
        env = {**os.environ, **LOCAL_PROFILE, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        yield env, "local Tansu started by the benchmarks"


def machine_context(ctx: Context) -> dict[str, Any]:
    env = ctx.env
    profile = ("KAFKA_FETCH_MAX_WAIT_MS", "KAFKA_SESSION_TIMEOUT", "KAFKA_HEARTBEAT_INTERVAL")
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)",
        "load average": " ".join(f"{n:.2f}" for n in os.getloadavg()),
        "python": f"{platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "broker": f"{ctx.broker} ({ctx.broker_origin})",
        "client profile": ", ".join(f"{k}={env[k]}" for k in profile if k in env) or "defaults",
    }


async def run_all(ctx: Context, args: argparse.Namespace) -> list[Section]:
    connection = ctx.connection
    # Fails within 15 s, naming the cause, when the broker cannot be used.
    await probe(connection.kafka.bootstrap_servers, connection.security, 15.0)
    sections = []
    for name in BENCHMARKS:
        if args.only not in (None, name):
            continue
        began = time.monotonic()
        print(f"Running the {name} benchmark...", file=sys.stderr, flush=True)
        if name == "latency":
            section = await latency.run(ctx, args.pings)
        elif name == "startup":
            section = await startup.run(ctx, args.runs)
        else:
            section = await memory.run(ctx, args.pings, args.loading_seconds)
        section.details["benchmark_seconds"] = round(time.monotonic() - began, 1)
        print(table(section) + "\n", flush=True)
        sections.append(section)
    return sections


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging_quiet()
    with broker_env() as (env, origin), tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        ctx = Context(env, env["KAFKA_BOOTSTRAP_SERVERS"], origin, Path(tmp))
        context = machine_context(ctx)
        print(context_lines(context) + "\n", flush=True)
        try:
            sections = asyncio.run(run_all(ctx, args))
        except KafkaUnavailable as error:
            print(f"benchmarks: error: {error}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        except BenchmarkError as error:
            print(f"benchmarks: error: {error}", file=sys.stderr)
            return EXIT_FAILED
        finally:
            ctx.stop_all()
    if args.json:
        document = {"context": context, **{s.key: s.as_dict() for s in sections}}
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"Results written to {args.json}", file=sys.stderr)
    return 0


def logging_quiet() -> None:
    """aiokafka's warnings on stderr, its retry chatter not at all."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="benchmarks: %(levelname)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.ERROR)


if __name__ == "__main__":
    sys.exit(main())
