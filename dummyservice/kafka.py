"""How the service talks to Kafka: security settings for the clients, and the start-up probe.

The security mapping is the single source for the worker and the CLI:

=====================  ==========================  ===================
KAFKA_CA_PATH          KAFKA_USER + PASSWORD       security protocol
=====================  ==========================  ===================
unset                  unset                       PLAINTEXT
set                    unset                       SSL
unset                  set                         SASL_PLAINTEXT
set                    set                         SASL_SSL
=====================  ==========================  ===================

``KAFKA_SECURITY_PROTOCOL`` overrides the guess.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any

from .settings import ConfigError, KafkaSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Security:
    protocol: str
    ssl_context: ssl.SSLContext | None
    sasl_mechanism: str | None
    username: str | None
    password: str | None = None

    def __repr__(self) -> str:
        return (
            f"Security(protocol={self.protocol!r}, sasl_mechanism={self.sasl_mechanism!r}, "
            f"username={self.username!r})"
        )

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's clients."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.ssl_context is not None:
            kwargs["ssl_context"] = self.ssl_context
        if self.sasl_mechanism is not None:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.username
            kwargs["sasl_plain_password"] = self.password
        return kwargs


def resolve_security(settings: KafkaSettings) -> Security:
    """Work out TLS and SASL settings; raise ``ConfigError`` for impossible combinations."""
    has_login = settings.user is not None and settings.password is not None
    protocol = settings.security_protocol
    if protocol is None:
        tls = "SSL" if settings.ca_path else "PLAINTEXT"
        protocol = f"SASL_{tls}" if has_login else tls

    uses_tls = protocol in ("SSL", "SASL_SSL")
    uses_sasl = protocol.startswith("SASL_")
    if uses_sasl and not has_login:
        raise ConfigError(
            "KAFKA_SECURITY_PROTOCOL", f"is {protocol} but KAFKA_USER/KAFKA_PASSWORD are not set"
        )
    context = None
    if uses_tls:
        context = ssl.create_default_context(
            cafile=str(settings.ca_path) if settings.ca_path else None
        )
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
    return Security(
        protocol=protocol,
        ssl_context=context,
        sasl_mechanism=settings.sasl_mechanism if uses_sasl else None,
        username=settings.user if uses_sasl else None,
        password=settings.password.reveal() if uses_sasl and settings.password else None,
    )


def faust_credentials(security: Security) -> Any:
    """The same settings in the shape ``faust.App(broker_credentials=...)`` expects."""
    import faust

    if security.sasl_mechanism is not None:
        credentials = faust.SASLCredentials(
            username=security.username,
            password=security.password,
            ssl_context=security.ssl_context,
            mechanism=security.sasl_mechanism,
        )
        return credentials
    if security.ssl_context is not None:
        return faust.SSLCredentials(security.ssl_context)
    return None


class KafkaUnavailable(Exception):
    """Kafka cannot be used at start-up; ``kind`` is unreachable, tls or authentication."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


async def probe(bootstrap_servers: tuple[str, ...], security: Security, timeout: float) -> None:
    """Connect and authenticate once, raising ``KafkaUnavailable`` with the cause if we can't.

    aiokafka retries a failing bootstrap forever and reports the cause only in its logs, so the
    worker and the CLI probe first and fail fast with a message an operator can act on.
    """
    # aiokafka logs every failed attempt at ERROR; the one message that matters is ours.
    client_log = logging.getLogger("aiokafka")
    level = client_log.level
    client_log.setLevel(logging.CRITICAL)
    try:
        await _probe(bootstrap_servers, security, timeout)
    finally:
        client_log.setLevel(level)


async def _probe(bootstrap_servers: tuple[str, ...], security: Security, timeout: float) -> None:
    from aiokafka import AIOKafkaClient

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: KafkaUnavailable | None = None
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise last or KafkaUnavailable("unreachable", _unreachable(bootstrap_servers, timeout))
        client = AIOKafkaClient(
            bootstrap_servers=list(bootstrap_servers),
            request_timeout_ms=int(max(remaining, 1.0) * 1000),
            **security.aiokafka_kwargs(),
        )
        try:
            await asyncio.wait_for(client.bootstrap(), remaining)
            return
        except TimeoutError:
            raise last or KafkaUnavailable(
                "unreachable", _unreachable(bootstrap_servers, timeout)
            ) from None
        except Exception as exc:  # classify, then retry until the deadline or give up
            last = classify_error(exc, bootstrap_servers, timeout)
            if last.kind != "unreachable":
                raise last from None
        finally:
            await client.close()
        await asyncio.sleep(min(0.5, max(deadline - loop.time(), 0)))


def classify_error(
    exc: BaseException, servers: tuple[str, ...], timeout: float
) -> KafkaUnavailable:
    """Map a client exception to unreachable, TLS or authentication, without secrets."""
    chain = _causes(exc)
    for error in chain:
        if isinstance(error, ssl.SSLCertVerificationError):
            return KafkaUnavailable(
                "tls",
                f"TLS handshake with {','.join(servers)} failed: the broker's certificate was "
                f"not accepted ({error.verify_message}); check KAFKA_CA_PATH",
            )
        if isinstance(error, ssl.SSLError):
            return KafkaUnavailable(
                "tls",
                f"TLS handshake with {','.join(servers)} failed ({error.reason or 'SSL error'}); "
                "check KAFKA_CA_PATH and that the port speaks TLS",
            )
    names = " ".join(type(error).__name__ for error in chain)
    texts = " ".join(str(error) for error in chain).lower()
    if (
        "sasl" in names.lower()
        or "authentication" in texts
        or "auth" in names.lower()
        or (isinstance(exc, KeyError))
    ):
        return KafkaUnavailable(
            "authentication",
            f"Kafka authentication failed at {','.join(servers)}: the broker rejected the "
            "SASL login; check KAFKA_USER, KAFKA_PASSWORD and KAFKA_SASL_MECHANISM",
        )
    return KafkaUnavailable("unreachable", _unreachable(servers, timeout))


def _unreachable(servers: tuple[str, ...], timeout: float) -> str:
    return (
        f"Kafka at {','.join(servers)} is unreachable (no broker answered within {timeout:g} s); "
        "check KAFKA_BOOTSTRAP_SERVERS and the network"
    )


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
