"""Sites' system users on the real /etc/passwd (useradd, usermod, userdel): the owner mark,
and Hostplane's older unmarked users taken only by a plane whose store predates marks."""

from __future__ import annotations

import pwd
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.local import users

HOME = Path("/nonexistent")


@pytest.fixture
def legacy() -> Iterator[tuple[str, str]]:
    """A user as Hostplane made them before marks: `hp-<site>`, no comment."""
    site = f"old-{uuid.uuid4().hex[:6]}"
    user = f"hp-{site}"
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", user], check=True)
    yield site, user
    subprocess.run(["userdel", user], capture_output=True)


def test_a_plane_that_predates_marks_takes_its_old_user_and_marks_it(legacy):
    site, user = legacy
    owner = users.Owner("hpold0000001", predates_marks=True)
    assert users.ensure_user(user, HOME, owner=owner, site=site) is Outcome.UPDATED
    assert pwd.getpwnam(user).pw_gecos == f"hostplane plane=hpold0000001 site={site}"
    assert users.ensure_user(user, HOME, owner=owner, site=site) is Outcome.UNCHANGED
    assert users.remove_user(user, owner=owner, site=site) is Outcome.DELETED
    assert not users.exists(user)


def test_a_newer_plane_refuses_the_old_user_and_never_touches_it(legacy):
    site, user = legacy
    owner = users.Owner("hpnew0000001", predates_marks=False)
    with pytest.raises(PermanentError, match=f"system user {user} already exists and is not"):
        users.ensure_user(user, HOME, owner=owner, site=site)
    assert users.remove_user(user, owner=owner, site=site) is Outcome.ABSENT
    assert users.exists(user) and pwd.getpwnam(user).pw_gecos == ""


def test_another_planes_user_is_named_as_such_and_kept():
    site = f"two-{uuid.uuid4().hex[:6]}"
    user = f"hp-{site}"
    first = users.Owner("hpfirst00001")
    assert users.ensure_user(user, HOME, owner=first, site=site) is Outcome.CREATED
    try:
        second = users.Owner("hpsecond0001", predates_marks=True)
        with pytest.raises(PermanentError, match=r"another Hostplane control plane \(hpfirst"):
            users.ensure_user(user, HOME, owner=second, site=site)
        assert users.remove_user(user, owner=second, site=site) is Outcome.ABSENT
        assert pwd.getpwnam(user).pw_gecos == first.mark(site)
    finally:
        assert users.remove_user(user, owner=first, site=site) is Outcome.DELETED
