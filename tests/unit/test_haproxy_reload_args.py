"""How a running HAProxy's arguments are recognised as ours: as first started, or started by a
reload of an older one of ours; anything else is not ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostplane.providers.haproxy.frontend import FrontendConfig, render_frontend
from hostplane.providers.haproxy.process import started_as_ours

CONFIG, SOCKET = Path("/var/lib/hp/haproxy/haproxy.cfg"), Path("/run/hp/edge/haproxy.sock")
FIRST = ["-db", "-f", str(CONFIG)]
RELOAD = [*FIRST, "-x", str(SOCKET), "-sf", "4242"]


@pytest.mark.parametrize("args", [FIRST, RELOAD])
def test_ours(args: list[str]):
    assert started_as_ours(args, CONFIG, SOCKET)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["-db", "-f", "/etc/haproxy/haproxy.cfg"],
        ["-f", str(CONFIG)],
        [*FIRST, "-f", "/tmp/extra.cfg"],
        [*FIRST, "-x", "/tmp/other.sock", "-sf", "4242"],
        [*FIRST, "-x", str(SOCKET), "-sf", "4242", "-f", "/tmp/extra.cfg"],
        [*FIRST, "-x", str(SOCKET), "-sf", "me"],
        [*FIRST, "-x", str(SOCKET), "-st", "4242"],
        [*FIRST, "-x", str(SOCKET)],
    ],
)
def test_not_ours(args: list[str]):
    assert not started_as_ours(args, CONFIG, SOCKET)


def test_the_runtime_socket_passes_the_listeners_on_and_a_drain_is_bounded(tmp_path: Path):
    text = render_frontend(
        FrontendConfig(
            admin_socket=SOCKET,
            map_path=tmp_path / "hosts.map",
            http_listen="127.0.0.1:18080",
            behind="/run/behind.sock",
            not_found_file=tmp_path / "nf",
            maintenance_file=tmp_path / "m",
            suspended_file=tmp_path / "s",
            denied_file=tmp_path / "d",
        )
    )
    assert f"stats socket {SOCKET} mode 600 level admin expose-fd listeners\n" in text
    assert "\n  hard-stop-after 30s\n" in text
