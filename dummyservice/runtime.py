"""The running service: commands in, events out, timers, and the end of the run.

Faust wiring lives in ``app.py``; this class only needs a way to publish bytes and a way to
ask the worker to shut down, so it can be driven the same way by Faust and by tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from . import events
from .commands import Command, Rejection, is_addressed_to, is_stale, parse_command
from .events import Identity
from .health import Readiness
from .lifecycle import Lifecycle, Outcome, Status
from .loader import Loader, LoadFailed
from .metrics import Metrics
from .settings import Settings
from .sink import EventSink, RunEnded, Send

log = logging.getLogger(__name__)

# The end of a run takes at most this long before shutting down: settling a loading batch in
# flight (half of it at most), then publishing the terminal event.
TERMINAL_PUBLISH_TIMEOUT = 10.0


class Runtime:
    def __init__(
        self,
        settings: Settings,
        send_event: Send,
        *,
        loader: Loader | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.lifecycle = Lifecycle()
        self.metrics = metrics or Metrics()
        self.loader = loader
        self.identity = Identity(
            queue_id=settings.queue_id,
            symbol=settings.symbol,
            type=settings.type,
            time_range=str(settings.time_range) if settings.time_range else None,
            producer=settings.producer_id,
            instance=settings.instance,
        )
        self.sink = EventSink(
            self.identity,
            send_event,
            on_published=self.metrics.event_published,
            on_failed=self.metrics.event_failed,
        )
        self.readiness = Readiness(on_change=self.metrics.set_ready)
        self.started_monotonic = time.monotonic()
        self.listening_since: float | None = None
        self._request_shutdown: Callable[[], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._batch: asyncio.Future[int] | None = None  # a loading batch not yet counted
        self._announced = asyncio.Event()  # `started` is out, or the run ended without it
        self._handlers: dict[str, Callable[[Command], Awaitable[None]]] = {
            "ping": self._on_ping,
            "stop": self._on_stop,
            "status": self._on_status,
            "fail": self._on_fail,
        }
        self.metrics.expect_commands(self._handlers)
        self.metrics.status_changed(self.lifecycle.status)

    def on_shutdown_request(self, callback: Callable[[], None]) -> None:
        """Register how to stop the worker once the run has ended."""
        self._request_shutdown = callback

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic

    # -- start ---------------------------------------------------------------------------

    async def on_listening(self) -> None:
        """The control consumer holds its partitions: publish ``started`` and start timers."""
        if not self.lifecycle.start():
            return
        self.listening_since = time.time()
        self.metrics.status_changed(self.lifecycle.status)
        self.readiness.update(started=True)
        try:
            await self._publish_lifecycle("started", "Worker started and listening for commands")
        finally:
            self._announced.set()
        self._start_timers()

    def _start_timers(self) -> None:
        behaviour = self.settings.behaviour
        if behaviour.exit_after is not None:
            self.spawn(
                self._end_after(
                    behaviour.exit_after,
                    Outcome.FINISHED,
                    f"Finished after {behaviour.exit_after:g} s",
                )
            )
        if behaviour.fail_after is not None:
            self.spawn(
                self._end_after(
                    behaviour.fail_after,
                    Outcome.ERROR,
                    f"Simulated failure after {behaviour.fail_after:g} s",
                )
            )
        if self.loader is not None:
            self.spawn(self._load())

    async def _end_after(self, seconds: float, outcome: Outcome, message: str) -> None:
        await asyncio.sleep(seconds)
        await self.end(outcome, message)

    async def _load(self) -> None:
        assert self.loader is not None
        interval = self.settings.behaviour.loading_interval
        while not self.lifecycle.ended:
            await asyncio.sleep(interval)
            # The end of the run never cancels a batch: records already handed to the client
            # reach the topic anyway, so `end` waits for the batch and counts it instead.
            self._batch = asyncio.ensure_future(self.loader.load_batch())
            try:
                written = await asyncio.shield(self._batch)
            except LoadFailed as exc:
                self._batch = None
                self.lifecycle.record_loading(exc.written)
                self.metrics.records_written(exc.written)
                await self.end(Outcome.ERROR, f"Could not write records: {exc}")
                return
            self._batch = None
            if not self.lifecycle.record_loading(written):
                return
            self.metrics.records_written(written)
            self.metrics.status_changed(self.lifecycle.status)
            if self.loader.exhausted:
                await self.end(
                    Outcome.FINISHED, f"Loaded all {self.lifecycle.records_written} records"
                )
                return
            await self._publish_lifecycle(
                "loading", f"Loaded {self.lifecycle.records_written} records"
            )

    # -- commands ------------------------------------------------------------------------

    async def handle(self, raw: bytes | None, record_time: float | None = None) -> None:
        """Handle one control-topic value; never raises.

        Nothing is answered before `started` is out: the consumer can see a command in the
        moment between taking its partitions and publishing `started`.
        """
        await self._announced.wait()
        if self.listening_since is None:
            log.debug("Dropping a control message: the run ended before it started")
            return
        try:
            parsed = parse_command(raw)
            if isinstance(parsed, Rejection):
                await self._reject(parsed)
                return
            if not is_addressed_to(parsed.queue_id, self.settings.queue_id):
                log.debug(
                    "Ignoring command for queue %s",
                    parsed.queue_id,
                    extra={"command": parsed.name, "target_queue_id": parsed.queue_id},
                )
                return
            ready_since = self.listening_since or time.time()
            if is_stale(parsed.sent_at, record_time, ready_since, self.settings.command_clock_skew):
                await self._reject(
                    Rejection(
                        "stale",
                        "the command was sent before this worker started listening",
                        queue_id=parsed.queue_id,
                        correlation_id=parsed.correlation_id,
                        command=parsed.name,
                    )
                )
                return
            log.info("Received %s command", parsed.name, extra=_command_context(parsed))
            self.metrics.command_received(parsed.name)
            await self._handlers[parsed.name](parsed)
        except RunEnded:
            pass
        except Exception:
            log.exception("Failed to handle a control message")

    async def _reject(self, rejection: Rejection) -> None:
        if rejection.queue_id is not None and not is_addressed_to(
            rejection.queue_id, self.settings.queue_id
        ):
            log.debug("Ignoring invalid command for queue %s", rejection.queue_id)
            return
        self.metrics.command_rejected(rejection.reason)
        log.warning(
            "Rejected control message: %s",
            rejection.detail,
            extra={
                "reason": rejection.reason,
                "correlation_id": rejection.correlation_id,
                "command": rejection.command,
            },
        )
        if rejection.queue_id is None:
            return  # nobody to answer: the sender is unknown
        await self.sink.publish(
            "rejected", self.lifecycle.status, events.rejected_fields(rejection)
        )

    async def _on_ping(self, command: Command) -> None:
        self.metrics.ping_received()
        received = time.monotonic()
        delay_ms = command.args.get("delay_ms", 0)
        if delay_ms:
            self.spawn(self._pong(command, received, delay_ms / 1000))
        else:
            await self._pong(command, received)

    async def _pong(self, command: Command, received: float, delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        try:
            await self.sink.publish(
                "pong", self.lifecycle.status, events.pong_fields(command, time.time())
            )
        except Exception:
            # RunEnded, or a failure the sink has logged and counted. A lost pong is for the
            # sender's timeout to notice, delayed or not: it does not end the run.
            return
        # The delay the sender asked for is not handling time.
        self.metrics.pong_published(time.monotonic() - received - delay)
        if self.settings.behaviour.exit_on_ping:
            await self.end(Outcome.FINISHED, "Finished after the first ping (--exit-on-ping)")

    async def _on_stop(self, command: Command) -> None:
        await self.end(
            Outcome.INTERRUPTED, "Stopped by a stop command", correlation_id=command.correlation_id
        )

    async def _on_status(self, command: Command) -> None:
        await self.sink.publish(
            "status",
            self.lifecycle.status,
            {
                "correlation_id": command.correlation_id,
                "uptime_seconds": round(self.uptime, 3),
                "records_written": self.lifecycle.records_written,
                "flags": self.settings.behaviour.active_flags(),
            },
        )

    async def _on_fail(self, command: Command) -> None:
        message = command.args.get("message") or "Failure requested by a fail command"
        await self.end(Outcome.ERROR, message, correlation_id=command.correlation_id)

    # -- the end -------------------------------------------------------------------------

    async def end(
        self,
        outcome: Outcome,
        message: str,
        *,
        correlation_id: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        """End the run (first caller wins): publish the terminal event, then shut down."""
        was_started = self.lifecycle.status is not Status.STARTING
        ending = self.lifecycle.end(outcome, message, exit_code)
        if ending is None:
            return
        self.readiness.update(shutting_down=True)  # before the terminal event goes out
        self.metrics.status_changed(self.lifecycle.status)
        self._announced.set()
        self._cancel_tasks()
        deadline = time.monotonic() + TERMINAL_PUBLISH_TIMEOUT
        await self._settle_batch(TERMINAL_PUBLISH_TIMEOUT / 2)
        log.info("Run ended: %s", message, extra={"outcome": outcome.name.lower()})
        # A run that never published `started` publishes no terminal event either.
        if outcome.event is not None and was_started:
            fields = events.lifecycle_fields(outcome.event, message, self.lifecycle.records_written)
            if correlation_id is not None:
                fields["correlation_id"] = correlation_id
            try:
                await asyncio.wait_for(
                    self.sink.publish(outcome.event, outcome.status, fields),
                    deadline - time.monotonic(),
                )
            except TimeoutError:
                log.error("Timed out publishing the %s event", outcome.event)
            except Exception:
                pass  # the sink has logged it; shutting down matters more now
        if self._request_shutdown is not None:
            self._request_shutdown()

    async def _settle_batch(self, timeout: float) -> None:
        """Wait up to ``timeout`` for a loading batch in flight, and count what it wrote."""
        batch, self._batch = self._batch, None
        if batch is None:
            return
        done, _ = await asyncio.wait({batch}, timeout=timeout)
        if not done:
            log.error("Timed out waiting for a loading batch; its records are not counted")
            return
        if batch.cancelled():
            return
        error = batch.exception()
        if error is None:
            written = batch.result()
        elif isinstance(error, LoadFailed):
            written = error.written
        else:
            log.error("A loading batch failed while the run was ending", exc_info=error)
            return
        self.lifecycle.record_settled(written)
        self.metrics.records_written(written)

    async def _publish_lifecycle(self, event: str, message: str) -> None:
        fields = events.lifecycle_fields(event, message, self.lifecycle.records_written)
        await self.sink.publish(event, self.lifecycle.status, fields)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run background work that the end of the run cancels."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, RunEnded):
                log.error("Background task failed", exc_info=exc)
                self.spawn(self.end(Outcome.ERROR, f"Internal error: {type(exc).__name__}"))

    def _cancel_tasks(self) -> None:
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()


def _command_context(command: Command) -> dict[str, Any]:
    return {"command": command.name, "correlation_id": command.correlation_id}
