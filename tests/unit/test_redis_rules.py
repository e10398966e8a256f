"""The ACL rules of cache users (providers/redis/rules.py), pure, on what Redis 7.0.15 printed
here (tests/unit/fixtures/redis-7.0-acl.json: `ACL CAT` of every category, and `ACL LIST`
after two starts of one instance, whose rule text came back in a different order)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hostplane.errors import ValidationError
from hostplane.providers.redis.rules import (
    ADMIN_USER,
    WantedUser,
    check_prefix,
    check_user,
    drift,
    effective_commands,
    merge_aclfile,
    parse_acl_line,
    parse_acl_list,
    password_hash,
    setuser_args,
    tenant_commands,
    tenant_rule,
)

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "redis-7.0-acl.json").read_text())
CATEGORIES = {name: frozenset(members) for name, members in RECORDED["categories"].items()}
PASSWORD = "user-password-0123456789"  # the recorded tenant's
TENANT = WantedUser("tenant", "p:", password_hash(PASSWORD))

# What no tenant user may run: keyspace-wide, cross-database, server-wide, or unchecked by
# key/channel patterns in 7.0 (see the module's docstring).
FORBIDDEN = {
    "keys",
    "scan",
    "randomkey",
    "dbsize",
    "info",
    "select",
    "swapdb",
    "move",
    "copy",
    "flushdb",
    "flushall",
    "monitor",
    "debug",
    "sort",
    "sort_ro",
    "migrate",
    "restore",
    "dump",
    "restore-asking",
    "fcall",
    "fcall_ro",
    "pfdebug",
    "pfselftest",
    "wait",
    "save",
    "bgsave",
    "bgrewriteaof",
    "shutdown",
    "replicaof",
    "slaveof",
    "sync",
    "psync",
    "failover",
    "lolwut",
    "client|list",
    "client|kill",
    "client|tracking",
    "client|pause",
    "client|no-evict",
    "client|unblock",
    "client|caching",
    "client|getredir",
    "client|trackinginfo",
    "script|flush",
    "script|kill",
    "script|debug",
}
FORBIDDEN_CONTAINERS = (
    "config",
    "acl",
    "memory",
    "object",
    "pubsub",
    "function",
    "slowlog",
    "latency",
    "module",
    "cluster",
)


def recorded_line(run: int, user: str) -> str:
    return next(line for line in RECORDED["acl_list"][run] if line.startswith(f"user {user} "))


def tenant_allowed() -> frozenset[str]:
    return effective_commands(tenant_commands(), CATEGORIES)


def test_the_tenant_rule_is_an_allowlist_from_nothing() -> None:
    rule = tenant_rule("p:")
    assert rule[:5] == ("resetkeys", "~p:*", "resetchannels", "&p:*", "-@all")
    assert "+@all" not in rule and "allcommands" not in rule and "allkeys" not in rule
    wide = {"@read", "@write", "@keyspace", "@connection", "@pubsub", "@scripting", "@admin"}
    assert not {token[1:] for token in rule if token.startswith("+")} & wide


def test_the_tenant_rule_grants_no_forbidden_command() -> None:
    allowed = tenant_allowed()
    assert not allowed & FORBIDDEN
    for container in FORBIDDEN_CONTAINERS:
        assert not {c for c in allowed if c == container or c.startswith(f"{container}|")}
    assert not allowed & (CATEGORIES["admin"] | CATEGORIES["dangerous"])


def test_the_tenant_rule_grants_the_data_commands_clients_use() -> None:
    allowed = tenant_allowed()
    for command in (
        "get",
        "set",
        "mget",
        "incr",
        "hset",
        "hgetall",
        "lpush",
        "blpop",
        "sadd",
        "zadd",
        "xadd",
        "xreadgroup",
        "setbit",
        "pfadd",
        "geoadd",
        "del",
        "expire",
        "ttl",
        "exists",
        "multi",
        "exec",
        "watch",
        "eval",
        "evalsha",
        "script|load",
        "publish",
        "subscribe",
        "psubscribe",
        "hello",
        "auth",
        "ping",
        "client|setname",
        "command|docs",
    ):
        assert command in allowed, command
    assert CATEGORIES["string"] <= allowed and CATEGORIES["hash"] <= allowed


def test_of_keyspace_only_per_key_commands_are_granted() -> None:
    granted = tenant_allowed() & CATEGORIES["keyspace"]
    assert granted == {
        "del",
        "unlink",
        "exists",
        "type",
        "touch",
        "rename",
        "renamenx",
        "expire",
        "pexpire",
        "expireat",
        "pexpireat",
        "expiretime",
        "pexpiretime",
        "ttl",
        "pttl",
        "persist",
    }


def test_acl_list_lines_are_parsed() -> None:
    user = parse_acl_line(recorded_line(0, "tenant"))
    assert (user.name, user.enabled, user.nopass) == ("tenant", True, False)
    assert user.password_hashes == {password_hash(PASSWORD)}
    assert user.keys == ("~p:*",) and user.channels == ("&p:*",) and user.selectors == ()
    selector = parse_acl_line(recorded_line(1, "selector"))
    assert selector.nopass and selector.keys == ("~a*b", "%R~r:*") and selector.channels == ()
    assert selector.selectors == ("(~s:* resetchannels -@all +get)",)
    default = parse_acl_line(recorded_line(1, "default"))
    assert not default.enabled and default.commands == ("-@all",)
    assert set(parse_acl_list(RECORDED["acl_list"][1])) == {
        "default",
        "edited",
        ADMIN_USER,
        "selector",
        "tenant",
        "tenantoff",
    }


def test_the_rule_redis_prints_back_in_any_order_is_as_wanted() -> None:
    first, second = recorded_line(0, "tenant"), recorded_line(1, "tenant")
    assert first != second  # 7.0 prints the rule in hash-table order, new at every start
    for line in (first, second):
        assert drift(parse_acl_line(line), TENANT, CATEGORIES) == ()


def test_drift_names_each_aspect_that_differs() -> None:
    def aspects(run: int, user: str, wanted: WantedUser = TENANT) -> tuple[str, ...]:
        return drift(parse_acl_line(recorded_line(run, user)), wanted, CATEGORIES)

    assert aspects(1, "tenantoff") == ("enabled",)
    assert aspects(1, "tenantoff", WantedUser("tenantoff", "p:", TENANT.password_hash, False)) == ()
    assert aspects(1, "edited") == ("password", "commands")
    assert aspects(0, "tenant", WantedUser("tenant", "q:", TENANT.password_hash)) == (
        "keys",
        "channels",
    )
    assert aspects(1, "selector") == ("password", "keys", "channels", "selectors", "commands")


def test_effective_commands_applies_tokens_left_to_right() -> None:
    assert effective_commands(["+@all", "-@all", "+get"], CATEGORIES) == {"get"}
    assert effective_commands(["-@all", "+client", "-client|kill"], CATEGORIES) == (
        {c for c in CATEGORIES["slow"] if c.startswith("client|")} - {"client|kill"}
    )
    assert "client" not in effective_commands(["+@all"], CATEGORIES)  # containers are no command
    with pytest.raises(ValueError):
        effective_commands(["+@nosuchcategory"], CATEGORIES)


def test_setuser_starts_with_reset_and_carries_the_password_once() -> None:
    args = setuser_args("p:", "s3cret-s3cret-s3cret", enabled=False)
    assert args[:3] == ("reset", "off", ">s3cret-s3cret-s3cret")
    assert sum("s3cret" in a for a in args) == 1


def test_the_aclfile_keeps_tenant_users_and_renders_its_fixed_ones() -> None:
    saved = "\n".join(RECORDED["acl_list"][1]) + "\n"
    merged = merge_aclfile(saved, password_hash("new-admin-password-123")).splitlines()
    assert merged[0] == "user default off resetpass resetkeys resetchannels -@all"
    assert (
        merged[1] == f"user {ADMIN_USER} on #{password_hash('new-admin-password-123')} ~* &* +@all"
    )
    kept = [
        line for line in RECORDED["acl_list"][1] if line.split()[1] not in ("default", ADMIN_USER)
    ]
    assert merged[2:] == kept
    assert merge_aclfile("# not allowed in an aclfile\n\n", "ab").splitlines()[2:] == []


@pytest.mark.parametrize("prefix", ["", "p*", "p?", "p[a]", "p\\", "p :", "~p", "&p", "x" * 65])
def test_a_prefix_that_is_a_pattern_is_refused(prefix: str) -> None:
    with pytest.raises(ValidationError):
        check_prefix(prefix)


@pytest.mark.parametrize("name", ["default", ADMIN_USER, "", "A", "a b", "a>b", "x" * 65])
def test_reserved_or_malformed_user_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        check_user(name)
