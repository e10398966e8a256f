"""Two real control planes (two data directories, so two plane ids) on one MariaDB server,
as when one is reinstalled next to the other: the second's provision of a site the first has
fails at once naming the owner and leaves its database alone, as do the second's destroy, drift
and `reconcile --prune` (issue 12)."""

from __future__ import annotations

import json
import sqlite3
import uuid

from hostplane import naming
from tests.e2e.harness import ControlPlane
from tests.e2e.traces import db_traces


def _plane_id(cp: ControlPlane) -> str:
    with sqlite3.connect(cp.data_dir / "state.sqlite3") as conn:
        return str(conn.execute("SELECT plane_id FROM plane").fetchone()[0])


def test_a_second_plane_neither_takes_nor_prunes_the_first_planes_database(
    mariadb_server, tmp_path
):
    env = {"HOSTPLANE_SITE_DB_URL": mariadb_server.url}
    first = ControlPlane(tmp_path / "first" / "data", extra_env=env).start()
    second = ControlPlane(tmp_path / "second" / "data", extra_env=env)
    name = f"two-{uuid.uuid4().hex[:6]}"
    db = naming.site_database(name)
    try:
        second.start()
        created = first.cli("site", "create", name, "--type", "wordpress", "--wait")
        assert created.returncode == 0, created.stdout + created.stderr

        with second.api() as api:
            posted = api.post("/v1/sites", json={"name": name, "type": "wordpress"})
            assert posted.status_code == 202, posted.text
            op = second.wait_operation(posted.json()["operation"]["id"])
            assert api.get(f"/v1/sites/{name}").json()["status"] == "FAILED"
        # Refused at once, naming the owner; not retried; its undo left the database alone.
        assert op["status"] == "FAILED"
        assert f"database {db}" in op["error"] and _plane_id(first) in op["error"], op["error"]
        database = [
            (s["phase"], s["status"], s["attempt"]) for s in op["steps"] if s["name"] == "database"
        ]
        assert database[0] == ("apply", "failed", 1), op["steps"]
        assert ("undo", "succeeded", 1) in database
        assert db_traces(mariadb_server, name) == ([db], [naming.site_database_user(name)])

        drift = second.cli("drift", "--json")
        assert drift.returncode == 0 and json.loads(drift.stdout) == [], drift.stdout
        pruned = second.cli("reconcile", "--prune", "--json")
        assert pruned.returncode == 0 and json.loads(pruned.stdout) == [], pruned.stdout
        assert db_traces(mariadb_server, name) == ([db], [naming.site_database_user(name)])
        # The first plane's site still reaches its database with its own password.
        assert first.edge_get(f"{name}.localhost:{first.edge_port}").status_code in (200, 302)
        assert second.cli("site", "destroy", name, "--wait").returncode == 0
        assert db_traces(mariadb_server, name) == ([db], [naming.site_database_user(name)])

        assert first.cli("site", "destroy", name, "--wait").returncode == 0
        assert db_traces(mariadb_server, name) == ([], [])
    finally:
        for cp in (first, second):
            cp.stop()
            cp.clean_host()
