"""Two real control planes (two data directories, so two plane ids) on one MariaDB server,
as when one is reinstalled next to the other: the second refuses the first's site database with
409 naming its owner, and neither its drift nor `reconcile --prune` touches it (issue 12)."""

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
            refused = api.post("/v1/sites", json={"name": name, "type": "wordpress"})
            assert refused.status_code == 409, refused.text
            message = refused.json()["message"]
            assert f"database {db}" in message and _plane_id(first) in message
            assert api.get(f"/v1/sites/{name}").status_code == 404  # nothing was recorded

        drift = second.cli("drift", "--json")
        assert drift.returncode == 0 and json.loads(drift.stdout) == [], drift.stdout
        pruned = second.cli("reconcile", "--prune", "--json")
        assert pruned.returncode == 0 and json.loads(pruned.stdout) == [], pruned.stdout
        assert db_traces(mariadb_server, name) == ([db], [naming.site_database_user(name)])
        assert first.edge_get(f"{name}.localhost:{first.edge_port}").status_code in (200, 302)

        assert first.cli("site", "destroy", name, "--wait").returncode == 0
        assert db_traces(mariadb_server, name) == ([], [])
    finally:
        for cp in (first, second):
            cp.stop()
            cp.clean_host()
