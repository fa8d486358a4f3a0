"""The Faust worker, adapted so the outcome of the run decides the exit code.

Faust's CLI picks this class through the app's ``Worker`` setting, so everything here also
holds for ``faust -A dummyservice.app worker``: the start-up probe, the start-up deadline,
`interrupted` on the first signal, an immediate exit on the second, and exit codes 0-3.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any, NoReturn

import faust
from mode.utils.futures import maybe_cancel

from .health import KafkaWatch
from .kafka import KafkaUnavailable, Security, probe, resolve_security
from .lifecycle import Outcome, Status
from .logs import configure_logging
from .web import CannotServe, WebServer

log = logging.getLogger(__name__)


class Worker(faust.Worker):
    def __init__(self, app: Any, *services: Any, **kwargs: Any) -> None:
        kwargs["quiet"] = True  # Faust's console output is not JSON; our logs say it all
        super().__init__(app, *services, **kwargs)
        self.spinner = None  # it writes terminal escape codes to stdout
        # Faust's CLI turns its own web server on; ours serves the HTTP endpoints.
        app.conf.web_enabled = False
        self.runtime = app.runtime
        self.runtime.on_shutdown_request(self._shut_down)
        self._signalled = False
        self.web: WebServer | None = None
        self.kafka_watch: KafkaWatch | None = None

    # -- start-up ------------------------------------------------------------------------

    def execute_from_commandline(self) -> NoReturn:
        self._start_web_server()
        self._probe_kafka()
        try:
            super().execute_from_commandline()
        except SystemExit as exc:
            code = self.runtime.lifecycle.exit_code
            raise SystemExit(exc.code if code is None else code) from None
        raise SystemExit(self.runtime.lifecycle.exit_code or 0)

    def _start_web_server(self) -> None:
        """Serve /healthz and /readyz from the first moment, so probes see the start-up."""
        settings = self.runtime.settings
        self.web = WebServer(self.runtime, settings.metrics_bind, settings.metrics_port)
        try:
            self.loop.run_until_complete(self.web.start())
        except CannotServe as exc:
            self.runtime.lifecycle.end(Outcome.BAD_CONFIG, str(exc))
            log.error("%s", exc)
            sys.exit(Outcome.BAD_CONFIG.exit_code)

    def _probe_kafka(self) -> None:
        """Fail fast, with the cause, when Kafka cannot be used; a signal meanwhile interrupts."""
        settings = self.runtime.settings
        task = self.loop.create_task(
            probe(settings.kafka.bootstrap_servers, self._security(), settings.startup_timeout)
        )
        for received in (signal.SIGINT, signal.SIGTERM):
            self.loop.add_signal_handler(received, task.cancel)
        try:
            self.loop.run_until_complete(task)
        except KafkaUnavailable as exc:
            self.runtime.lifecycle.end(Outcome.KAFKA_UNAVAILABLE, str(exc))
            log.error("%s", exc, extra={"cause": exc.kind})
            sys.exit(Outcome.KAFKA_UNAVAILABLE.exit_code)
        except asyncio.CancelledError:
            code = settings.behaviour.signal_exit_code
            self.runtime.lifecycle.end(Outcome.INTERRUPTED, "Interrupted during start-up", code)
            log.info("Interrupted during start-up")
            sys.exit(code)
        finally:
            for received in (signal.SIGINT, signal.SIGTERM):
                self.loop.remove_signal_handler(received)

    def _security(self) -> Security:
        return resolve_security(self.runtime.settings.kafka)

    def _setup_logging(self) -> None:
        settings = self.runtime.settings
        secrets = [s.reveal() for s in (settings.kafka.password, settings.arango_password) if s]
        configure_logging(
            settings.log_level,
            {"queue_id": settings.queue_id, "producer": settings.producer_id},
            secrets,
        )

    async def on_first_start(self) -> None:
        await super().on_first_start()
        self.add_future(self._enforce_startup_deadline())
        settings = self.runtime.settings
        self.kafka_watch = KafkaWatch(
            settings.kafka.bootstrap_servers,
            self._security(),
            lambda reachable: self.runtime.readiness.update(kafka_reachable=reachable),
        )
        self.kafka_watch.start()

    async def _enforce_startup_deadline(self) -> None:
        timeout = self.runtime.settings.startup_timeout
        await asyncio.sleep(max(timeout - self.runtime.uptime, 0.0))
        if self.runtime.lifecycle.status is Status.STARTING and not self.runtime.lifecycle.ended:
            message = (
                f"The worker did not get the control topic's partitions within {timeout:g} s "
                "(STARTUP_TIMEOUT); check that Kafka is healthy and the topic can be read"
            )
            log.error("%s", message, extra={"cause": "unready"})
            await self.runtime.end(Outcome.KAFKA_UNAVAILABLE, message)

    # -- shut-down -----------------------------------------------------------------------

    def _on_sigterm(self) -> None:
        self._on_signal(signal.SIGTERM)

    def _on_sigint(self) -> None:
        self._on_signal(signal.SIGINT)

    def _on_signal(self, received: signal.Signals) -> None:
        if self._signalled:
            log.warning("Received %s again: exiting now", received.name)
            self._exit_now()
        self._signalled = True
        log.info("Received %s: shutting down", received.name)
        ending = self.runtime.end(
            Outcome.INTERRUPTED,
            f"Interrupted by {received.name}",
            exit_code=self.runtime.settings.behaviour.signal_exit_code,
        )
        self.add_future(ending)

    def _shut_down(self) -> None:
        if self._signal_stop_future is None:
            self._signal_stop_time = self.loop.time()
            self._signal_stop_future = asyncio.ensure_future(self._stop_worker())
            # Faust's own stop waits up to 20 s for the producer and 60 s for the consumer
            # when the broker is gone: longer than Kubernetes waits before SIGKILL.
            self.loop.call_later(self.runtime.settings.shutdown_timeout, self._shutdown_overdue)

    def _shutdown_overdue(self) -> None:
        log.error(
            "Shutdown did not finish within %g s (SHUTDOWN_TIMEOUT): exiting now",
            self.runtime.settings.shutdown_timeout,
            extra={"cause": "shutdown_timeout"},
        )
        self._exit_now()

    def _exit_now(self) -> NoReturn:
        """Exit at once with the outcome's code, skipping whatever shutdown is still pending."""
        code = self.runtime.lifecycle.exit_code
        logging.shutdown()
        os._exit(0 if code is None else code)

    async def _stop_worker(self) -> None:
        await self.stop()
        maybe_cancel(self._starting_fut)

    async def on_stop(self) -> None:
        if not self.runtime.lifecycle.ended:
            # Nothing of ours asked to stop: Faust is going down on its own (a crash).
            await self.runtime.end(Outcome.ERROR, "The worker stopped unexpectedly")
        if self.kafka_watch is not None:
            await self.kafka_watch.stop()
        await super().on_stop()

    async def on_shutdown(self) -> None:
        await super().on_shutdown()
        if self.web is not None:
            await self.web.stop()
