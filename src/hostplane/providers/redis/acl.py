"""A cache's ACL users, managed as the instance's admin user over its socket.

Every change is saved to the instance's aclfile (`ACL SAVE`) before it is reported, so a
restart keeps it. `ensure_user` compares the user on the server with the wanted one first
(`rules.drift`: flags, password hash, key and channel patterns, the commands the rule allows)
and changes nothing when they agree. Passwords go only into `ACL SETUSER` over the socket;
they are never logged, and scrubbed from any error Redis sends back.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

import redis
import structlog

from hostplane.errors import NotFoundError, PermanentError, ValidationError
from hostplane.providers.base import Outcome
from hostplane.providers.redis import client
from hostplane.providers.redis.instances import RedisInstances
from hostplane.providers.redis.rules import (
    RESERVED_USERS,
    AclUser,
    WantedUser,
    check_prefix,
    check_user,
    drift,
    parse_acl_list,
    password_hash,
    setuser_args,
)

log = structlog.get_logger(__name__)

MIN_PASSWORD = 16


def generate_password() -> str:
    return secrets.token_urlsafe(24)


class RedisAcl:
    def __init__(self, instances: RedisInstances) -> None:
        self.instances = instances

    def ensure_user(
        self, instance: str, name: str, password: str, key_prefix: str, *, enabled: bool = True
    ) -> Outcome:
        """The user `name`, allowed only keys and channels under `key_prefix`, with this
        password, on or off. A changed password or a switch to off cuts its connections."""
        check_user(name)
        check_prefix(key_prefix)
        if len(password) < MIN_PASSWORD:
            raise ValidationError(f"a cache user's password has at least {MIN_PASSWORD} characters")
        wanted = WantedUser(name, key_prefix, password_hash(password), enabled)
        with self.instances.admin(instance, f"ACL user {name}") as admin:
            current = _users(admin).get(name)
            differences = drift(current, wanted, client.categories(admin)) if current else ()
            if current is not None and not differences:
                return Outcome.UNCHANGED
            try:
                _setuser(admin, name, *setuser_args(key_prefix, password, enabled))
            except redis.ResponseError as exc:
                raise PermanentError(
                    f"ACL SETUSER {name} was refused", detail=str(exc).replace(password, "***")
                ) from None
            killed = 0
            if current is not None and ("password" in differences or not enabled):
                killed = admin.client_kill_filter(user=name)
            admin.acl_save()
        outcome = Outcome.UPDATED if current is not None else Outcome.CREATED
        log.info(
            "redis.acl.user_ensured",
            instance=instance,
            user=name,
            key_prefix=key_prefix,
            enabled=enabled,
            outcome=str(outcome),
            differences=list(differences),
            connections_cut=killed,
        )
        return outcome

    def set_enabled(self, instance: str, name: str, on: bool) -> Outcome:
        """Suspension: `ACL SETUSER name off` and its open connections cut (Redis 7.0 leaves
        them working otherwise); `on` lets it log in again."""
        check_user(name)
        with self.instances.admin(instance, f"ACL user {name} {'on' if on else 'off'}") as admin:
            current = _users(admin).get(name)
            if current is None:
                raise NotFoundError(f"cache {instance} has no user {name}")
            changed = current.enabled != on
            if changed:
                _setuser(admin, name, "on" if on else "off")
            killed = 0 if on else admin.client_kill_filter(user=name)
            if changed:
                admin.acl_save()
        outcome = Outcome.UPDATED if changed or killed else Outcome.UNCHANGED
        log.info(
            "redis.acl.user_enabled" if on else "redis.acl.user_disabled",
            instance=instance,
            user=name,
            outcome=str(outcome),
            connections_cut=killed,
        )
        return outcome

    def remove_user(self, instance: str, name: str) -> Outcome:
        """`ACL DELUSER` (which also cuts the user's connections), saved."""
        check_user(name)
        with self.instances.admin(instance, f"remove ACL user {name}") as admin:
            deleted = int(admin.acl_deluser(name))
            if deleted:
                admin.acl_save()
        outcome = Outcome.DELETED if deleted else Outcome.ABSENT
        log.info("redis.acl.user_removed", instance=instance, user=name, outcome=str(outcome))
        return outcome

    def check_login(self, instance: str, name: str, password: str) -> None:
        """A user logs in with its password over the instance's socket and is answered
        (invariant 6: what `ensure_user` made is usable); PermanentError when refused."""
        check_user(name)
        socket = self.instances.socket(instance)
        with client.session(socket, name, password, f"login as {name}") as conn:
            if not conn.ping():
                raise PermanentError(f"cache {instance} did not answer {name}'s PING")

    def users(self, instance: str) -> dict[str, AclUser]:
        """Every user on the instance (`default` and the admin included), from `ACL LIST`."""
        with self.instances.admin(instance, "ACL LIST") as admin:
            return _users(admin)

    def compare(self, instance: str, wanted: Iterable[WantedUser]) -> dict[str, tuple[str, ...]]:
        """For the reconciler, in one `ACL LIST`: each user that is not as wanted, with what
        differs ("missing", or the aspects of `rules.drift`), and ("unexpected",) for a tenant
        user nobody wants. Users that are as wanted are not in the answer."""
        with self.instances.admin(instance, "ACL LIST") as admin:
            present = _users(admin)
            categories = client.categories(admin)
        report: dict[str, tuple[str, ...]] = {}
        wanted_names = set()
        for user in wanted:
            wanted_names.add(user.name)
            current = present.get(user.name)
            differences = drift(current, user, categories) if current else ("missing",)
            if differences:
                report[user.name] = differences
        for name in present.keys() - wanted_names - RESERVED_USERS:
            report[name] = ("unexpected",)
        return report


def _users(admin: redis.Redis) -> dict[str, AclUser]:
    return parse_acl_list(str(line) for line in admin.acl_list())


def _setuser(admin: redis.Redis, name: str, *rules: str) -> Any:
    return admin.execute_command("ACL", "SETUSER", name, *rules)  # type: ignore[no-untyped-call]
