"""HTTP endpoints on one port: /metrics, /healthz, /readyz and /status."""

from __future__ import annotations

import errno
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import __version__

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger(__name__)


class CannotServe(Exception):
    """The HTTP server cannot listen where it was told to (a configuration error)."""


class WebServer:
    def __init__(self, runtime: Runtime, host: str, port: int) -> None:
        self.runtime = runtime
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/status", self.status)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            raise CannotServe(self._explain(exc)) from None
        log.info("Serving HTTP on %s:%d", self.host, self.port)

    def _explain(self, error: OSError) -> str:
        where = f"{self.host}:{self.port}"
        if error.errno == errno.EADDRINUSE:
            return (
                f"port {self.port} (METRICS_PORT / --metrics-port) is already in use on "
                f"{self.host}: stop the other process or choose another port"
            )
        if error.errno == errno.EACCES:
            return (
                f"not allowed to listen on {where}: ports below 1024 need privileges, "
                "choose a METRICS_PORT of 1024 or more"
            )
        if error.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            return (
                f"METRICS_BIND {self.host} is not an address of this machine: "
                "use 0.0.0.0, 127.0.0.1 or one of its own addresses"
            )
        return f"cannot listen on {where} (METRICS_BIND, METRICS_PORT): {error.strerror}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.runtime.metrics.registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def healthz(self, request: web.Request) -> web.Response:
        # Answering at all proves the event loop is responsive.
        if self.runtime.readiness.shutting_down:
            return web.json_response({"healthy": False, "reason": "shutting_down"}, status=503)
        return web.json_response({"healthy": True})

    async def readyz(self, request: web.Request) -> web.Response:
        readiness = self.runtime.readiness
        if readiness.ready:
            return web.json_response({"ready": True})
        return web.json_response({"ready": False, "reason": readiness.reason}, status=503)

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(status_document(self.runtime))


def status_document(runtime: Runtime) -> dict[str, Any]:
    """What /status shows: identity, lifecycle and counts; never settings with secrets."""
    settings = runtime.settings
    metrics = runtime.metrics
    return {
        "queue_id": settings.queue_id,
        "producer": settings.producer_id,
        "instance": settings.instance,
        "symbol": settings.symbol,
        "type": settings.type,
        "time_range": str(settings.time_range) if settings.time_range else None,
        "status": runtime.lifecycle.status.value,
        "ready": runtime.readiness.ready,
        "not_ready_reason": runtime.readiness.reason,
        "uptime_seconds": round(runtime.uptime, 3),
        "records_written": runtime.lifecycle.records_written,
        "events_published": metrics.counts(metrics.events, "event"),
        "commands_received": metrics.counts(metrics.commands, "command"),
        "commands_rejected": metrics.counts(metrics.rejected, "reason"),
        "flags": settings.behaviour.active_flags(),
        "version": __version__,
        "time": time.time(),
    }
