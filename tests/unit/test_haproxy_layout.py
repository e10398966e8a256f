"""The managed HAProxy's files: what a first start needs is made, what is there is kept, and
a crt-list entry whose file is gone is dropped (it would stop the start)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cryptography import x509

from hostplane.providers.haproxy.frontend import FrontendConfig, render_frontend
from hostplane.providers.haproxy.layout import DEFAULT_HOST, FrontLayout


def test_a_first_prepare_makes_empty_maps_bodies_and_a_default_certificate(tmp_path: Path):
    layout = FrontLayout(tmp_path / "haproxy", tmp_path / "run" / "haproxy.sock")
    layout.prepare()
    assert layout.hosts_map.read_text() == layout.challenges_map.read_text() == ""
    assert "no site is configured" in layout.body("not-found").read_text()
    cert = x509.load_pem_x509_certificate(layout.default_cert.read_bytes())
    assert cert.subject.rfc4514_string() == f"CN={DEFAULT_HOST}"
    assert "PRIVATE KEY" in layout.default_cert.read_text()
    assert layout.crt_list.read_text() == f"{layout.default_cert}\n"
    assert (layout.root.stat().st_mode & 0o777) == 0o700


def test_a_later_prepare_keeps_maps_and_certificate_and_drops_stale_crt_list_entries(
    tmp_path: Path,
):
    layout = FrontLayout(tmp_path / "haproxy", tmp_path / "haproxy.sock")
    layout.prepare()
    default = layout.default_cert.read_text()
    layout.hosts_map.write_text("a.test site-a|static|/srv/a|-|-\n")
    kept, gone = layout.cert_dir / "a.test.pem", layout.cert_dir / "b.test.pem"
    kept.write_text("pem")
    layout.crt_list.write_text(f"{kept}\n{gone}\n/elsewhere/c.pem\n")
    layout.prepare()
    assert layout.default_cert.read_text() == default
    assert layout.hosts_map.read_text().startswith("a.test ")
    assert layout.crt_list.read_text().splitlines() == [str(layout.default_cert), str(kept)]


def test_the_front_drops_to_the_edge_user_only_when_told(tmp_path: Path):
    config = FrontendConfig(
        admin_socket=tmp_path / "s",
        map_path=tmp_path / "m",
        http_listen="127.0.0.1:8080",
        behind=str(tmp_path / "behind.sock"),
        not_found_file=tmp_path / "n",
        maintenance_file=tmp_path / "mt",
        suspended_file=tmp_path / "su",
        denied_file=tmp_path / "d",
    )
    assert "  uid " not in render_frontend(config)
    lines = render_frontend(dataclasses.replace(config, uid=999, gid=995))
    glob = lines.split("defaults")[0].splitlines()
    assert "  uid 999" in glob and "  gid 995" in glob
