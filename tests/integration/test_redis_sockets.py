"""Across tenants: each cache instance runs as its tenant's user with a socket of mode 0660
owned by that user and group, so another tenant's processes cannot even open it.

Two system users, one instance each; clients run as each user (setpriv to its uid and gid, no
other groups), with the system's python3 and a password read from stdin, never argv.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.fixtures_redis import Caches, SystemUser

PASSWORD = "tenant-app-password-0123456789"

CLIENT = r"""
import socket, sys
path, user = sys.argv[1], sys.argv[2]
password = sys.stdin.read().strip()
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(path)
except PermissionError:
    print("EACCES")
    sys.exit(0)
f = s.makefile("rb")
def send(*args):
    parts = ["*%d\r\n" % len(args)] + ["$%d\r\n%s\r\n" % (len(a), a) for a in args]
    s.sendall("".join(parts).encode())
    return f.readline().decode().strip()
replies = [send("AUTH", user, password), send("SET", "app:from", user), send("GET", "app:from")]
print(*replies, f.readline().decode().strip())
"""


def run_as(user: SystemUser, socket: Path) -> str:
    ran = subprocess.run(
        [
            "setpriv",
            f"--reuid={user.uid}",
            f"--regid={user.gid}",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            CLIENT,
            str(socket),
            "app",
        ],
        input=PASSWORD,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.strip()


@pytest.fixture
def two_tenants(caches: Caches, tenant_users) -> dict[str, Path]:
    sockets = {}
    for user in tenant_users:
        name = f"cache-{user.name}"
        caches.instances.ensure(caches.spec(name, user))
        caches.acl.ensure_user(name, "app", PASSWORD, "app:")
        sockets[user.name] = caches.socket(name)
    return sockets


def test_each_socket_is_its_tenants_alone(two_tenants: dict[str, Path], tenant_users) -> None:
    for user in tenant_users:
        st = os.stat(two_tenants[user.name])
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
        assert (st.st_uid, st.st_gid) == (user.uid, user.gid)
        parent = stat.S_IMODE(os.stat(two_tenants[user.name].parent).st_mode)
        assert parent & 0o005 == 0o005  # others may reach the socket: only its mode stops them


def test_another_tenant_cannot_open_the_socket(two_tenants: dict[str, Path], tenant_users) -> None:
    first, second = tenant_users
    assert run_as(second, two_tenants[first.name]) == "EACCES"
    assert run_as(first, two_tenants[second.name]) == "EACCES"


def test_a_tenant_reaches_its_own_instance(two_tenants: dict[str, Path], tenant_users) -> None:
    """The control for the test above: the same client, as the right user, gets through."""
    for user in tenant_users:
        assert run_as(user, two_tenants[user.name]) == "+OK +OK $3 app"
