"""A cache instance's generated configuration and its mark (providers/redis/config.py), pure."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hostplane.errors import ValidationError
from hostplane.providers.redis.config import (
    InstancePaths,
    InstanceSpec,
    config_value,
    read_mark,
    render,
)

BASE = Path("/var/lib/hostplane/redis")
SPEC = InstanceSpec(
    name="shop-cache",
    user="t-shop",
    group="t-shop",
    socket=Path("/srv/tenants/shop/run/shop-cache.sock"),
    maxmemory_mb=64,
    maxmemory_policy="allkeys-lru",
    persistence="aof",
)


def rendered(spec: InstanceSpec = SPEC, owner: str = "hpabc") -> str:
    return render(spec, InstancePaths.under(BASE, spec.name), owner)


def directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            found.setdefault(key, []).append(value)
    return found


def test_the_config_closes_what_a_tenant_must_not_reach() -> None:
    d = directives(rendered())
    assert d["port"] == ["0"] and d["bind"] == ["127.0.0.1"] and d["protected-mode"] == ["yes"]
    assert d["unixsocket"] == ["/srv/tenants/shop/run/shop-cache.sock"]
    assert d["unixsocketperm"] == ["660"]
    assert d["databases"] == ["1"]
    assert d["aclfile"] == ["/var/lib/hostplane/redis/shop-cache/data/users.acl"]
    assert d["enable-debug-command"] == ["no"] and d["enable-module-command"] == ["no"]
    assert d["enable-protected-configs"] == ["no"]
    assert "loadmodule" not in d and "user" not in d  # users only in the aclfile
    renamed = {value.split()[0] for value in d["rename-command"]}
    assert {"CONFIG", "REPLICAOF", "SLAVEOF", "SYNC", "PSYNC", "MIGRATE"} <= renamed
    assert all(value.endswith('""') for value in d["rename-command"])
    assert d["set-proc-title"] == ["no"] and d["daemonize"] == ["no"]


def test_memory_and_persistence_come_from_the_spec() -> None:
    d = directives(rendered())
    assert d["maxmemory"] == ["64mb"] and d["maxmemory-policy"] == ["allkeys-lru"]
    assert d["appendonly"] == ["yes"] and d["save"] == ['""']
    assert d["dir"] == ["/var/lib/hostplane/redis/shop-cache/data"]
    none = directives(rendered(dataclasses.replace(SPEC, persistence="none", port=16399)))
    assert none["appendonly"] == ["no"] and none["save"] == ['""']
    assert none["port"] == ["16399"] and none["bind"] == ["127.0.0.1"]


def test_the_mark_names_the_plane_and_holds_while_untouched() -> None:
    text = rendered()
    mark = read_mark(text)
    assert mark is not None
    assert (mark.owner, mark.name, mark.user, mark.group) == (
        "hpabc",
        "shop-cache",
        "t-shop",
        "t-shop",
    )
    assert mark.intact
    assert text.splitlines()[0].startswith("# hostplane-redis owner=hpabc ")


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t + "maxmemory 999mb\n",
        lambda t: t.replace("enable-debug-command no", "enable-debug-command yes"),
        lambda t: t.replace("user=t-shop", "user=root"),
        lambda t: t.replace("owner=hpabc", "owner=hpother"),
    ],
)
def test_an_edit_by_hand_breaks_the_mark(edit) -> None:
    mark = read_mark(edit(rendered()))
    assert mark is not None and not mark.intact


@pytest.mark.parametrize(
    "text",
    [
        "",
        "port 0\n",
        "# some comment\nport 0\n",
        "# hostplane-redis\nport 0\n",
        "# hostplane-redis owner=x\n",
    ],
)
def test_a_config_without_a_whole_mark_is_nobodys(text: str) -> None:
    assert read_mark(text) is None


def test_the_digest_differs_by_owner_and_spec() -> None:
    def digest(text: str) -> str:
        mark = read_mark(text)
        assert mark is not None
        return mark.digest

    base = digest(rendered())
    assert digest(rendered(owner="hpother")) != base
    assert digest(rendered(dataclasses.replace(SPEC, maxmemory_mb=65))) != base
    assert digest(rendered(dataclasses.replace(SPEC, user="t-other"))) != base
    assert digest(rendered()) == base


def test_config_value_reads_a_directive() -> None:
    assert config_value(rendered(), "unixsocketperm") == "660"
    assert config_value(rendered(), "nonexistent") is None


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Bad_Name"},
        {"name": "-x"},
        {"user": "Root User"},
        {"socket": Path("relative.sock")},
        {"socket": Path("/tmp/with space.sock")},
        {"socket": Path('/tmp/quote".sock')},
        {"socket": Path("/srv/../etc/x.sock")},
        {"socket": Path("/" + "a" * 120 + ".sock")},
        {"socket_mode": 0o666},  # others could connect
        {"socket_mode": 0o060},  # not even its own user
        {"maxmemory_mb": 0},
        {"maxmemory_policy": "allkeys-everything"},
        {"persistence": "rdb"},
        {"port": 80},
        {"port": 70000},
        {"maxclients": 1},
    ],
)
def test_a_spec_that_could_not_be_rendered_safely_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        dataclasses.replace(SPEC, **change)  # type: ignore[arg-type]


def test_an_owner_that_would_break_the_mark_is_refused() -> None:
    with pytest.raises(ValidationError):
        rendered(owner="hp abc")
