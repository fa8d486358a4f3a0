"""Kafka security: variables → client settings, and client errors → the cause we report.

No broker and no network: TLS failures come from real handshakes between in-memory TLS objects.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
from pathlib import Path

import aiokafka.errors
import pytest
import trustme
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import AuthProtocol, SASLMechanism

from dummyservice.kafka import (
    KafkaUnavailable,
    Security,
    classify_error,
    faust_credentials,
    probe,
    resolve_security,
)
from dummyservice.settings import ConfigError, load_kafka_settings

PASSWORD = "s3cr3t-unit-7f1c2a"
SERVERS = ("kafka.example:9093",)
LOGIN = {"KAFKA_USER": "loader", "KAFKA_PASSWORD": PASSWORD}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def security(**env: str) -> Security:
    return resolve_security(load_kafka_settings(env))


def config_error(**env: str) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        security(**env)
    return raised.value


def assert_verifies_the_broker(context: ssl.SSLContext | None) -> None:
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is True
    assert context.verify_mode == ssl.CERT_REQUIRED


def trusts(context: ssl.SSLContext, ca: trustme.CA) -> bool:
    pem = ca.cert_pem.bytes().decode()
    return ssl.PEM_cert_to_DER_cert(pem) in context.get_ca_certs(binary_form=True)


# -- the settings handed to aiokafka -------------------------------------------------------


def test_nothing_set_means_plaintext_without_login():
    assert security().aiokafka_kwargs() == {"security_protocol": "PLAINTEXT"}


def test_a_ca_alone_means_tls_verifying_the_broker_against_that_ca(ca, ca_file):
    kwargs = security(KAFKA_CA_PATH=str(ca_file)).aiokafka_kwargs()

    assert set(kwargs) == {"security_protocol", "ssl_context"}
    assert kwargs["security_protocol"] == "SSL"
    assert_verifies_the_broker(kwargs["ssl_context"])
    assert trusts(kwargs["ssl_context"], ca)


def test_ca_path_is_an_alias_of_kafka_ca_path(ca, ca_file):
    kwargs = security(CA_PATH=str(ca_file)).aiokafka_kwargs()

    assert kwargs["security_protocol"] == "SSL"
    assert trusts(kwargs["ssl_context"], ca)


def test_kafka_ca_path_wins_over_ca_path(ca, ca_file, tmp_path):
    other = trustme.CA()
    other_file = tmp_path / "other-ca.pem"
    other.cert_pem.write_to_path(str(other_file))

    context = security(KAFKA_CA_PATH=str(ca_file), CA_PATH=str(other_file)).ssl_context

    assert context is not None
    assert trusts(context, ca)
    assert not trusts(context, other)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_a_login_alone_means_sasl_scram_over_plaintext(mechanism):
    kwargs = security(**LOGIN, KAFKA_SASL_MECHANISM=mechanism).aiokafka_kwargs()

    assert kwargs == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "loader",
        "sasl_plain_password": PASSWORD,
    }


def test_the_sasl_mechanism_defaults_to_scram_sha_512():
    assert security(**LOGIN).aiokafka_kwargs()["sasl_mechanism"] == "SCRAM-SHA-512"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_a_ca_and_a_login_mean_sasl_ssl(ca, ca_file, mechanism):
    kwargs = security(
        **LOGIN, KAFKA_CA_PATH=str(ca_file), KAFKA_SASL_MECHANISM=mechanism
    ).aiokafka_kwargs()

    context = kwargs.pop("ssl_context")
    assert_verifies_the_broker(context)
    assert trusts(context, ca)
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "loader",
        "sasl_plain_password": PASSWORD,
    }


def test_lower_case_protocol_and_mechanism_are_accepted():
    kwargs = security(
        **LOGIN, KAFKA_SECURITY_PROTOCOL="sasl_plaintext", KAFKA_SASL_MECHANISM="scram-sha-256"
    ).aiokafka_kwargs()

    assert kwargs["security_protocol"] == "SASL_PLAINTEXT"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-256"


# -- KAFKA_SECURITY_PROTOCOL overrides the guess ---------------------------------------------


def test_forced_plaintext_without_a_login_ignores_the_ca(ca_file):
    forced = security(KAFKA_CA_PATH=str(ca_file), KAFKA_SECURITY_PROTOCOL="PLAINTEXT")

    assert forced.aiokafka_kwargs() == {"security_protocol": "PLAINTEXT"}


def test_forced_ssl_without_a_ca_verifies_against_the_system_cas():
    kwargs = security(KAFKA_SECURITY_PROTOCOL="SSL").aiokafka_kwargs()

    assert set(kwargs) == {"security_protocol", "ssl_context"}
    assert kwargs["security_protocol"] == "SSL"
    assert_verifies_the_broker(kwargs["ssl_context"])


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL"])
def test_a_forced_protocol_that_would_drop_the_login_is_a_config_error(protocol, ca_file):
    error = config_error(**LOGIN, KAFKA_CA_PATH=str(ca_file), KAFKA_SECURITY_PROTOCOL=protocol)

    assert error.variable == "KAFKA_SECURITY_PROTOCOL"
    assert f"use SASL_{protocol}" in str(error)
    assert PASSWORD not in str(error)


def test_forced_sasl_plaintext_ignores_the_ca(ca_file):
    kwargs = security(
        **LOGIN, KAFKA_CA_PATH=str(ca_file), KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT"
    ).aiokafka_kwargs()

    assert kwargs == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "loader",
        "sasl_plain_password": PASSWORD,
    }


def test_forced_sasl_ssl_without_a_ca_verifies_against_the_system_cas():
    kwargs = security(**LOGIN, KAFKA_SECURITY_PROTOCOL="SASL_SSL").aiokafka_kwargs()

    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_plain_password"] == PASSWORD
    assert_verifies_the_broker(kwargs["ssl_context"])


# -- impossible combinations ----------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_a_forced_sasl_protocol_without_a_login_is_a_config_error(protocol, ca_file):
    error = config_error(KAFKA_SECURITY_PROTOCOL=protocol, KAFKA_CA_PATH=str(ca_file))

    assert error.variable == "KAFKA_SECURITY_PROTOCOL"
    assert "KAFKA_USER" in str(error)


def test_a_user_without_a_password_is_a_config_error():
    error = config_error(KAFKA_USER="loader")

    assert error.variable == "KAFKA_USER"
    assert "KAFKA_PASSWORD" in str(error)


def test_a_password_without_a_user_is_a_config_error_that_hides_the_password():
    error = config_error(KAFKA_PASSWORD=PASSWORD)

    assert error.variable == "KAFKA_PASSWORD"
    assert PASSWORD not in str(error)
    assert PASSWORD not in repr(error)


@pytest.mark.parametrize("variable", ["KAFKA_CA_PATH", "CA_PATH"])
def test_a_ca_path_that_does_not_exist_is_a_config_error_naming_the_variable(variable, tmp_path):
    missing = tmp_path / "missing.pem"

    error = config_error(**{variable: str(missing)}, **LOGIN)

    assert error.variable == variable
    assert str(missing) in str(error)
    assert PASSWORD not in str(error)


def test_a_ca_file_without_a_certificate_is_a_config_error_not_a_traceback(tmp_path):
    not_a_ca = tmp_path / "ca.pem"
    not_a_ca.write_text("this is not a certificate\n")

    error = config_error(KAFKA_CA_PATH=str(not_a_ca), **LOGIN)

    assert error.variable == "KAFKA_CA_PATH"
    assert str(not_a_ca) in str(error)
    assert PASSWORD not in str(error)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KAFKA_SASL_MECHANISM", "PLAIN"),
        ("KAFKA_SASL_MECHANISM", "GSSAPI"),
        ("KAFKA_SECURITY_PROTOCOL", "TLS"),
    ],
)
def test_an_unsupported_value_is_a_config_error_naming_the_variable(variable, value):
    error = config_error(**{variable: value}, **LOGIN)

    assert error.variable == variable
    assert PASSWORD not in str(error)


# -- the settings handed to faust -----------------------------------------------------------


def test_faust_gets_no_credentials_for_plaintext():
    assert faust_credentials(security()) is None


def test_faust_gets_ssl_credentials_with_the_same_context_for_tls(ca_file):
    tls = security(KAFKA_CA_PATH=str(ca_file))

    credentials = faust_credentials(tls)

    assert type(credentials) is SSLCredentials
    assert credentials.context is tls.ssl_context
    assert credentials.protocol is AuthProtocol.SSL


@pytest.mark.parametrize(
    ("mechanism", "expected"),
    [
        ("SCRAM-SHA-512", SASLMechanism.SCRAM_SHA_512),
        ("SCRAM-SHA-256", SASLMechanism.SCRAM_SHA_256),
    ],
)
def test_faust_gets_sasl_credentials_over_plaintext_for_a_login(mechanism, expected):
    credentials = faust_credentials(security(**LOGIN, KAFKA_SASL_MECHANISM=mechanism))

    assert type(credentials) is SASLCredentials
    assert credentials.protocol is AuthProtocol.SASL_PLAINTEXT
    assert credentials.mechanism is expected
    assert credentials.username == "loader"
    assert credentials.password == PASSWORD
    assert credentials.ssl_context is None


@pytest.mark.parametrize(
    ("mechanism", "expected"),
    [
        ("SCRAM-SHA-512", SASLMechanism.SCRAM_SHA_512),
        ("SCRAM-SHA-256", SASLMechanism.SCRAM_SHA_256),
    ],
)
def test_faust_gets_sasl_ssl_credentials_for_a_ca_and_a_login(ca_file, mechanism, expected):
    both = security(**LOGIN, KAFKA_CA_PATH=str(ca_file), KAFKA_SASL_MECHANISM=mechanism)

    credentials = faust_credentials(both)

    assert type(credentials) is SASLCredentials
    assert credentials.protocol is AuthProtocol.SASL_SSL
    assert credentials.mechanism is expected
    assert credentials.username == "loader"
    assert credentials.password == PASSWORD
    assert credentials.ssl_context is both.ssl_context


def test_faust_gets_ssl_credentials_for_tls_without_a_login(ca_file):
    assert type(faust_credentials(security(KAFKA_CA_PATH=str(ca_file)))) is SSLCredentials


# -- secrets stay secret -------------------------------------------------------------------


def test_the_security_repr_never_shows_the_password(ca_file):
    both = security(**LOGIN, KAFKA_CA_PATH=str(ca_file))

    assert PASSWORD not in repr(both)
    assert PASSWORD not in str(both)
    assert "SASL_SSL" in repr(both)


def test_the_kafka_settings_repr_never_shows_the_password():
    settings = load_kafka_settings(LOGIN)

    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)


# -- client errors → unreachable, tls or authentication --------------------------------------


def handshake_error(
    trusted: trustme.CA, server: trustme.LeafCert, hostname: str = "kafka.example"
) -> ssl.SSLError:
    """The error a client that trusts ``trusted`` gets from a server presenting ``server``."""
    client_context = ssl.create_default_context()
    trusted.configure_trust(client_context)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.configure_cert(server_context)
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    from_server, from_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(to_client, from_client, server_hostname=hostname)
    server_end = server_context.wrap_bio(to_server, from_server, server_side=True)
    for _ in range(10):
        try:
            client.do_handshake()
            raise AssertionError("the handshake succeeded")
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as exc:
            return exc
        to_server.write(from_client.read())
        with pytest.raises(ssl.SSLWantReadError):
            server_end.do_handshake()
        to_client.write(from_server.read())
    raise AssertionError("the handshake neither failed nor finished")


def wrapped(cause: BaseException) -> aiokafka.errors.KafkaConnectionError:
    """``cause`` as the cause of an aiokafka connection error, as a client raises it."""
    try:
        raise aiokafka.errors.KafkaConnectionError("Connection at kafka.example:9093 closed")
    except aiokafka.errors.KafkaConnectionError as outer:
        outer.__cause__ = cause
        return outer


def classify(exc: BaseException) -> KafkaUnavailable:
    result = classify_error(exc, SERVERS, 30.0)
    assert PASSWORD not in str(result)
    assert "kafka.example:9093" in str(result)
    return result


def test_a_certificate_from_an_unknown_ca_is_a_tls_failure(ca):
    error = handshake_error(trustme.CA(), ca.issue_cert("kafka.example"))

    result = classify(error)

    assert isinstance(error, ssl.SSLCertVerificationError)
    assert result.kind == "tls"
    assert "certificate" in str(result)
    assert "KAFKA_CA_PATH" in str(result)


def test_an_expired_certificate_is_a_tls_failure_that_says_so(ca):
    now = dt.datetime.now(dt.UTC)
    expired = ca.issue_cert(
        "kafka.example",
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )

    result = classify(handshake_error(ca, expired))

    assert result.kind == "tls"
    assert "expired" in str(result)


def test_a_certificate_for_another_host_is_a_tls_failure_naming_the_mismatch(ca):
    result = classify(handshake_error(ca, ca.issue_cert("other.example")))

    assert result.kind == "tls"
    assert "mismatch" in str(result).lower()
    assert "KAFKA_BOOTSTRAP_SERVERS" in str(result)


def test_a_tls_failure_inside_a_client_error_is_still_a_tls_failure(ca):
    error = wrapped(handshake_error(trustme.CA(), ca.issue_cert("kafka.example")))

    assert classify(error).kind == "tls"


def test_a_port_that_does_not_speak_tls_is_a_tls_failure():
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ssl.create_default_context().wrap_bio(
        incoming, outgoing, server_hostname="kafka.example"
    )
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    incoming.write(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 4)  # a plaintext answer
    with pytest.raises(ssl.SSLError) as raised:
        client.do_handshake()

    result = classify(raised.value)

    assert result.kind == "tls"
    assert "speaks TLS" in str(result)


@pytest.mark.parametrize(
    "error",
    [
        aiokafka.errors.SaslAuthenticationFailed(f"Authentication failed for {PASSWORD}"),
        aiokafka.errors.UnsupportedSaslMechanismError("SCRAM-SHA-512 is not enabled"),
        aiokafka.errors.IllegalSaslStateError(),
        KeyError("v"),  # aiokafka's SCRAM client, when the server answers e=unknown-user
        ValueError("Server sent wrong signature!"),  # aiokafka's SCRAM client
        wrapped(KeyError("v")),
        wrapped(aiokafka.errors.SaslAuthenticationFailed()),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_rejected_login_is_an_authentication_failure(error):
    result = classify(error)

    assert result.kind == "authentication"
    assert "authentication failed" in str(result)
    assert "KAFKA_PASSWORD" in str(result)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9093)"),
        ConnectionResetError(104, "Connection reset by peer"),
        OSError(113, "No route to host"),
        TimeoutError(),
        aiokafka.errors.KafkaConnectionError("Unable to bootstrap from [('kafka.example', 9093)]"),
        wrapped(ConnectionRefusedError(111, "Connect call failed")),
    ],
    ids=lambda error: type(error).__name__,
)
def test_no_answer_is_unreachable(error):
    result = classify(error)

    assert result.kind == "unreachable"
    assert "unreachable" in str(result)
    assert "30 s" in str(result)


# -- the probe decides from the first connection's real error ---------------------------------


def run_probe(monkeypatch: pytest.MonkeyPatch, connect, timeout: float, **env: str) -> tuple:
    """Run the probe with aiokafka's connection replaced by ``connect``; return the outcome."""
    monkeypatch.setattr("aiokafka.conn.create_conn", connect)
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable) as raised:
        asyncio.run(probe(SERVERS, security(**env), timeout))
    return raised.value, time.monotonic() - started


def failing(error: BaseException):
    attempts = []

    async def connect(*args, **kwargs):
        attempts.append(kwargs)
        raise error

    connect.attempts = attempts
    return connect


def test_the_probe_reports_a_rejected_login_at_once(monkeypatch):
    # Real Kafka answers a wrong password with SaslAuthenticationFailed, which aiokafka's own
    # bootstrap() would swallow and retry until the timeout.
    connect = failing(aiokafka.errors.SaslAuthenticationFailed("Authentication failed"))

    result, elapsed = run_probe(monkeypatch, connect, 10.0, **LOGIN)

    assert result.kind == "authentication"
    assert elapsed < 2
    assert len(connect.attempts) == 1
    assert connect.attempts[0]["sasl_plain_password"] == PASSWORD


def test_the_probe_reports_a_certificate_failure_at_once(monkeypatch, ca, ca_file):
    error = wrapped(handshake_error(trustme.CA(), ca.issue_cert("kafka.example")))

    result, elapsed = run_probe(monkeypatch, failing(error), 10.0, KAFKA_CA_PATH=str(ca_file))

    assert result.kind == "tls"
    assert elapsed < 2


def test_the_probe_retries_a_refused_connection_until_the_timeout(monkeypatch):
    connect = failing(ConnectionRefusedError(111, "Connect call failed"))

    result, elapsed = run_probe(monkeypatch, connect, 1.2)

    assert result.kind == "unreachable"
    assert "1.2 s" in str(result)
    assert 1.0 < elapsed < 3
    assert len(connect.attempts) >= 2


def test_the_probe_gives_up_on_a_hanging_tls_handshake_at_the_timeout(monkeypatch, ca_file):
    async def hang(*args, **kwargs):
        await asyncio.sleep(60)

    result, elapsed = run_probe(monkeypatch, hang, 0.5, KAFKA_CA_PATH=str(ca_file))

    assert result.kind == "unreachable"
    assert "speaks TLS" in str(result)
    assert elapsed < 2
