"""Only the control plane can change the edge: Caddy's admin API is a unix socket in a
directory only root and the edge's user enter, never a TCP port. Site users and `nobody`
cannot reach it, so none of them can PUT a route of their own."""

from __future__ import annotations

import json
import stat
import subprocess

import pytest

from hostplane import naming
from tests.isolation.helpers import Hosted, as_user

ROGUE_ROUTE = json.dumps({"handle": [{"handler": "static_response", "body": "owned"}]})


def _socket(hosted: Hosted):
    return hosted.cp.run_dir / "edge" / "admin.sock"


def test_the_admin_socket_is_the_edge_users_alone(hosted: Hosted):
    sock = _socket(hosted)
    st, parent = sock.lstat(), sock.parent.lstat()
    assert stat.S_ISSOCK(st.st_mode) and st.st_mode & 0o077 == 0, oct(st.st_mode)
    assert stat.S_IMODE(parent.st_mode) == 0o700
    assert parent.st_uid == st.st_uid != 0  # the edge user's, not root's


@pytest.mark.parametrize("who", ["nobody", "site"])
def test_other_users_cannot_reach_the_admin_api(hosted: Hosted, who: str):
    user = "nobody" if who == "nobody" else naming.site_system_user(hosted.php)
    url = "http://x/config/apps/http/servers/hostplane/routes/0"
    for argv in (
        ("curl", "-sS", "--unix-socket", str(_socket(hosted)), "-H", "Host:", "http://x/config/"),
        (
            "curl", "-sS", "--unix-socket", str(_socket(hosted)), "-H", "Host:",
            "-H", "Content-Type: application/json", "-X", "PUT", "-d", ROGUE_ROUTE, url,
        ),
    ):  # fmt: skip
        result = as_user(user, *argv)
        assert result.returncode != 0, result.stdout
        assert "admin" not in result.stdout and result.stdout == "", result.stdout
    assert "owned" not in json.dumps(hosted.cp.caddy_config())
    assert hosted.cp.edge_get("nobody-here.localhost").text != "owned"


def test_root_reaches_it_and_no_tcp_port_is_open_for_it(hosted: Hosted):
    with hosted.cp.caddy_admin() as client:
        assert client.get("/config/").status_code == 200
    cp = hosted.cp
    listening = subprocess.run(
        ["ss", "-Hltnp"], capture_output=True, text=True, check=True
    ).stdout.splitlines()

    def ports(pid: int | None) -> list[int]:
        assert pid is not None
        found = [line for line in listening if f"pid={pid}," in line]
        return sorted(int(line.split()[3].rpartition(":")[2]) for line in found)

    edge_ports = sorted([cp.edge_port, cp.https_port])
    if cp.front == "haproxy":  # Caddy behind it listens on its unix socket alone
        assert ports(cp.edge_pid()) == [], listening
        assert ports(cp.front_pid()) == edge_ports, listening
    else:
        assert ports(cp.edge_pid()) == edge_ports, listening
