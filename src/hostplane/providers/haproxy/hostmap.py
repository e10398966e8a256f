"""The edge's host map: every host the edge serves → what serves it, one line per host. Pure.

HAProxy in front of Caddy looks the request's Host up in this map (O(log n), in memory) and
passes what it found to one fixed Caddy route per upstream kind; a change of one site is a
few `add map`/`set map`/`del map` on HAProxy's runtime API instead of a reload of a config
that holds every site. The map is derived from the edge's desired state alone (the
database), and its file is written whole beside the runtime changes so that a restart loads
the same map.

A value is `route|kind|root|dial|flags`: the route id answered in ROUTE_HEADER, the upstream
kind (static, php, proxy), the webroot and the dial address ("-" when the kind has none), and
flags: `m` maintenance, `s` suspended (maintenance for its tenant's suspension), `g` the
installer paths are denied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hostplane.errors import ValidationError
from hostplane.providers.edge import ACME_CHALLENGE_PATH, SUSPENDED, EdgeRoute, EdgeState
from hostplane.providers.runtime import FastCGI, HTTPProxy, StaticFiles, Upstream

MARKER = "# hostplane edge host map: generated from the database, do not edit"
NONE = "-"
SEPARATOR = "|"
_FIELD = re.compile(r"^[^\s|#]+$")
_SHOWN = re.compile(r"^0x[0-9a-f]+ \S+ \S+$")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")

HostMap = dict[str, str]


@dataclass(frozen=True, slots=True)
class MapChange:
    """One runtime API command: `add` a host, `set` its value, or `del` it."""

    verb: str  # add | set | del
    host: str
    value: str = ""

    def command(self, map_path: str) -> str:
        if self.verb == "del":
            return f"del map {map_path} {self.host}"
        return f"{self.verb} map {map_path} {self.host} {self.value}"


def host_map(state: EdgeState) -> HostMap:
    """host → value for every host of every route. A host on two routes is refused: the
    edge would serve one of them at random."""
    entries: HostMap = {}
    for route in state.routes:
        value = encode(route)
        for host in route.hosts:
            key = normal_host(host)
            if key in entries and entries[key] != value:
                raise ValidationError(f"host {host} is routed twice")
            entries[key] = value
    return entries


def challenge_map(state: EdgeState) -> HostMap:
    """The ACME challenges being answered: `<host>/.well-known/acme-challenge/<token>` (the
    request's host, lower case and without a port, then its path) → the validation to answer."""
    entries: HostMap = {}
    for challenge in state.challenges:
        for field in (challenge.token, challenge.validation):
            if not _FIELD.match(field):
                raise ValidationError(f"ACME challenge of {challenge.host}: {field!r} is malformed")
        key = normal_host(challenge.host) + ACME_CHALLENGE_PATH + challenge.token
        entries[key] = challenge.validation
    return entries


def encode(route: EdgeRoute) -> str:
    kind, root, dial = _upstream(route.upstream)
    flags = ""
    if route.maintenance:
        flags += "s" if route.maintenance_reason == SUSPENDED else "m"
    if route.denied_paths:
        flags += "g"
    fields = [route.route_id, kind, root or NONE, dial or NONE, flags or NONE]
    for field in fields:
        if not _FIELD.match(field):
            raise ValidationError(
                f"edge route {route.route_id}: {field!r} cannot go in the host map "
                "(whitespace, '|' and '#' are not allowed)"
            )
    return SEPARATOR.join(fields)


def _upstream(upstream: Upstream) -> tuple[str, str | None, str | None]:
    if isinstance(upstream, StaticFiles):
        return "static", upstream.root, None
    if isinstance(upstream, FastCGI):
        return "php", upstream.root, upstream.dial
    if isinstance(upstream, HTTPProxy):
        return "proxy", None, upstream.dial
    raise TypeError(f"unknown upstream {upstream!r}")


def normal_host(host: str) -> str:
    key = host.lower().rstrip(".")
    if not _HOST.match(key):
        raise ValidationError(f"{host!r} is not a host the edge can route")
    return key


def render_file(entries: HostMap) -> str:
    """The map file HAProxy loads at start: the marker, then one sorted line per host."""
    lines = [MARKER, *(f"{host} {entries[host]}" for host in sorted(entries))]
    return "\n".join(lines) + "\n"


def render_shown(text: str) -> str:
    """render_file of what `show map` answered, without building the map in between (the
    file follows a running map of any size: this is most of that cost)."""
    lines = [line.split(" ", 1)[1] for line in text.splitlines() if _SHOWN.match(line)]
    lines.sort()  # space sorts before any host's character: the order of render_file's keys
    return "\n".join([MARKER, *lines]) + "\n"


def parse_show_map(text: str) -> HostMap:
    """What `show map <file>` answers: one `<ref> <key> <value>` line per entry."""
    entries: HostMap = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith("0x"):
            entries[parts[1]] = parts[2]
    return entries


def slice_diff(route_id: str, desired: HostMap, observed: HostMap) -> list[MapChange]:
    """The commands that give `route_id` exactly `desired`, where `observed` holds what the
    running map has for the hosts looked at: a host it no longer wants is deleted only while
    it is still its own (another route's entry is that route's to change)."""
    own = {h: v for h, v in observed.items() if route_of(v) == route_id or h in desired}
    return diff(desired, own)


def route_of(value: str) -> str:
    return value.split(SEPARATOR, 1)[0]


def challenge_host(key: str) -> str:
    """The host of a challenge map's key (`<host>/.well-known/acme-challenge/<token>`)."""
    return key.split("/", 1)[0]


def diff(desired: HostMap, observed: HostMap) -> list[MapChange]:
    """The commands that turn `observed` into `desired`: new and changed hosts first, then
    the removed ones, each group sorted (a host moving between sites is one `set`)."""
    changes = [MapChange("add", h, desired[h]) for h in sorted(desired.keys() - observed.keys())]
    changes += [
        MapChange("set", h, desired[h])
        for h in sorted(desired.keys() & observed.keys())
        if desired[h] != observed[h]
    ]
    changes += [MapChange("del", h) for h in sorted(observed.keys() - desired.keys())]
    return changes
