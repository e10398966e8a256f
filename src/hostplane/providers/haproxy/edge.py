"""The edge as HAProxy in front of Caddy (design c of issue 14), with the surface of CaddyEdge.

Everything per site is in HAProxy's maps and certificate store, changed by their diff through
the runtime API; Caddy behind runs a config that names no site (render_behind), loaded only
when it differs. The desired state is validated whole (host_map, challenge_map) before
anything is sent; HAProxy refuses a malformed command, Caddy a bad config. Confirmations go
through the front, as a visitor's request would: they are CaddyEdge's own, pointed there.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog

from hostplane.providers.base import Outcome, PermanentError, TemporaryError
from hostplane.providers.caddy.behind import render_behind
from hostplane.providers.caddy.edge import CaddyEdge
from hostplane.providers.edge import EdgeSlice, EdgeState
from hostplane.providers.haproxy.certs import RuntimeCertificates
from hostplane.providers.haproxy.hostmap import (
    challenge_host,
    challenge_map,
    diff,
    host_map,
    normal_host,
    route_of,
    slice_diff,
)
from hostplane.providers.haproxy.runtime import RuntimeHostMap

log = structlog.get_logger(__name__)


class HaproxyEdge:
    def __init__(
        self,
        caddy: CaddyEdge,  # the Caddy behind; its confirm_url/https_confirm are the front's
        behind_listen: str,
        hosts: RuntimeHostMap,
        challenges: RuntimeHostMap,
        certificates: RuntimeCertificates | None,
    ) -> None:
        self.caddy, self.behind_listen = caddy, behind_listen
        self.hosts, self.challenges, self.certificates = hosts, challenges, certificates

    def _behind(self, running_admin: Any) -> dict[str, Any]:
        config = render_behind(admin_listen=self.caddy.admin_listen, listen=self.behind_listen)
        if isinstance(running_admin, dict):
            config["admin"] = running_admin
        return config

    def ensure_behind(self) -> Outcome:
        """Caddy runs the config behind the front (and no longer holds the edge's ports,
        as it did when it was the edge itself): loaded only when it differs."""
        current = self.caddy.current()
        desired = self._behind(current.get("admin"))
        if current == desired:
            return Outcome.UNCHANGED
        self.caddy.load(desired)
        return Outcome.UPDATED

    def apply(self, state: EdgeState) -> Outcome:
        """Make the front and Caddy behind serve exactly `state`."""
        routes, challenges = host_map(state), challenge_map(state)  # refused whole if invalid
        outcomes = [self.ensure_behind()]
        outcomes.append(self.hosts.apply(routes))
        outcomes.append(self.challenges.apply(challenges))
        if self.certificates is not None:
            wanted = {normal_host(c.host): c for c in state.certificates}
            for cert in wanted.values():
                outcomes.append(
                    self.certificates.ensure(cert.host, cert.certificate_pem, cert.key_pem)
                )
            for host in self.certificates.observe() - wanted.keys():
                outcomes.append(self.certificates.remove(host))
        changed = [o for o in outcomes if o.changed]
        return Outcome.UPDATED if changed else Outcome.UNCHANGED

    def apply_slice(self, part: EdgeSlice) -> Outcome:
        """Make the front serve `part` for its hosts, reading and changing those alone: a
        `get map` per host, the few commands of their diff, the challenges and certificates
        of those hosts. Caddy behind names no site and is not asked."""
        hosts = {normal_host(h) for h in part.hosts}
        wanted, challenges = host_map(part.state), challenge_map(part.state)
        if not wanted.keys() <= hosts:
            raise ValueError(f"{part.route_id}'s hosts {sorted(wanted)} are not all looked at")
        observed = {h: v for h in sorted(hosts) if (v := self.hosts.get(h)) is not None}
        outcomes = [self.hosts.change(slice_diff(part.route_id, wanted, observed))]
        # A host another route holds now keeps its certificate and challenge too.
        hosts -= {h for h, v in observed.items() if route_of(v) != part.route_id} - wanted.keys()
        answered = self.challenges.observe()  # the challenges being answered: a few at most
        held = {k: v for k, v in answered.items() if challenge_host(k) in hosts}
        outcomes.append(self.challenges.change(diff(challenges, held)))
        if self.certificates is not None:
            certs = {normal_host(c.host): c for c in part.state.certificates}
            for cert in certs.values():
                outcomes.append(
                    self.certificates.ensure(cert.host, cert.certificate_pem, cert.key_pem)
                )
            for host in (self.certificates.observe() & hosts) - certs.keys():
                outcomes.append(self.certificates.remove(host))
        return _combined(outcomes)

    def flush(self) -> None:
        """The map files as the running maps hold them (written in the background otherwise)."""
        self.hosts.flush()
        self.challenges.flush()

    def observe(self) -> list[str]:
        """The route ids the front serves (one `show map`)."""
        return sorted(_route_ids(self.hosts.observe()))

    def in_sync(self, state: EdgeState) -> tuple[bool, frozenset[str]]:
        """Whether the edge serves exactly `state` (one read of each map, of the certificate
        list and of Caddy's config), and the routes it serves."""
        observed = self.hosts.observe()
        current = self.caddy.current()
        same = (
            observed == host_map(state)
            and self.challenges.observe() == challenge_map(state)
            and current == self._behind(current.get("admin"))
        )
        if same and self.certificates is not None:
            same = self.certificates.observe() == {normal_host(c.host) for c in state.certificates}
        return same, frozenset(_route_ids(observed))

    def confirm(self, host: str, route_id: str) -> httpx.Response:
        return self.caddy.confirm(host, route_id)

    def confirm_gone(self, host: str) -> None:
        self.caddy.confirm_gone(host)

    def get(self, host: str, path: str = "/") -> httpx.Response:
        return self.caddy.get(host, path)

    def served_certificate(self, host: str) -> str | None:
        return self.caddy.served_certificate(host)

    def confirm_certificate(self, host: str, fingerprint: str) -> None:
        self.caddy.confirm_certificate(host, fingerprint)

    def close(self) -> None:
        try:
            self.flush()
        except (TemporaryError, PermanentError, OSError) as exc:  # the next start rewrites it
            log.warning("edge.map_file_not_written", error=str(exc))
        self.caddy.close()


def _route_ids(entries: dict[str, str]) -> set[str]:
    return {route_of(value) for value in entries.values()}


def _combined(outcomes: list[Outcome]) -> Outcome:
    """One outcome for several: what they all did, or UPDATED for a mix of changes."""
    changed = {o for o in outcomes if o.changed}
    if not changed:
        return Outcome.UNCHANGED
    return changed.pop() if len(changed) == 1 else Outcome.UPDATED
