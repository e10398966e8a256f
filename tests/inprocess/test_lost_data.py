"""No site is ever open for anyone to install: an installed WordPress whose database is lost
is lost data (never recreated empty), answered with a maintenance page until it is restored
or reinstalled on purpose; its installer is never served but to the control plane.

Providers are fakes (tests/inprocess/fakes.py): this tier tests the site kind's rules and the
reconciler's actions; tests/e2e test the real edge's route rules."""

from __future__ import annotations

import pytest

from hostplane import naming
from hostplane.errors import ConflictError
from hostplane.kinds.site.model import INSTALLER_PATHS
from hostplane.kinds.site.requests import reinstall_site
from tests.inprocess.helpers import EMAIL, create_site
from tests.inprocess.plane import Plane

HOST, DB = "shop.localhost", naming.site_database("shop")


def _installed(plane: Plane) -> str:
    created = create_site(plane.services, type="wordpress", email=EMAIL)
    assert plane.run(created.submitted) == "SUCCEEDED"
    assert created.admin_password is not None
    return created.admin_password


def _findings(run) -> list[tuple[str, str, str | None]]:
    return [(f["kind"], f["action"], f.get("result")) for f in run.findings]


def test_an_installed_wordpress_never_serves_its_installer_but_to_the_control_plane(plane):
    """Providers are fakes. Once installed, the site's route denies the installer's paths to
    every request but one carrying the control plane's installer key."""
    _installed(plane)
    route = plane.world.edge.route_for(HOST)
    assert route is not None and route.denied_paths == INSTALLER_PATHS
    assert route.installer_key == plane.services.installer.installer_key
    assert not plane.world.edge.reaches_installer(HOST, None)
    assert not plane.world.edge.reaches_installer(HOST, "guessed")
    assert plane.site("shop").installed_at is not None


def test_a_lost_database_is_lost_data_put_in_maintenance_and_never_recreated(plane):
    """Providers are fakes. The database dropped by hand: the reconcile reports it lost,
    puts the site in maintenance (the edge answers 503), creates no database; a second
    reconcile only reports it."""
    _installed(plane)
    plane.world.databases.lose(DB)
    plane.world.journal.clear()

    first = plane.reconcile()
    assert [(k, a) for k, a, _ in _findings(first)] == [("lost", "maintenance")]
    assert "databases.ensure_database" not in plane.world.journal.names()
    assert plane.site("shop").maintenance is not None
    assert plane.world.edge.get(HOST).status_code == 503
    assert ("site.maintenance", "shop", "allowed") in [(a, t, d) for a, t, d in plane.audit()]
    second = plane.reconcile()
    assert [(k, a) for k, a, _ in _findings(second)] == [("lost", "report")]
    assert DB not in plane.world.databases.databases


def test_reinstall_installs_afresh_with_a_new_password_shown_once(plane):
    """Providers are fakes. `site reinstall` of a site in maintenance: an empty database, the
    edge out of maintenance, WordPress installed with a new admin password; the old password
    no longer logs in."""
    old = _installed(plane)
    plane.world.databases.lose(DB)
    plane.reconcile()
    created = reinstall_site(plane.services, name="shop", actor="test")
    assert created.admin_password and created.admin_password != old
    assert plane.run(created.submitted) == "SUCCEEDED"
    site = plane.site("shop")
    assert (site.status, site.maintenance, site.last_error) == ("ACTIVE", None, None)
    assert plane.world.installer.installed[HOST] == created.admin_password
    assert plane.world.edge.get(HOST).status_code != 503
    assert not plane.reconcile().findings


def test_a_site_with_its_data_is_never_reinstalled(plane):
    """Providers are fakes. Reinstall is refused (409) for a site that has its data."""
    _installed(plane)
    with pytest.raises(ConflictError, match="whose data was lost"):
        reinstall_site(plane.services, name="shop", actor="test")


def test_a_restored_database_brings_the_site_back(plane):
    """Providers are fakes. The operator restores the database: the next reconcile serves
    the site again."""
    _installed(plane)
    users = dict(plane.world.databases.users)
    plane.world.databases.lose(DB)
    plane.reconcile()
    plane.world.databases.databases[DB] = naming.site_database_user("shop")
    plane.world.databases.users.update(users)
    plane.world.databases.tables.add(DB)
    run = plane.reconcile()
    assert [(k, a) for k, a, _ in _findings(run)] == [("drifted", "resume")]
    assert plane.site("shop").maintenance is None
    assert plane.world.edge.get(HOST).status_code != 503


def test_a_wordpress_installed_by_its_operator_gets_its_installer_closed(plane):
    """Providers are fakes. A WordPress site made without an admin email keeps its installer
    open for its operator until its database holds tables; then it is closed for good, and a
    lost database from then on is lost data."""
    created = create_site(plane.services, type="wordpress")
    assert plane.run(created.submitted) == "SUCCEEDED"
    assert plane.world.edge.reaches_installer(HOST, None)
    plane.world.databases.tables.add(DB)  # the operator ran the installer
    run = plane.reconcile()
    assert [(k, a) for k, a, _ in _findings(run)] == [("drifted", "close-installer")]
    assert plane.site("shop").installed_at is not None
    assert not plane.world.edge.reaches_installer(HOST, None)
    plane.world.databases.lose(DB)
    assert [k for k, _, _ in _findings(plane.reconcile())] == ["lost"]
