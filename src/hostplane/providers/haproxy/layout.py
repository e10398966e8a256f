"""Where the managed HAProxy's files are, and the ones it needs before it can start.

Everything lives in one directory of the control plane's own (0700, root's): HAProxy reads
its config, maps, crt-list and certificates as root at start-up, before it drops to the edge
user, and never reads a file again (runtime changes go through its socket). The maps and the
crt-list are written by the edge provider (runtime.py, certs.py) after every change; what is
made here is only what a first start needs: empty maps, the bodies of the answers HAProxy
gives itself, a default certificate, and a crt-list that starts with it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hostplane.providers.caddy.render import (
    DENIED_BODY,
    MAINTENANCE_BODY,
    NOT_FOUND_BODY,
    SUSPENDED_BODY,
)
from hostplane.providers.fs import atomic_write, private_dir

DEFAULT_HOST = "hostplane-default.invalid"
BODIES = {
    "not-found": NOT_FOUND_BODY,
    "maintenance": MAINTENANCE_BODY,
    "suspended": SUSPENDED_BODY,
    "denied": DENIED_BODY,
}


@dataclass(frozen=True, slots=True)
class FrontLayout:
    root: Path  # <data dir>/edge/haproxy
    socket: Path  # the runtime API, beside Caddy's admin socket

    @property
    def config(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def hosts_map(self) -> Path:
        return self.root / "hosts.map"

    @property
    def challenges_map(self) -> Path:
        return self.root / "challenges.map"

    @property
    def cert_dir(self) -> Path:
        return self.root / "certs"

    @property
    def crt_list(self) -> Path:
        return self.root / "crt-list.txt"

    @property
    def default_cert(self) -> Path:
        return self.root / "default.pem"

    @property
    def pid_file(self) -> Path:
        return self.root / "haproxy.pid"

    @property
    def log(self) -> Path:
        return self.root / "haproxy.log"

    @property
    def lock(self) -> Path:
        return self.root / "haproxy.lock"

    def body(self, name: str) -> Path:
        return self.root / f"{name}.body"

    def prepare(self) -> None:
        """The directory and every file a start needs; nothing that is there is replaced
        except the bodies (the release's own) and the crt-list's stale entries."""
        private_dir(self.root)
        private_dir(self.cert_dir)
        for name, text in BODIES.items():
            atomic_write(self.body(name), text, mode=0o600)
        for path in (self.hosts_map, self.challenges_map):
            if not path.exists():
                atomic_write(path, "", mode=0o644)
        if not self.default_cert.exists():
            atomic_write(self.default_cert, default_certificate(), mode=0o600)
        self._crt_list()

    def _crt_list(self) -> None:
        """The default certificate first (presented to a client that names no host we have),
        then every site certificate whose file is there: a missing one would stop a start."""
        lines = [str(self.default_cert)]
        try:
            listed = self.crt_list.read_text().splitlines()
        except FileNotFoundError:
            listed = []
        for line in listed:
            words = line.split()
            if not words or line.startswith("#") or words[0] == str(self.default_cert):
                continue
            if Path(words[0]).parent == self.cert_dir and Path(words[0]).is_file():
                lines.append(line.strip())
        atomic_write(self.crt_list, "\n".join(lines) + "\n", mode=0o600)


def default_certificate(days: int = 3650) -> str:
    """A self-signed certificate and its key (PEM, certificate first) for a name no one
    owns: what the HTTPS bind presents when no site's certificate matches."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEFAULT_HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(DEFAULT_HOST)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode() + key_pem.decode()
