"""The state store on SQLite and PostgreSQL: transitions, events, concurrency, constraints."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from hostplane.errors import ConflictError, IllegalTransitionError, StaleWriteError
from hostplane.kernel.lifecycle import OperationStatus
from hostplane.kernel.store.tables import OperationRow, StatusEventRow
from hostplane.kernel.store.uow import Store
from hostplane.kernel.transition import transition
from hostplane.kinds.site.model import LIFECYCLE as SITE
from hostplane.kinds.site.repo import sites
from hostplane.kinds.site.table import SiteRow


def _site(uow, name="shop", status="CREATED"):
    row = sites(uow).add(SiteRow(name=name, type="static", runtime="local", status=status))
    uow.flush()
    return row


def _op(site, *, active=True, key=None):
    return OperationRow(
        kind="provision",
        target_kind="site",
        target_name=site.name,
        target_id=site.id,
        status=OperationStatus.PENDING,
        active_target=f"site:{site.name}" if active else None,
        idempotency_key=key,
        actor="test",
    )


def test_migrations_create_every_table(store):
    names = set(sa.inspect(store.engine).get_table_names())
    assert {
        "sites",
        "domains",
        "nodes",
        "operations",
        "operation_steps",
        "status_events",
        "audit_events",
        "secrets",
        "reconcile_runs",
        "workers",
        "plane",
        "alembic_version",
    } <= names


def test_only_the_newest_reconcile_runs_are_kept(store):
    from datetime import timedelta

    from hostplane.kernel.store.tables import ReconcileRunRow
    from hostplane.kernel.store.types import utcnow

    now = utcnow()
    with store.unit_of_work() as uow:
        for i in range(5):
            uow.reconcile_runs.add(
                ReconcileRunRow(id=f"run{i}", trigger="schedule", started_at=now + timedelta(i))
            )
    with store.unit_of_work() as uow:
        assert uow.reconcile_runs.keep_newest(2) == 3
    with store.unit_of_work() as uow:
        assert uow.reconcile_runs.latest().id == "run4"
        assert uow.reconcile_runs.get("run2") is None and uow.reconcile_runs.get("run3")


def test_transition_writes_status_and_event_in_one_transaction(store):
    with store.unit_of_work() as uow:
        site = _site(uow)
    with store.unit_of_work() as uow:
        row = sites(uow).get(site.id)
        transition(uow, SITE, row, "PROVISIONING", reason="go", actor="alice", operation_id="op1")
    with store.unit_of_work() as uow:
        assert sites(uow).get(site.id).status == "PROVISIONING"
        (event,) = uow.events.recent("site", site.id)
        assert (
            event.from_status,
            event.to_status,
            event.reason,
            event.actor,
            event.operation_id,
        ) == ("CREATED", "PROVISIONING", "go", "alice", "op1")


def test_illegal_transition_changes_nothing(store):
    with store.unit_of_work() as uow:
        site = _site(uow)
    with pytest.raises(IllegalTransitionError), store.unit_of_work() as uow:
        transition(uow, SITE, sites(uow).get(site.id), "ACTIVE", reason="skip", actor="a")
    with store.unit_of_work() as uow:
        assert sites(uow).get(site.id).status == "CREATED"
        assert uow.events.recent("site", site.id) == []


def test_a_stale_write_fails_and_never_overwrites(store):
    with store.unit_of_work() as uow:
        site = _site(uow)
    with pytest.raises(StaleWriteError), store.unit_of_work() as first:
        stale = sites(first).get(site.id)
        with store.unit_of_work() as second:
            transition(
                second,
                SITE,
                sites(second).get(site.id),
                "PROVISIONING",
                reason="second",
                actor="b",
            )
        transition(first, SITE, stale, "PROVISIONING", reason="first", actor="a")
    with store.unit_of_work() as uow:
        row = sites(uow).get(site.id)
        assert row.status == "PROVISIONING" and row.version == 2
        assert [e.reason for e in uow.events.recent("site", site.id)] == ["second"]


def test_concurrent_writers_one_wins(store):
    with store.unit_of_work() as uow:
        site = _site(uow)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def writer(name: str) -> None:
        try:
            with store.unit_of_work() as uow:
                row = sites(uow).get(site.id)
                barrier.wait()
                transition(uow, SITE, row, "PROVISIONING", reason=name, actor=name)
            results.append("ok")
        except (StaleWriteError, sa.exc.OperationalError):
            results.append("stale")

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "stale"]
    with store.unit_of_work() as uow:
        assert len(uow.events.recent("site", site.id)) == 1


def test_one_live_site_per_name_but_destroyed_names_are_reusable(store):
    with store.unit_of_work() as uow:
        _site(uow, "blog", status="DESTROYED")
        _site(uow, "blog")
    with pytest.raises(ConflictError), store.unit_of_work() as uow:
        _site(uow, "blog")


def test_one_active_operation_per_target(store):
    with store.unit_of_work() as uow:
        site = _site(uow)
        first = uow.operations.add(_op(site))
    with pytest.raises(ConflictError), store.unit_of_work() as uow:
        uow.operations.add(_op(site))
    with store.unit_of_work() as uow:
        uow.operations.finish(uow.operations.get(first.id), OperationStatus.SUCCEEDED, None)
    with store.unit_of_work() as uow:
        uow.operations.add(_op(site))


def test_idempotency_keys_are_unique(store):
    with store.unit_of_work() as uow:
        site = _site(uow)
        uow.operations.add(_op(site, active=False, key="k1"))
    with pytest.raises(ConflictError), store.unit_of_work() as uow:
        uow.operations.add(_op(site, active=False, key="k1"))
    with store.unit_of_work() as uow:
        assert uow.operations.by_idempotency_key("k1").target_id == site.id


def test_site_pages_are_keyset_ordered(store):
    with store.unit_of_work() as uow:
        for i in range(7):
            _site(uow, f"s{i}")
        _site(uow, "gone", status="DESTROYED")
    with store.unit_of_work() as uow:
        first = [s.name for s in sites(uow).page(status=None, after=None, limit=3)]
        second = [s.name for s in sites(uow).page(status=None, after=first[-1], limit=10)]
        destroyed = [s.name for s in sites(uow).page(status="DESTROYED", after=None, limit=10)]
    assert first + second == [f"s{i}" for i in range(7)]
    assert destroyed == ["gone"]


def test_timestamps_are_utc_aware(store):
    with store.unit_of_work() as uow:
        site = _site(uow)
        uow.events.append(
            StatusEventRow(
                resource_kind="site",
                resource_id=site.id,
                resource_name="shop",
                to_status="CREATED",
                reason="r",
                actor="a",
            )
        )
    with store.unit_of_work() as uow:
        row = sites(uow).get(site.id)
        assert row.created_at.utcoffset().total_seconds() == 0


def test_the_plane_id_is_made_once_and_kept(store):
    first = store.plane_id()
    assert first.startswith("hp") and len(first) == 14
    assert not store.plane().predates_marks
    again = Store(store.engine)  # another process on the same state database
    assert again.plane_id() == first


def test_a_store_that_worked_before_plane_ids_is_marked_so(store):
    with store.unit_of_work() as uow:
        site = _site(uow)
        uow.operations.add(_op(site))
    assert store.plane().predates_marks
