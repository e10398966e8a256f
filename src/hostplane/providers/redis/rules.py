"""Pure: the ACL rules of an instance's users, how Redis prints them back, and how they compare.

A tenant user's rule is an allowlist (never `+@all` minus a list). It starts from nothing
(`reset`: no password, no keys, no channels, no selectors, `-@all`), adds the data-type
categories, takes out of them again whatever is `@admin` or `@dangerous` (in 7.0: `SORT`,
`SORT_RO`, `PFDEBUG`, `PFSELFTEST`; a later version that files a server command under a data
type loses it the same way), then adds named commands one by one. Keys `~<prefix>*` and
channels `&<prefix>*` only. What Redis 7.0.15 does with the rest, checked on this machine:

- Keyspace-wide commands ignore key patterns: `KEYS`, `SCAN`, `RANDOMKEY`, `DBSIZE`, `INFO`,
  `FLUSHDB`, `FLUSHALL` are never granted. `SELECT`, `SWAPDB`, `MOVE`, `COPY` (its `DB`
  option) neither, and the config has one database. `OBJECT`, `DUMP`, `RESTORE`, `MEMORY`
  neither (a crafted `RESTORE` payload is a memory-safety risk).
- `CLIENT TRACKING ... BCAST` with no prefix is not checked against key patterns: it pushes the
  name of every key anyone changes. So of `@connection` only `CLIENT ID|GETNAME|SETNAME|INFO`
  (this connection only), `HELLO`, `AUTH`, `PING`, `ECHO`, `QUIT`, `RESET`, `COMMAND`.
- `PUBSUB CHANNELS|NUMSUB|SHARDCHANNELS` are not checked against channel patterns: of
  `@pubsub` only the (un)subscribe and publish commands, which are.
- Scripts: a command a script runs is checked against the caller's rule, key by key, whether
  or not it was declared in KEYS (`redis.call('get','other')` from `EVAL ... 0` fails), so
  `EVAL`, `EVALSHA` (and `_RO`), `SCRIPT LOAD|EXISTS` are granted. `SCRIPT FLUSH|KILL` touch
  every user's scripts; `FUNCTION` is one namespace for the whole instance (`FUNCTION LIST`
  shows every library's code): neither is granted, nor `FCALL`.
- `SORT ... BY|GET` is refused by 7.0 to a user without access to every key; `SORT` is in
  `@dangerous` and not granted anyway.
- `ACL SETUSER ... off` does not cut the user's open connections (they keep working): a
  suspension also kills them (`CLIENT KILL USER`). `ACL DELUSER` does cut them. A changed
  password does not either: a rotation kills them too.
- `ACL LIST` prints a rule rebuilt from the user's command bitmap, in an order that changes
  with every start (hash-table order): rules are compared by the commands they allow,
  evaluated against the server's own categories, never as text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hostplane.errors import ValidationError

ADMIN_USER = "hostplane"
DEFAULT_USER = "default"
RESERVED_USERS = frozenset({ADMIN_USER, DEFAULT_USER})

DATA_CATEGORIES = (
    "string",
    "hash",
    "list",
    "set",
    "sortedset",
    "stream",
    "bitmap",
    "hyperloglog",
    "geo",
)
SAFETY_NET = ("-@admin", "-@dangerous")
KEY_COMMANDS = (
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
)
CONNECTION_COMMANDS = (
    "ping",
    "echo",
    "hello",
    "auth",
    "quit",
    "reset",
    "client|id",
    "client|getname",
    "client|setname",
    "client|info",
    "command",
)
PUBSUB_COMMANDS = (
    "publish",
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "spublish",
    "ssubscribe",
    "sunsubscribe",
)
SCRIPT_COMMANDS = ("eval", "evalsha", "eval_ro", "evalsha_ro", "script|load", "script|exists")
GRANTED_COMMANDS = KEY_COMMANDS + CONNECTION_COMMANDS + PUBSUB_COMMANDS + SCRIPT_COMMANDS

_USER = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")  # no glob characters


def check_user(name: str) -> str:
    if not _USER.match(name):
        raise ValidationError(f"cache user {name!r}: lowercase letters, digits, '_.-', 1-64")
    if name in RESERVED_USERS:
        raise ValidationError(f"cache user name {name!r} is reserved")
    return name


def check_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise ValidationError(
            f"key prefix {prefix!r}: 1-64 of [A-Za-z0-9_.:/-], no glob characters"
        )
    return prefix


def password_hash(password: str) -> str:
    """How Redis stores a password (`#<sha256 hex>`): compared, never the password itself."""
    return hashlib.sha256(password.encode()).hexdigest()


def tenant_commands() -> tuple[str, ...]:
    return (
        "-@all",
        *(f"+@{category}" for category in DATA_CATEGORIES),
        "+@transaction",
        *SAFETY_NET,
        *(f"+{command}" for command in GRANTED_COMMANDS),
    )


def tenant_rule(key_prefix: str) -> tuple[str, ...]:
    """The selector of a tenant user (no password, no on/off): keys, channels, commands."""
    prefix = check_prefix(key_prefix)
    return ("resetkeys", f"~{prefix}*", "resetchannels", f"&{prefix}*", *tenant_commands())


def setuser_args(key_prefix: str, password: str, enabled: bool) -> tuple[str, ...]:
    """`ACL SETUSER <name>` arguments: `reset` first, so nothing of an earlier rule survives."""
    return ("reset", "on" if enabled else "off", f">{password}", *tenant_rule(key_prefix))


def base_acl_lines(admin_hash: str) -> tuple[str, str]:
    """The aclfile's fixed users: `default` off with no password, and the control plane's."""
    return (
        f"user {DEFAULT_USER} off resetpass resetkeys resetchannels -@all",
        f"user {ADMIN_USER} on #{admin_hash} ~* &* +@all",
    )


def merge_aclfile(existing: str, admin_hash: str) -> str:
    """The aclfile with its fixed users as rendered and every other user line kept as saved.
    Redis refuses comment lines in an aclfile, so the mark is in the config, not here."""
    kept = [
        line
        for line in existing.splitlines()
        if line.startswith("user ") and line.split(" ")[1] not in RESERVED_USERS
    ]
    return "\n".join([*base_acl_lines(admin_hash), *kept]) + "\n"


@dataclass(frozen=True, slots=True)
class AclUser:
    """One line of `ACL LIST`, parsed."""

    name: str
    enabled: bool
    nopass: bool
    password_hashes: frozenset[str]
    keys: tuple[str, ...]
    channels: tuple[str, ...]
    commands: tuple[str, ...]
    selectors: tuple[str, ...]


def _tokens(rule: str) -> list[str]:
    """Split on spaces, keeping a selector `( ... )` in one piece."""
    tokens: list[str] = []
    depth = 0
    for word in rule.split(" "):
        if not word:
            continue
        if depth:
            tokens[-1] += " " + word
        else:
            tokens.append(word)
        depth += word.count("(") - word.count(")")
    return tokens


def parse_acl_line(line: str) -> AclUser:
    head, name, *rest = _tokens(line)
    if head != "user":
        raise ValueError(f"not an ACL LIST line: {line[:40]!r}")
    enabled, nopass = False, False
    hashes: set[str] = set()
    keys: list[str] = []
    channels: list[str] = []
    commands: list[str] = []
    selectors: list[str] = []
    for token in rest:
        if token in ("on", "off"):
            enabled = token == "on"
        elif token == "nopass":
            nopass = True
        elif token.startswith("#"):
            hashes.add(token[1:])
        elif token.startswith(("~", "%")) or token == "allkeys":
            keys.append("~*" if token == "allkeys" else token)
        elif token.startswith("&") or token == "allchannels":
            channels.append("&*" if token == "allchannels" else token)
        elif token == "resetchannels":
            channels.clear()
        elif token.startswith(("+", "-")) or token in ("allcommands", "nocommands"):
            commands.append(token)
        elif token.startswith("("):
            selectors.append(token)
    return AclUser(
        name,
        enabled,
        nopass,
        frozenset(hashes),
        tuple(keys),
        tuple(channels),
        tuple(commands),
        tuple(selectors),
    )


def parse_acl_list(lines: Iterable[str]) -> dict[str, AclUser]:
    users = (parse_acl_line(line) for line in lines)
    return {user.name: user for user in users}


def effective_commands(
    tokens: Iterable[str], categories: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    """The commands (and subcommands, as `container|sub`) a rule allows, left to right as
    Redis applies it, against the server's categories (`ACL CAT <category>` for each)."""
    universe = frozenset().union(*categories.values())
    allowed: set[str] = set()
    for token in tokens:
        if token in ("+@all", "allcommands", "-@all", "nocommands"):
            allowed = set(universe) if token in ("+@all", "allcommands") else set()
            continue
        name = token[1:].lower()
        if name.startswith("@"):
            if name[1:] not in categories:
                raise ValueError(f"unknown ACL category in {token!r}")
            members = categories[name[1:]]
        else:
            members = frozenset({name} | {c for c in universe if c.startswith(f"{name}|")})
        if token.startswith("+"):
            allowed |= members
        else:
            allowed -= members
    containers = {command.partition("|")[0] for command in universe if "|" in command}
    return frozenset(allowed - containers)


@dataclass(frozen=True, slots=True)
class WantedUser:
    """A tenant user as it should be; holds the password's hash only."""

    name: str
    key_prefix: str
    password_hash: str
    enabled: bool = True


def drift(
    actual: AclUser, wanted: WantedUser, categories: Mapping[str, frozenset[str]]
) -> tuple[str, ...]:
    """What differs between a user on the server and as wanted (names of aspects, no values)."""
    prefix = check_prefix(wanted.key_prefix)
    differences = []
    if actual.enabled != wanted.enabled:
        differences.append("enabled")
    if actual.nopass or actual.password_hashes != {wanted.password_hash}:
        differences.append("password")
    if actual.keys != (f"~{prefix}*",):
        differences.append("keys")
    if actual.channels != (f"&{prefix}*",):
        differences.append("channels")
    if actual.selectors:
        differences.append("selectors")
    want = effective_commands(tenant_commands(), categories)
    if effective_commands(actual.commands, categories) != want:
        differences.append("commands")
    return tuple(differences)
