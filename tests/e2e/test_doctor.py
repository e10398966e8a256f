"""`hostctl doctor` against a real control plane: every dependency one line, and a broken
one named with what is wrong (exit 1)."""

from __future__ import annotations

from tests.e2e.harness import ControlPlane, free_port


def test_doctor_says_ok_for_each_dependency_then_names_what_is_broken(mariadb_server, tmp_path):
    cp = ControlPlane(
        tmp_path / "data", extra_env={"HOSTPLANE_SITE_DB_URL": mariadb_server.url}
    ).start()
    try:
        healthy = cp.cli("doctor")
        lines = healthy.stdout.strip().splitlines()
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        names = [line.split(":")[0][5:] for line in lines]
        assert names == [
            "state database",
            "workflow database",
            "api",
            "edge",
            # The HAProxy front (the default with the managed Caddy): each check one line.
            "haproxy binary",
            "haproxy process",
            "haproxy runtime socket",
            "haproxy host map",
            "caddy behind",
            "layout",
            "dns",
            "site databases",
            "site database root",
            "local runtime",
            "docker runtime",
        ]
        assert all(line.startswith(("ok  ", "warn", "skip")) for line in lines), lines
        assert all(line.startswith("ok  ") for line in lines[4:9]), lines[4:9]
        # With the caddy front the HAProxy checks are one line that says why they do not apply
        # (an HAProxy that still runs is not looked at).
        cp.extra_env["HOSTPLANE_EDGE_FRONT"] = "caddy"
        caddy_front = cp.cli("doctor").stdout.strip().splitlines()
        del cp.extra_env["HOSTPLANE_EDGE_FRONT"]
        assert caddy_front[4].startswith(
            "skip haproxy front: Caddy is the edge (HOSTPLANE_EDGE_FRONT=caddy)"
        ), caddy_front
        assert lines[-1].startswith(("ok  ", "warn"))  # no docker site: a warning at most
        # The suite's server lets root in over TCP with no password: said, with the fix.
        (root,) = [line for line in lines if line[5:].startswith("site database root")]
        assert root.startswith("warn") and "any site user can" in root, root

        cp.extra_env["HOSTPLANE_SITE_DB_URL"] = f"mysql://root@127.0.0.1:{free_port()}/"
        broken = cp.cli("doctor")
        assert broken.returncode == 1
        (bad,) = [line for line in broken.stdout.splitlines() if line.startswith("FAIL")]
        assert bad.startswith("FAIL site databases:") and len(bad) < 400
    finally:
        cp.stop()
        cp.clean_host()
