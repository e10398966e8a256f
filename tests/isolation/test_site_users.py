"""Sites' system users carry this control plane's mark; a user of the same name that is not
its own is refused and never changed, removed or killed; destroying a site ends its PHP-FPM
master, and deleting its tenant ends every process of the tenant's user, whoever started them,
before the user is removed."""

from __future__ import annotations

import pwd
import sqlite3
import subprocess
import threading
import uuid
from pathlib import Path

from hostplane import naming
from tests.e2e.harness import wait_gone
from tests.isolation.helpers import Hosted, start_as_user


def _plane_id(hosted: Hosted) -> str:
    with sqlite3.connect(hosted.cp.data_dir / "state.sqlite3") as db:
        return str(db.execute("SELECT plane_id FROM plane").fetchone()[0])


def _reaped(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """Its exit is collected at once (by this test, its parent), as an init would."""
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc


def test_site_users_carry_this_planes_mark(hosted: Hosted):
    plane = _plane_id(hosted)
    for site in (hosted.php, hosted.wordpress):
        gecos = pwd.getpwnam(naming.site_system_user(site)).pw_gecos
        # the user of the tenant made for the site, named after it (hp-<site>, as before)
        assert gecos == f"hostplane plane={plane} tenant={site}"


def test_destroy_ends_processes_hostplane_did_not_start_then_removes_the_user(hosted: Hosted):
    cp = hosted.cp
    name = f"gone-{uuid.uuid4().hex[:6]}"
    assert cp.cli("site", "create", name, "--type", "php", "--wait").returncode == 0
    user = naming.site_system_user(name)
    stubborn = _reaped(start_as_user(user, "sh", "-c", "trap '' TERM; exec sleep 600"))
    plain = _reaped(start_as_user(user, "sleep", "600"))
    fpm = cp.run_dir / "php-fpm" / f"{name}.pid"
    master = int(fpm.read_text())
    destroyed = cp.cli("site", "destroy", name, "--wait")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    wait_gone(master, f"the PHP-FPM master {master} of {name}", timeout=1)
    # The user is its tenant's (made for the site, named after it), which destroying the site
    # leaves; deleting the tenant ends every process of the user, then removes it.
    pwd.getpwnam(user)
    deleted = cp.cli("tenant", "delete", name, "--wait")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    for pid in (stubborn.pid, plain.pid):
        wait_gone(pid, f"process {pid} of {user}", timeout=1)
    try:
        pwd.getpwnam(user)
        raise AssertionError(f"{user} still exists")
    except KeyError:
        pass


def test_a_user_of_the_same_name_that_is_not_ours_is_refused_and_left_alone(hosted: Hosted):
    cp = hosted.cp
    name = f"taken-{uuid.uuid4().hex[:6]}"
    user = naming.site_system_user(name)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
        check=True,
    )
    before = pwd.getpwnam(user)
    theirs = _reaped(start_as_user(user, "sleep", "600"))
    try:
        with cp.api() as api:
            op = api.post("/v1/sites", json={"name": name, "type": "php"}).json()["operation"]
        assert cp.wait_operation(op["id"])["status"] == "FAILED"
        with cp.api() as api:
            error = api.get(f"/v1/sites/{name}").json()["last_error"]
        assert f"system user {user} already exists and is not Hostplane's" in error, error
        destroyed = cp.cli("site", "destroy", name, "--wait")
        assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
        assert pwd.getpwnam(user) == before  # neither marked, nor changed, nor removed
        # ... and its processes were not ours to end.
        assert Path(f"/proc/{theirs.pid}/stat").read_text().split(") ")[1][0] in "SR"
    finally:
        theirs.kill()
        theirs.wait()
        subprocess.run(["userdel", user], check=True)
