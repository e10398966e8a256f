"""A cache's ACL users (providers/redis/acl.py) on a real redis-server: idempotent across
restarts, put back when edited by hand, suspended with their connections cut, saved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from hostplane.errors import NotFoundError, PermanentError, ValidationError
from hostplane.providers.base import Outcome
from hostplane.providers.redis import client
from hostplane.providers.redis.rules import (
    WantedUser,
    effective_commands,
    password_hash,
    tenant_commands,
)
from tests.fixtures_redis import Caches, connect, kill
from tests.unit.test_redis_rules import FORBIDDEN

PASSWORD = "app-password-0123456789"
OTHER_PASSWORD = "other-password-0123456789"


@pytest.fixture
def cache(caches: Caches, tenant_users) -> Iterator[Caches]:
    caches.instances.ensure(caches.spec("acl", tenant_users[0]))
    with caches.admin("acl") as admin:
        admin.set("other:secret", "not yours")
    yield caches


def app(caches: Caches, password: str = PASSWORD) -> redis.Redis:
    return connect(caches.socket("acl"), "app", password)


def cut(connection: redis.Redis) -> bool:
    """True when the server closed this (already authenticated) connection."""
    try:
        connection.ping()
    except redis.ConnectionError:
        return True
    return False


def test_ensure_user_is_idempotent_across_restarts(cache: Caches) -> None:
    acl = cache.acl
    assert acl.ensure_user("acl", "app", PASSWORD, "app:") is Outcome.CREATED
    assert acl.ensure_user("acl", "app", PASSWORD, "app:") is Outcome.UNCHANGED
    printed = acl.users("acl")["app"].commands
    for _ in range(2):  # 7.0 prints the rule in a new order after each start
        kill(cache.pid("acl"))
        assert cache.instances.watch_once() == ["acl"]
        assert acl.ensure_user("acl", "app", PASSWORD, "app:") is Outcome.UNCHANGED
        if acl.users("acl")["app"].commands != printed:
            break
    else:
        pytest.fail("the rule came back in the same order every time: the test proved nothing")
    wanted = [WantedUser("app", "app:", password_hash(PASSWORD))]
    assert acl.compare("acl", wanted) == {}


def test_a_user_edited_by_hand_is_put_back(cache: Caches) -> None:
    acl = cache.acl
    acl.ensure_user("acl", "app", PASSWORD, "app:")
    session = app(cache)
    with cache.admin("acl") as admin:
        admin.execute_command("ACL", "SETUSER", "app", "allkeys", "+@all")
    assert session.get("other:secret") == "not yours"  # the edit took effect
    wanted = [WantedUser("app", "app:", password_hash(PASSWORD))]
    assert acl.compare("acl", wanted) == {"app": ("keys", "commands")}
    assert acl.ensure_user("acl", "app", PASSWORD, "app:") is Outcome.UPDATED
    assert acl.compare("acl", wanted) == {}
    with pytest.raises(redis.exceptions.NoPermissionError):
        session.get("other:secret")  # the same connection: the rule applies at once
    session.close()


def test_a_suspended_user_is_refused_and_its_open_connection_is_cut(cache: Caches) -> None:
    acl = cache.acl
    acl.ensure_user("acl", "app", PASSWORD, "app:")
    session = app(cache)
    assert session.set("app:k", "v")
    assert acl.set_enabled("acl", "app", False) is Outcome.UPDATED
    assert cut(session)
    with pytest.raises(redis.AuthenticationError):
        app(cache).ping()
    assert acl.set_enabled("acl", "app", False) is Outcome.UNCHANGED
    assert acl.ensure_user("acl", "app", PASSWORD, "app:", enabled=False) is Outcome.UNCHANGED
    assert acl.set_enabled("acl", "app", True) is Outcome.UPDATED
    with app(cache) as again:
        assert again.get("app:k") == "v"
    with pytest.raises(NotFoundError):
        acl.set_enabled("acl", "nobody", False)


def test_a_suspension_survives_a_restart(cache: Caches) -> None:
    cache.acl.ensure_user("acl", "app", PASSWORD, "app:")
    cache.acl.set_enabled("acl", "app", False)
    kill(cache.pid("acl"))
    assert cache.instances.watch_once() == ["acl"]
    assert not cache.acl.users("acl")["app"].enabled
    with pytest.raises(redis.AuthenticationError):
        app(cache).ping()


def test_a_new_password_cuts_the_sessions_of_the_old_one(cache: Caches) -> None:
    acl = cache.acl
    acl.ensure_user("acl", "app", PASSWORD, "app:")
    old = app(cache)
    assert old.ping()
    assert acl.ensure_user("acl", "app", OTHER_PASSWORD, "app:") is Outcome.UPDATED
    assert cut(old)
    with pytest.raises(redis.AuthenticationError):
        app(cache).ping()
    with app(cache, OTHER_PASSWORD) as new:
        assert new.ping()


def test_remove_user_cuts_its_connections(cache: Caches) -> None:
    acl = cache.acl
    acl.ensure_user("acl", "app", PASSWORD, "app:")
    session = app(cache)
    assert session.ping()
    assert acl.remove_user("acl", "app") is Outcome.DELETED
    assert cut(session)
    assert acl.remove_user("acl", "app") is Outcome.ABSENT
    assert "app" not in acl.users("acl")
    kill(cache.pid("acl"))  # and the removal was saved
    cache.instances.watch_once()
    assert "app" not in acl.users("acl")


def test_compare_reports_missing_and_unexpected_users(cache: Caches) -> None:
    acl = cache.acl
    acl.ensure_user("acl", "app", PASSWORD, "app:")
    with cache.admin("acl") as admin:
        admin.execute_command("ACL", "SETUSER", "byhand", "on", ">whatever-long-password")
    wanted = [
        WantedUser("app", "app:", password_hash(PASSWORD)),
        WantedUser("later", "later:", password_hash(PASSWORD)),
    ]
    assert acl.compare("acl", wanted) == {"later": ("missing",), "byhand": ("unexpected",)}


def test_the_rule_on_the_live_server_grants_nothing_forbidden(cache: Caches) -> None:
    with cache.admin("acl") as admin:
        categories = client.categories(admin)
    allowed = effective_commands(tenant_commands(), categories)
    assert not allowed & FORBIDDEN
    assert not allowed & (categories["admin"] | categories["dangerous"])
    assert {"get", "set", "hset", "eval", "subscribe"} <= allowed


@pytest.mark.parametrize(
    ("name", "prefix", "password"),
    [
        ("default", "x:", PASSWORD),
        ("hostplane", "x:", PASSWORD),
        ("app", "*", PASSWORD),
        ("app", "x:", "short"),
    ],
)
def test_reserved_names_patterns_and_weak_passwords_are_refused(
    cache: Caches, name: str, prefix: str, password: str
) -> None:
    with pytest.raises(ValidationError):
        cache.acl.ensure_user("acl", name, password, prefix)
    assert set(cache.acl.users("acl")) == {"default", "hostplane"}
    with pytest.raises(ValidationError):
        cache.acl.remove_user("acl", "hostplane")


def test_check_login_proves_a_user_can_log_in_and_refuses_otherwise(cache: Caches) -> None:
    acl = cache.acl
    acl.ensure_user("acl", "app", PASSWORD, "app:")
    acl.check_login("acl", "app", PASSWORD)
    with pytest.raises(PermanentError, match="app was refused"):
        acl.check_login("acl", "app", OTHER_PASSWORD)
    acl.set_enabled("acl", "app", False)
    with pytest.raises(PermanentError, match="app was refused"):
        acl.check_login("acl", "app", PASSWORD)
    with pytest.raises(NotFoundError):
        acl.check_login("nosuch", "app", PASSWORD)
