"""Certificates in a real HAProxy, added, replaced and removed at runtime, no reload."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane.providers.base import Outcome
from hostplane.providers.haproxy.certs import RuntimeCertificates
from hostplane.providers.haproxy.runtime import RuntimeHostMap
from tests.integration.test_haproxy_hostmap import HAPROXY
from tests.services import free_port, terminate


def _self_signed(tmp: Path, host: str) -> tuple[str, str]:
    key, crt = tmp / f"{host}.key", tmp / f"{host}.crt"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(crt), "-subj", f"/CN={host}"),
            *("-addext", f"subjectAltName=DNS:{host}"),
        ],
        check=True,
        capture_output=True,
    )
    return crt.read_text(), key.read_text()


def _presented(port: int, host: str) -> bytes:
    """The DER of the certificate presented for `host` (SNI), unverified."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def _der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem)


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[tuple[RuntimeCertificates, int, Path]]:
    made = tmp_path / "made"
    made.mkdir()
    certs = tmp_path / "certs"
    certs.mkdir()
    default = tmp_path / "default.pem"
    crt, key = _self_signed(made, "default.invalid")
    default.write_text(crt + key)
    crt_list = tmp_path / "list.txt"
    crt_list.write_text(f"{default}\n")
    sock, port = tmp_path / "admin.sock", free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(
        f"""global
  stats socket {sock} mode 600 level admin
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fe
  bind 127.0.0.1:{port} ssl crt-list {crt_list}
  http-request return status 200 content-type text/plain string ok
"""
    )
    proc = subprocess.Popen(
        [HAPROXY, "-db", "-f", str(cfg)],
        stdout=(tmp_path / "haproxy.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert proc.poll() is None, (tmp_path / "haproxy.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        api = RuntimeHostMap(sock, tmp_path / "unused.map")
        yield RuntimeCertificates(api, certs, crt_list), port, made
    finally:
        terminate(proc, timeout=10)


def test_a_certificate_is_presented_at_once_replaced_and_removed(haproxy):
    certs, port, made = haproxy
    default = _presented(port, "shop.test")
    first = _self_signed(made, "shop.test")
    assert certs.ensure("shop.test", *first) is Outcome.CREATED
    assert _presented(port, "shop.test") == _der(first[0])
    assert certs.ensure("shop.test", *first) is Outcome.UNCHANGED
    assert certs.observe() == {"shop.test"}
    second = _self_signed(made, "shop.test")
    assert certs.ensure("shop.test", *second) is Outcome.UPDATED
    assert _presented(port, "shop.test") == _der(second[0])
    assert certs.path("shop.test").read_text().startswith(second[0].strip())
    assert str(certs.path("shop.test")) in certs.crt_list.read_text()
    assert certs.remove("shop.test") is Outcome.DELETED
    assert _presented(port, "shop.test") == default
    assert certs.remove("shop.test") is Outcome.ABSENT
    assert str(certs.path("shop.test")) not in certs.crt_list.read_text()
