"""`serve` over TLS with a certificate this test makes, reached by httpx trusting only the
test's CA; and the refusal to take Basic credentials in plain text on a non-loopback address."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import StartServer, free_port

DOMAIN = "ExampleIdentityDomain"
AUTH = ("joe@example.com", "joePassword")
JOBS = f"/paas/api/v1.1/activitylog/{DOMAIN}/filter"
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - the address whose plain HTTP serve must refuse


@dataclass(frozen=True)
class ServerCertificate:
    certificate: Path
    key: Path
    trust: ssl.SSLContext
    """A client context that trusts the test's CA alone."""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _signed(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        builder.serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def server_certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    """A CA, and a certificate for 127.0.0.1 and localhost that it signed."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _signed(
        x509.CertificateBuilder()
        .subject_name(_name("activitylog test CA"))
        .issuer_name(_name("activitylog test CA"))
        .public_key(ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        ),
        ca_key,
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    server = _signed(
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True),
        ca_key,
    )
    certificate, key = folder / "server.pem", folder / "server.key"
    certificate.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    trust = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return ServerCertificate(certificate, key, trust)


@pytest.mark.parametrize("server_kind", ["granian", "uvicorn"])
def test_serve_terminates_tls_and_sends_hsts(
    start_server: StartServer, server_certificate: ServerCertificate, server_kind: str
) -> None:
    server = start_server(
        "--demo",
        "--db",
        "tls.db",
        "--server",
        server_kind,
        "--tls-certificate",
        str(server_certificate.certificate),
        "--tls-key",
        str(server_certificate.key),
        scheme="https",
        verify=server_certificate.trust,
    )
    headers = {"X-ID-TENANT-NAME": DOMAIN}

    with httpx.Client(
        base_url=server.url, verify=server_certificate.trust, auth=AUTH, headers=headers
    ) as client:
        jobs = client.get(JOBS)
    with pytest.raises(httpx.ConnectError):  # a client that trusts the system's CAs only
        httpx.get(f"{server.url}/health", verify=ssl.create_default_context())
    with pytest.raises(httpx.TransportError):  # plain HTTP to the TLS port
        httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=2)

    assert jobs.status_code == 200, jobs.text
    assert jobs.headers["strict-transport-security"] == "max-age=31536000"
    assert jobs.headers["cache-control"] == "no-store"
    assert f"https://127.0.0.1:{server.port}" in server.log()


def _serve(*arguments: str) -> subprocess.CompletedProcess[str]:
    """`activitylog serve` run to its end (it should refuse to start), stdin closed."""
    command = [sys.executable, "-m", "activitylog", "serve", "--port", str(free_port())]
    return subprocess.run(
        [*command, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize("host", [EVERY_INTERFACE, "::", "192.0.2.10", "example.com"])
def test_plain_http_on_a_non_loopback_address_is_refused(tmp_path: Path, host: str) -> None:
    refused = _serve("--host", host, "--db", str(tmp_path / "refused.db"))

    assert refused.returncode != 0
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("Error: ")
    for remedy in ("--tls-certificate", "--behind-proxy", "--insecure-http"):
        assert remedy in line
    assert not (tmp_path / "refused.db").exists()


@pytest.mark.parametrize(
    "arguments",
    [
        ("--tls-certificate", "server.pem"),
        ("--tls-key", "server.key"),
    ],
    ids=["certificate alone", "key alone"],
)
def test_a_certificate_needs_its_key(
    server_certificate: ServerCertificate, arguments: tuple[str, str]
) -> None:
    folder = str(server_certificate.certificate.parent)
    refused = _serve(arguments[0], f"{folder}/{arguments[1]}")

    assert refused.returncode != 0
    (line,) = refused.stderr.strip().splitlines()
    assert "--tls-certificate" in line
    assert "--tls-key" in line


@pytest.mark.parametrize("consent", ["--behind-proxy", "--insecure-http"])
def test_plain_http_on_every_interface_starts_when_told_why(
    start_server: StartServer, consent: str
) -> None:
    server = start_server("--host", EVERY_INTERFACE, consent, "--db", "plain.db")

    assert httpx.get(f"{server.url}/health").status_code == 200
