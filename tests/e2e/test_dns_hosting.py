"""`hostctl up` with no PowerDNS configured runs its own: a zone made through the provider is
answered on the plane's DNS port, DNS keeps answering while the control plane restarts, and the
restarted plane adopts the same server; `hostctl doctor` checks it (issue 16, item 0)."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import pytest

from hostplane.providers.powerdns import rrsets as r
from hostplane.providers.powerdns.api import PowerDnsApi
from hostplane.providers.powerdns.process import command_line
from hostplane.providers.powerdns.rrsets import Replace
from hostplane.settings import Settings
from tests.e2e.harness import ControlPlane
from tests.services import terminate
from tests.services_pdns import API_KEY


def _plane_id(cp: ControlPlane) -> str:
    with sqlite3.connect(cp.data_dir / "state.sqlite3") as conn:
        return str(conn.execute("SELECT plane_id FROM plane").fetchone()[0])


def _powerdns_of(cp: ControlPlane) -> list[int]:
    """pids of every pdns_server whose config directory is this control plane's."""
    mine = f"--config-dir={cp.dns_dir}"
    argvs = {int(p.name): command_line(int(p.name)) for p in Path("/proc").iterdir()
             if p.name.isdigit()}  # fmt: skip
    return [pid for pid, argv in argvs.items() if argv and mine in argv]


def _a(cp: ControlPlane, name: str) -> set[str]:
    query = dns.message.make_query(name, "A")
    response = dns.query.udp(query, "127.0.0.1", port=cp.dns_port, timeout=3)
    return {rd.to_text() for rs in response.answer if rs.rdtype == dns.rdatatype.A for rd in rs}


def test_up_runs_powerdns_that_answers_zones_made_through_the_provider(tmp_path):
    cp = ControlPlane(tmp_path / "data").start()
    try:
        key = (cp.dns_dir / "api-key").read_text().strip()
        zones = PowerDnsApi(f"http://127.0.0.1:{cp.pdns_api_port}", key, owner=_plane_id(cp))
        defaults = Settings()
        zones.ensure_zone("example.test", defaults.zone_nameservers, defaults.zone_hostmaster, 300)
        www = r.rrset("example.test", "www.example.test", "A", 60, ["192.0.2.80"])
        zones.apply_rrsets("example.test", [Replace(www)])
        assert _a(cp, "www.example.test.") == {"192.0.2.80"}

        doctor = cp.cli("doctor")
        (line,) = [x for x in doctor.stdout.splitlines() if x[5:].startswith("dns:")]
        assert line.startswith("ok") and "example.test. SOA with authority" in line, line

        pid = int((cp.dns_dir / "server.pid").read_text())
        terminate(cp.proc)  # SIGTERM: the control plane stops, its PowerDNS does not
        cp.proc = None
        assert command_line(pid) is not None
        assert _a(cp, "www.example.test.") == {"192.0.2.80"}

        cp.start()
        assert _powerdns_of(cp) == [pid]
        assert "powerdns.adopted" in cp.log_tail(200)
        assert _a(cp, "www.example.test.") == {"192.0.2.80"}
        zones.close()
    finally:
        cp.stop()
        cp.clean_host()


def test_up_refuses_to_start_beside_a_stranger_on_its_dns_port(tmp_path):
    cp = ControlPlane(tmp_path / "data")
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", cp.dns_port))
    try:
        with pytest.raises(RuntimeError, match="hostctl up exited 1") as failed:
            cp.start()
        assert f"127.0.0.1:{cp.dns_port} (DNS (UDP) of Hostplane's PowerDNS) is in use" in str(
            failed.value
        )
        assert not (cp.dns_dir / "server.pid").exists()
        assert stranger.getsockname() == ("127.0.0.1", cp.dns_port)  # left alone
    finally:
        stranger.close()
        cp.stop()
        cp.clean_host()


def test_up_with_an_existing_powerdns_starts_none_and_doctor_checks_that_one(tmp_path, powerdns):
    zone = f"ext{uuid.uuid4().hex[:8]}.test"
    powerdns.zone(zone)
    env = {
        "HOSTPLANE_PDNS_API_URL": f"http://127.0.0.1:{powerdns.api_port}",
        "HOSTPLANE_PDNS_API_KEY": API_KEY,
        "HOSTPLANE_DNS_PORT": str(powerdns.dns_port),
    }
    cp = ControlPlane(tmp_path / "data", extra_env=env).start()
    try:
        assert not (cp.dns_dir / "server.pid").exists()
        assert _powerdns_of(cp) == []
        doctor = cp.cli("doctor")
        (line,) = [x for x in doctor.stdout.splitlines() if x[5:].startswith("dns:")]
        assert line.startswith("ok") and f"127.0.0.1:{powerdns.api_port}" in line, line
    finally:
        cp.stop()
        cp.clean_host()
