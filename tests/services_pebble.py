"""A private Pebble (a test ACME CA) on loopback, validating HTTP-01 at the names' addresses
as a private PowerDNS gives them, on the port the edge listens on (RECIPES §8)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.services import ServiceError, free_port, terminate


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost, for Pebble's own HTTPS."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "pebble-cert.pem", directory / "pebble-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class PrivatePebble:
    def __init__(self, *, http_port: int, dns_server: str) -> None:
        if shutil.which("pebble") is None:
            raise ServiceError("pebble not found: run `make test` (Debian package pebble)")
        self.root = Path(tempfile.mkdtemp(prefix="hostplane-test-pebble-"))
        self.port = free_port()
        self.management_port = free_port()
        self.http_port = http_port
        self.dns_server = dns_server
        self.proc: subprocess.Popen[bytes] | None = None
        self.tls_cert, self.tls_key = self_signed(self.root)

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def start(self) -> PrivatePebble:
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.port}",
                "managementListenAddress": f"127.0.0.1:{self.management_port}",
                "certificate": str(self.tls_cert),
                "privateKey": str(self.tls_key),
                "httpPort": self.http_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }
        }
        (self.root / "pebble.json").write_text(json.dumps(config))
        log = (self.root / "pebble.log").open("ab")
        self.proc = subprocess.Popen(
            [
                "pebble",
                "-config",
                str(self.root / "pebble.json"),
                "-dnsserver",
                self.dns_server,
            ],
            env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PATH": "/usr/bin"},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(self.directory, verify=self._trust(), timeout=1).is_success:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise ServiceError(f"private Pebble did not start:\n{tail}")
            time.sleep(0.05)

    def root_ca(self) -> str:
        """The CA that signs this run's certificates (it changes at every start)."""
        url = f"https://127.0.0.1:{self.management_port}/roots/0"
        return httpx.get(url, verify=self._trust(), timeout=5).text

    def _trust(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.tls_cert))

    def log_tail(self) -> str:
        try:
            return (self.root / "pebble.log").read_text()[-3000:]
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        terminate(self.proc, timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
