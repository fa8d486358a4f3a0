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
from pathlib import Path
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
    if has_login and not uses_sasl:
        raise ConfigError(
            "KAFKA_SECURITY_PROTOCOL",
            f"is {protocol}, which sends no login, but KAFKA_USER/KAFKA_PASSWORD are set: "
            f"use SASL_{protocol} "
            "or unset the login",
        )
    context = _tls_context(settings.ca_path) if uses_tls else None
    return Security(
        protocol=protocol,
        ssl_context=context,
        sasl_mechanism=settings.sasl_mechanism if uses_sasl else None,
        username=settings.user if uses_sasl else None,
        password=settings.password.reveal() if uses_sasl and settings.password else None,
    )


def _tls_context(ca_path: Path | None) -> ssl.SSLContext:
    """Verify the broker's certificate and host name; without a CA, against the system's CAs."""
    try:
        context = ssl.create_default_context(cafile=str(ca_path) if ca_path else None)
    except (ssl.SSLError, OSError) as exc:
        # Only a set path can fail here: the variable is KAFKA_CA_PATH or its alias CA_PATH.
        raise ConfigError(
            "KAFKA_CA_PATH",
            f"(or CA_PATH) points to {ca_path}, which holds no readable PEM CA certificate "
            f"({getattr(exc, 'reason', None) or exc.strerror or type(exc).__name__})",
        ) from None
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


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
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (remaining := deadline - loop.time()) > 0:
        try:
            failures = await asyncio.wait_for(
                _bootstrap_once(bootstrap_servers, security, remaining), remaining
            )
        except TimeoutError:
            break
        if not failures:
            return
        # A TLS or login failure says more than a server that did not answer, and retrying
        # cannot fix it.
        for exc in failures:
            cause = classify_error(exc, bootstrap_servers, timeout)
            if cause.kind != "unreachable":
                raise cause
        await asyncio.sleep(min(0.5, max(deadline - loop.time(), 0)))
    tls = security.ssl_context is not None
    raise KafkaUnavailable("unreachable", _unreachable(bootstrap_servers, timeout, tls=tls))


async def _bootstrap_once(
    servers: tuple[str, ...], security: Security, timeout: float
) -> list[Exception]:
    """Connect, log in and fetch metadata from the first bootstrap server that allows it.

    Returns the failures, none if a server answered. aiokafka's own ``bootstrap()`` swallows
    TLS and SASL errors (it logs them and raises only "Unable to bootstrap"), so the probe opens
    the connections itself to see the real cause.
    """
    from aiokafka.conn import collect_hosts, create_conn
    from aiokafka.protocol.metadata import MetadataRequest

    failures: list[Exception] = []
    for host, port, _ in collect_hosts(list(servers), randomize=False):
        try:
            conn = await create_conn(
                host,
                port,
                request_timeout_ms=int(max(timeout, 1.0) * 1000),
                **security.aiokafka_kwargs(),
            )
        except Exception as exc:
            failures.append(exc)
            continue
        try:
            await conn.send(MetadataRequest([]))
            return []
        except Exception as exc:
            failures.append(exc)
        finally:
            conn.close()
    return failures


def classify_error(
    exc: BaseException, servers: tuple[str, ...], timeout: float
) -> KafkaUnavailable:
    """Map a client exception to unreachable, TLS or authentication, without secrets."""
    where = ",".join(servers)
    chain = _causes(exc)
    for error in chain:
        if isinstance(error, ssl.SSLCertVerificationError):
            hint = (
                "check that KAFKA_BOOTSTRAP_SERVERS names a host the certificate is issued for"
                if error.verify_code in _HOSTNAME_MISMATCH
                else "check KAFKA_CA_PATH and the broker's certificate"
            )
            return KafkaUnavailable(
                "tls",
                f"TLS handshake with {where} failed: the broker's certificate was not accepted "
                f"({error.verify_message}); {hint}",
            )
        if isinstance(error, ssl.SSLError):
            return KafkaUnavailable(
                "tls",
                f"TLS handshake with {where} failed ({error.reason or 'SSL error'}); "
                "check KAFKA_CA_PATH and that the port speaks TLS",
            )
    names = " ".join(type(error).__name__ for error in chain).lower()
    texts = " ".join(str(error) for error in chain).lower()
    # aiokafka's SCRAM client raises KeyError or ValueError on a server reply it cannot follow,
    # e.g. KeyError('v') when the server answers with e=unknown-user instead of a signature.
    scram_reply = any(isinstance(error, KeyError | ValueError) for error in chain)
    if "sasl" in names or "auth" in names or "authentication" in texts or scram_reply:
        return KafkaUnavailable(
            "authentication",
            f"Kafka authentication failed at {where}: the broker rejected the SASL login; "
            "check KAFKA_USER, KAFKA_PASSWORD and KAFKA_SASL_MECHANISM",
        )
    return KafkaUnavailable("unreachable", _unreachable(servers, timeout))


# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH
_HOSTNAME_MISMATCH = (62, 64)


def _unreachable(servers: tuple[str, ...], timeout: float, *, tls: bool = False) -> str:
    # A plaintext port sent a TLS handshake may just wait for more bytes: say so.
    check = "KAFKA_BOOTSTRAP_SERVERS, the network and that the port speaks TLS"
    if not tls:
        check = "KAFKA_BOOTSTRAP_SERVERS and the network"
    return (
        f"Kafka at {','.join(servers)} is unreachable (no broker answered within {timeout:g} s); "
        f"check {check}"
    )


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
