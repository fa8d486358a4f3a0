"""Readiness: is this worker connected to Kafka and able to receive commands right now?

``Readiness`` combines what the worker knows (partitions held, shutdown begun) with a
periodic metadata request to the brokers, so a broker outage shows up within seconds
instead of after the consumer's session expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from .kafka import Security

log = logging.getLogger(__name__)


class Readiness:
    """The worker's readiness and the reason when it is not ready. Pure state, no I/O."""

    def __init__(self, on_change: Callable[[bool], None] | None = None) -> None:
        self.started = False
        self.partitions_held = False
        self.kafka_reachable = True
        self.shutting_down = False
        self._on_change = on_change
        self._last: bool | None = None

    @property
    def reason(self) -> str | None:
        """None when ready, else a short machine-readable reason."""
        if self.shutting_down:
            return "shutting_down"
        if not self.started:
            return "starting"
        if not self.partitions_held:
            return "no_partitions"
        if not self.kafka_reachable:
            return "kafka_unreachable"
        return None

    @property
    def ready(self) -> bool:
        return self.reason is None

    def update(self, **state: bool) -> None:
        for name, value in state.items():
            if not hasattr(self, name):
                raise AttributeError(name)
            setattr(self, name, value)
        ready = self.ready
        if ready != self._last:
            self._last = ready
            log.info(
                "Readiness changed: %s",
                "ready" if ready else self.reason,
                extra={"ready": ready, "reason": self.reason},
            )
            if self._on_change:
                self._on_change(ready)


class KafkaWatch:
    """Asks the brokers for metadata every ``interval`` seconds and reports reachability."""

    def __init__(
        self,
        bootstrap_servers: tuple[str, ...],
        security: Security,
        report: Callable[[bool], None],
        *,
        interval: float = 5.0,
        timeout: float = 3.0,
    ) -> None:
        self._servers = bootstrap_servers
        self._security = security
        self._report = report
        self._interval = interval
        self._timeout = timeout
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        from aiokafka import AIOKafkaClient

        client = AIOKafkaClient(
            bootstrap_servers=list(self._servers),
            request_timeout_ms=int(self._timeout * 1000),
            **self._security.aiokafka_kwargs(),
        )
        bootstrapped = False
        try:
            while True:
                try:
                    request = client.fetch_all_metadata() if bootstrapped else client.bootstrap()
                    await asyncio.wait_for(request, self._timeout)
                    bootstrapped = True
                    self._report(True)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("Kafka metadata request failed: %s", type(exc).__name__)
                    self._report(False)
                await asyncio.sleep(self._interval)
        finally:
            await client.close()
