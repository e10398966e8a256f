"""A state database made by an earlier release upgrades in place: every row as it was, and the
plane that finds it knows its resources predate plane marks."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from hostplane.kernel.store.db import alembic_config, create_engine, migrate
from hostplane.kernel.store.uow import Store

ROWS = {
    "sites": {
        "id": "s1",
        "name": "blog",
        "type": "wordpress",
        "runtime": "local",
        "status": "ACTIVE",
        "routed": True,
        "version": 3,
        "created_at": "2026-11-01 10:00:00.000000",
        "updated_at": "2026-11-02 10:00:00.000000",
    },
    "domains": {
        "id": "d1",
        "site_id": "s1",
        "name": "www.example.org",
        "status": "ACTIVE",
        "version": 2,
        "created_at": "2026-11-01 11:00:00.000000",
        "updated_at": "2026-11-01 11:00:00.000000",
    },
    "operations": {
        "id": "o1",
        "kind": "provision",
        "target_kind": "site",
        "target_name": "blog",
        "target_id": "s1",
        "status": "SUCCEEDED",
        "options": "{}",
        "actor": "token:abc",
        "created_at": "2026-11-01 10:00:00.000000",
    },
}


LONG = "z-failed-wordpress-site-named-past-32-chars"


def _insert(conn: sa.Connection, table: str, row: dict[str, object]) -> None:
    columns = ", ".join(row)
    values = ", ".join(f":{c}" for c in row)
    conn.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)


def _rows(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every column the previous release had, as stored (new columns may come beside them)."""
    with engine.connect() as conn:
        before = {t: [c["name"] for c in sa.inspect(conn).get_columns(t)] for t in ROWS}
    with engine.connect() as conn:
        return {
            t: list(conn.execute(sa.text(f"SELECT {', '.join(cols)} FROM {t} ORDER BY id")))
            for t, cols in before.items()
        }


def test_a_store_of_the_previous_release_upgrades_with_no_data_change(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    command.upgrade(alembic_config(engine), "0004")  # the schema the previous release made
    with engine.begin() as conn:
        for table, row in ROWS.items():
            _insert(conn, table, row)
    before = _rows(engine)
    columns = {t: len(rows[0]) for t, rows in before.items()}

    migrate(engine)

    after = _rows(engine)
    assert {t: [r[: columns[t]] for r in rows] for t, rows in after.items()} == before
    with engine.connect() as conn:
        heads = {r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
    assert "0004" not in heads
    plane = Store(engine).plane()
    assert plane.predates_marks  # it has worked before: its resources carry no plane id


def test_plans_made_before_the_zone_limit_get_100_zones_and_it_downgrades(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    config = alembic_config(engine)
    command.upgrade(config, "tenant_0001")
    at = {"created_at": "2026-12-03 10:00:00.000000", "updated_at": "2026-12-03 10:00:00.000000"}
    plan = {"id": "p1", "name": "small", "sites": 2, "databases": 1, "caches": 0, "disk_mb": 500}
    tenant = {"id": "t1", "name": "acme", "status": "ACTIVE", "plan_id": "p1", "version": 1}
    with engine.begin() as conn:
        _insert(conn, "plans", plan | {"php_workers": 2} | at)
        _insert(conn, "tenants", tenant | at)

    migrate(engine)

    with engine.connect() as conn:
        zones = dict(conn.execute(sa.text("SELECT name, zones FROM plans ORDER BY name")).all())
        assert zones == {"default": 100, "small": 100}
        assert conn.execute(sa.text("SELECT plan_id FROM tenants")).scalar_one() == "p1"
    command.downgrade(config, "tenant_0001")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("plans")}
        assert "zones" not in columns
        assert conn.execute(sa.text("SELECT count(*) FROM tenants")).scalar_one() == 1


def test_existing_wordpress_sites_get_their_database_counted_and_it_downgrades(state_db_url):
    """Issue 17 item 4: at the previous head a WordPress site's database was no tenant
    database; the upgrade gives every live WordPress site its row, with its site's status
    (and a label as long as a site name: PostgreSQL holds a VARCHAR to its length)."""
    engine = create_engine(state_db_url)
    config = alembic_config(engine)
    command.upgrade(config, "database_0001")
    command.upgrade(config, "site_0002")
    at = {"created_at": "2026-12-03 10:00:00.000000", "updated_at": "2026-12-03 10:00:00.000000"}
    site = {"type": "wordpress", "runtime": "local", "routed": True, "version": 1} | at
    with engine.begin() as conn:
        plan = conn.execute(sa.text("SELECT id FROM plans WHERE name = 'default'")).scalar_one()
        _insert(
            conn,
            "tenants",
            {"id": "t1", "name": "acme", "status": "ACTIVE", "version": 1, "plan_id": plan} | at,
        )
        for sid, name, status, kind in (
            ("s1", "blog", "ACTIVE", "wordpress"),
            ("s2", LONG, "FAILED", "wordpress"),
            ("s3", "page", "ACTIVE", "php"),
            ("s4", "old", "DESTROYED", "wordpress"),
        ):
            _insert(
                conn,
                "sites",
                site | {"id": sid, "name": name, "status": status, "type": kind, "tenant_id": "t1"},
            )
        _insert(
            conn,
            "tenant_databases",
            {
                "id": "d1",
                "tenant_id": "t1",
                "label": "shop",
                "name": "tdb_4_acme_shop",
                "status": "ACTIVE",
                "version": 1,
            }
            | at,
        )

    migrate(engine)

    query = "SELECT name, label, site, status, tenant_id FROM tenant_databases ORDER BY name"
    with engine.connect() as conn:
        assert conn.execute(sa.text(query)).all() == [
            ("tdb_4_acme_shop", "shop", None, "ACTIVE", "t1"),
            ("wp_blog", "blog", "blog", "ACTIVE", "t1"),
            ("wp_" + LONG.replace("-", "_"), LONG, LONG, "FAILED", "t1"),
        ]
        events = conn.execute(
            sa.text(
                "SELECT resource_name, to_status, actor FROM status_events"
                " WHERE resource_kind = 'database' ORDER BY resource_name"
            )
        ).all()
        assert events == [
            ("wp_blog", "ACTIVE", "upgrade"),
            ("wp_" + LONG.replace("-", "_"), "FAILED", "upgrade"),
        ]
    migrate(engine)  # again: nothing more
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tenant_databases")).scalar_one() == 3
    command.downgrade(config, "database_0001")
    with engine.connect() as conn:
        assert "site" not in {c["name"] for c in sa.inspect(conn).get_columns("tenant_databases")}
        assert conn.execute(sa.text("SELECT name FROM tenant_databases")).scalars().all() == [
            "tdb_4_acme_shop"
        ]


def test_plans_made_before_the_cache_memory_limit_get_20480_mb_and_it_downgrades(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    config = alembic_config(engine)
    command.upgrade(config, "tenant_0002")
    at = {"created_at": "2026-12-03 10:00:00.000000", "updated_at": "2026-12-03 10:00:00.000000"}
    plan = {"id": "p1", "name": "small", "sites": 2, "databases": 1, "caches": 0, "disk_mb": 500}
    tenant = {"id": "t1", "name": "acme", "status": "ACTIVE", "plan_id": "p1", "version": 1}
    with engine.begin() as conn:
        _insert(conn, "plans", plan | {"php_workers": 2, "zones": 3} | at)
        _insert(conn, "tenants", tenant | at)

    migrate(engine)

    with engine.connect() as conn:
        query = sa.text("SELECT name, cache_memory_mb FROM plans ORDER BY name")
        assert dict(conn.execute(query).all()) == {"default": 20480, "small": 20480}
        assert conn.execute(sa.text("SELECT zones FROM plans WHERE id = 'p1'")).scalar_one() == 3
    command.downgrade(config, "tenant_0002")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("plans")}
        assert "cache_memory_mb" not in columns and "zones" in columns
        assert conn.execute(sa.text("SELECT count(*) FROM tenants")).scalar_one() == 1


def test_caches_made_before_ports_have_none_and_the_port_index_goes_with_a_downgrade(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    config = alembic_config(engine)
    command.upgrade(config, "cache_0001")
    at = {"created_at": "2026-12-03 10:00:00.000000", "updated_at": "2026-12-03 10:00:00.000000"}
    tenant = {"id": "t1", "name": "acme", "status": "ACTIVE", "version": 1}
    cache = {"tenant_id": "t1", "memory_mb": 8, "persistence": "none", "status": "ACTIVE"}
    with engine.begin() as conn:
        plan = conn.execute(sa.text("SELECT id FROM plans WHERE name = 'default'")).scalar_one()
        _insert(conn, "tenants", tenant | {"plan_id": plan} | at)
        for n in ("a", "b"):
            row = {"id": n, "label": n, "name": f"tc-4-acme-{n}", "version": 1}
            _insert(conn, "tenant_caches", cache | row | at)

    migrate(engine)

    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT port FROM tenant_caches")).scalars().all() == [
            None,
            None,
        ]
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("tenant_caches")}
        assert "uq_tenant_caches_live_port" in indexes
    command.downgrade(config, "cache_0001")
    with engine.connect() as conn:
        assert "port" not in {c["name"] for c in sa.inspect(conn).get_columns("tenant_caches")}
        assert conn.execute(sa.text("SELECT count(*) FROM tenant_caches")).scalar_one() == 2
