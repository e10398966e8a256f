"""Certificates from a real Pebble (ACME) through a real Caddy edge: HTTP-01 answered by the
edge, the certificate sealed in the database and presented for the name over HTTPS (judged by
a TLS handshake against the edge), renewed by the scheduled workflow, removed with the domain;
an issuance failure compensated; SIGKILL inside the certificate step converges."""

from __future__ import annotations

import socket
import ssl
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.harness import CaddyServer, ControlPlane, FaultyAdminProxy, wait_for
from tests.services_pebble import PrivatePebble


def _acme_plane(
    data_dir: Path, powerdns: Any, proxy: FaultyAdminProxy, **extra: str
) -> tuple[ControlPlane, PrivatePebble]:
    cp = ControlPlane(data_dir)
    pebble = PrivatePebble(http_port=cp.edge_port, dns_server=powerdns.resolver).start()
    cp.extra_env.update(
        {
            "HOSTPLANE_ACME_DIRECTORY": pebble.directory,
            "HOSTPLANE_ACME_CA_BUNDLE": str(pebble.tls_cert),
            "HOSTPLANE_DNS_RESOLVERS": powerdns.resolver,
            # The names resolve to loopback, where the edge (and so Pebble's validation) is.
            "HOSTPLANE_PUBLIC_IPS": "127.0.0.1",
            "HOSTPLANE_DNS_ALLOW_PRIVATE": "true",
            "HOSTPLANE_CADDY_ADMIN_URL": proxy.url,
            "HOSTPLANE_EDGE_CONFIRM_TIMEOUT": "5",
            **extra,
        }
    )
    try:
        cp.start()
    except Exception:
        pebble.stop()
        raise
    return cp, pebble


@pytest.fixture(scope="module")
def caddy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaddyServer]:
    server = CaddyServer(tmp_path_factory.mktemp("caddy"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(caddy: CaddyServer) -> Iterator[FaultyAdminProxy]:
    p = FaultyAdminProxy(caddy.admin_port)
    yield p
    p.close()


@pytest.fixture(autouse=True)
def _proxy_passes(proxy: FaultyAdminProxy) -> Iterator[None]:
    proxy.mode, proxy.reject_containing, proxy.stall_containing = "pass", None, None
    yield
    proxy.mode, proxy.reject_containing, proxy.stall_containing = "pass", None, None


@pytest.fixture(scope="module")
def acme(powerdns, proxy, tmp_path_factory) -> Iterator[tuple[ControlPlane, PrivatePebble]]:
    cp, pebble = _acme_plane(tmp_path_factory.mktemp("acme") / "data", powerdns, proxy)
    assert cp.cli("site", "create", "shop", "--wait").returncode == 0
    yield cp, pebble
    cp.stop()
    pebble.stop()


@pytest.fixture
def domain(powerdns) -> str:
    zone = f"z{uuid.uuid4().hex[:8]}.test"
    powerdns.zone(zone)
    name = f"www.{zone}"
    powerdns.records(zone, name, "A", ["127.0.0.1"])
    return name


def _https_get(cp: ControlPlane, host: str, cadata: str) -> tuple[str, dict[str, Any]]:
    """GET / over HTTPS from the edge for `host`, verifying the chain against `cadata`."""
    context = ssl.create_default_context(cadata=cadata)
    with (
        socket.create_connection(("127.0.0.1", cp.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
        peer = tls.getpeercert()
    return data.decode(errors="replace"), dict(peer or {})


def _certificate(cp: ControlPlane, site: str, domain: str) -> dict[str, Any]:
    with cp.api() as api:
        resp = api.get(f"/v1/sites/{site}/domains/{domain}/certificate")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


def _view(cp: ControlPlane, site: str, domain: str) -> dict[str, Any]:
    with cp.api() as api:
        return dict(api.get(f"/v1/sites/{site}/domains/{domain}").json())


def test_a_domain_gets_a_certificate_the_edge_presents_and_loses_it_on_removal(acme, domain):
    cp, pebble = acme
    added = cp.cli("domain", "add", "shop", domain, "--wait")
    assert added.returncode == 0, added.stdout + added.stderr
    view = _view(cp, "shop", domain)
    assert view["status"] == "ACTIVE" and view["certificate"]["source"] == "acme"
    health = _certificate(cp, "shop", domain)
    assert health["healthy"], health
    assert health["served_fingerprint"] == view["certificate"]["fingerprint"]

    body, peer = _https_get(cp, domain, pebble.root_ca())  # verified against Pebble's root
    assert body.startswith("HTTP/1.1 200") and "x-hostplane-route: site-shop" in body.lower()
    assert ("DNS", domain) in peer["subjectAltName"]
    # Sealed at rest: the database holds no PEM in clear.
    for db in cp.data_dir.glob("*.sqlite3*"):  # state and workflow databases, WAL included
        content = db.read_bytes()
        assert b"BEGIN CERTIFICATE" not in content and b"PRIVATE KEY" not in content, db

    assert cp.cli("domain", "remove", "shop", domain, "--wait").returncode == 0
    with pytest.raises(ssl.SSLError):
        _https_get(cp, domain, pebble.root_ca())
    assert "tls" not in cp.caddy_config()["apps"]
    assert _certificate(cp, "shop", domain)["stored_fingerprint"] is None


def test_an_issuance_failure_undoes_the_route(acme, proxy, domain):
    cp, _ = acme
    proxy.reject_containing = b"acme-challenge"  # the edge refuses to publish the challenge
    result = cp.cli("domain", "add", "shop", domain, "--wait")
    assert result.returncode == 1
    view = _view(cp, "shop", domain)
    assert view["status"] == "FAILED" and "challenge" in view["last_error"]
    assert view["certificate"] is None
    with cp.api() as api:
        op = api.get(view["operation"]["url"]).json()
    steps = [(s["name"], s["phase"], s["status"]) for s in op["steps"]]
    assert ("certificate", "apply", "failed") in steps
    assert ("route", "undo", "succeeded") in steps
    assert cp.edge_get(domain).status_code == 404
    assert cp.edge_get("shop.localhost").status_code == 200


def test_killed_inside_the_certificate_step_converges(acme, proxy, domain):
    cp, pebble = acme
    proxy.stall_containing = b"acme-challenge"
    loads = proxy.loads_seen
    with cp.api() as api:
        op_id = api.post("/v1/sites/shop/domains", json={"domain": domain}).json()["operation"][
            "id"
        ]
    wait_for(lambda: proxy.loads_seen > loads + 1, "the challenge to reach the edge", 30)
    cp.kill()
    proxy.stall_containing = None
    proxy.released.set()
    proxy.released.clear()
    cp.start()
    op = cp.wait_operation(op_id, timeout=90)
    assert op["status"] == "SUCCEEDED", op
    assert _certificate(cp, "shop", domain)["healthy"]
    _https_get(cp, domain, pebble.root_ca())


def test_the_scheduled_renewal_replaces_a_due_certificate(powerdns, proxy, tmp_path, domain):
    # Every certificate is inside a 3000-day window: the renewal runs at every tick.
    cp, pebble = _acme_plane(
        tmp_path / "data",
        powerdns,
        proxy,
        HOSTPLANE_CERT_RENEW_BEFORE_DAYS="3000",
        HOSTPLANE_CERT_RENEW_SCHEDULE="*/2 * * * * *",
    )
    try:
        assert cp.cli("site", "create", "renew", "--wait").returncode == 0
        assert cp.cli("domain", "add", "renew", domain, "--wait").returncode == 0
        first = _view(cp, "renew", domain)["certificate"]["fingerprint"]
        wait_for(
            lambda: _view(cp, "renew", domain)["certificate"]["fingerprint"] != first,
            "a renewed certificate",
            60,
        )
        renewed = _view(cp, "renew", domain)
        assert renewed["status"] == "ACTIVE"
        health = _certificate(cp, "renew", domain)
        assert health["healthy"] and health["served_fingerprint"] != first
        with cp.api() as api:
            op = api.get(renewed["operation"]["url"]).json()
        assert op["kind"] in ("certificate-renew", "domain-add")
        _https_get(cp, domain, pebble.root_ca())
    finally:
        cp.stop()
        pebble.stop()


def _own_certificate(name: str, *, days: int = 30, key: Any = None) -> tuple[str, str]:
    """A certificate for `name` from a throwaway CA of the test's own, and its key."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-own-ca")])
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1) if days > 0 else now - timedelta(days=10))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert_pem, key_pem


def test_an_uploaded_certificate_is_checked_installed_and_rolled_back_on_failure(
    acme, proxy, domain, tmp_path
):
    cp, _ = acme
    assert cp.cli("domain", "add", "shop", domain, "--wait").returncode == 0
    acme_fingerprint = _view(cp, "shop", domain)["certificate"]["fingerprint"]

    own_key = ec.generate_private_key(ec.SECP256R1())
    cert_pem, key_pem = _own_certificate(domain, key=own_key)
    path = f"/v1/sites/shop/domains/{domain}/certificate"
    with cp.api() as api:
        for body, problem in [
            (
                {"certificate": _own_certificate("other.example", key=own_key)[0], "key": key_pem},
                "not " + domain,
            ),
            ({"certificate": cert_pem, "key": _own_certificate(domain)[1]}, "does not belong"),
            (
                {"certificate": _own_certificate(domain, days=-1, key=own_key)[0], "key": key_pem},
                "not now",
            ),
            ({"certificate": "garbage", "key": key_pem}, "not PEM"),
        ]:
            resp = api.put(path, json=body)
            assert resp.status_code == 422, resp.text
            assert problem in resp.json()["message"], resp.text

    # The edge refuses the config with the new certificate: the ACME one stays in force.
    proxy.reject_containing = cert_pem.splitlines()[3].encode()
    with cp.api() as api:
        op_id = api.put(path, json={"certificate": cert_pem, "key": key_pem}).json()["operation"][
            "id"
        ]
    op = cp.wait_operation(op_id)
    assert op["status"] == "FAILED" and "refused" in op["error"]
    assert _view(cp, "shop", domain)["certificate"]["fingerprint"] == acme_fingerprint
    assert _certificate(cp, "shop", domain)["served_fingerprint"] == acme_fingerprint

    proxy.reject_containing = None
    (tmp_path / "cert.pem").write_text(cert_pem)
    (tmp_path / "key.pem").write_text(key_pem)
    result = cp.cli(
        "domain", "certificate", "shop", domain,
        "--cert", str(tmp_path / "cert.pem"), "--key", str(tmp_path / "key.pem"), "--wait",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    view = _view(cp, "shop", domain)
    assert view["certificate"]["source"] == "uploaded"
    health = _certificate(cp, "shop", domain)
    assert health["healthy"] and health["served_fingerprint"] != acme_fingerprint
    missing = cp.cli(
        "domain", "certificate", "shop", domain, "--cert", "/nonexistent", "--key", "/x"
    )
    assert missing.returncode == 1 and "cannot read" in missing.stderr
