"""A Cloudflare tunnel: the ingress file regenerated whole and cloudflared restarted, and
each domain's DNS route (a proxied CNAME to <tunnel>.cfargotunnel.com) kept through the
official `cloudflare` library."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudflare
import structlog

from hostplane.errors import PermanentError, TemporaryError, ValidationError
from hostplane.providers.base import Outcome
from hostplane.providers.cloudflared.ingress import IngressSettings, check_ingress, render_ingress
from hostplane.providers.fs import atomic_write

log = structlog.get_logger(__name__)

ROUTE_COMMENT = "managed by hostplane: tunnel route"


@dataclass(frozen=True, slots=True)
class TunnelConfig:
    ingress: IngressSettings
    config_path: Path
    cloudflared_binary: str = "cloudflared"
    restart_command: str | None = None  # default: systemctl restart cloudflared


class CloudflareDns:
    """The tunnel's DNS routes in the zones of the Cloudflare account the token reaches."""

    def __init__(self, api_token: str, tunnel_id: str, base_url: str | None = None) -> None:
        self.target = f"{tunnel_id}.cfargotunnel.com"
        self._api = cloudflare.Cloudflare(
            api_token=api_token, base_url=base_url, max_retries=2, timeout=15.0
        )

    def _zone_id(self, hostname: str) -> str:
        labels = hostname.split(".")
        for i in range(len(labels) - 1):
            candidate = ".".join(labels[i:])
            for zone in self._api.zones.list(name=candidate):
                return zone.id
        raise PermanentError(
            f"no zone of the Cloudflare account holds {hostname}: add the zone or use a token "
            "that can see it"
        )

    def _records(self, zone_id: str, hostname: str) -> list[Any]:
        return list(self._api.dns.records.list(zone_id=zone_id, name={"exact": hostname}))

    def ensure(self, hostname: str) -> Outcome:
        try:
            zone_id = self._zone_id(hostname)
            records = self._records(zone_id, hostname)
            for record in records:
                if record.type == "CNAME":
                    if record.content == self.target:
                        return Outcome.UNCHANGED
                    self._api.dns.records.update(
                        str(record.id),
                        zone_id=zone_id,
                        name=hostname,
                        ttl=1,
                        type="CNAME",
                        content=self.target,
                        proxied=True,
                        comment=ROUTE_COMMENT,
                    )
                    return Outcome.UPDATED
            if records:
                kinds = ", ".join(sorted({str(r.type) for r in records}))
                raise PermanentError(
                    f"{hostname} already has {kinds} records in Cloudflare: remove them so the "
                    "tunnel's CNAME can be created"
                )
            self._api.dns.records.create(
                zone_id=zone_id,
                name=hostname,
                ttl=1,
                type="CNAME",
                content=self.target,
                proxied=True,
                comment=ROUTE_COMMENT,
            )
            return Outcome.CREATED
        except cloudflare.APIConnectionError as exc:
            raise TemporaryError("the Cloudflare API did not answer", detail=str(exc)) from exc
        except cloudflare.APIStatusError as exc:
            raise _status_error(exc, f"Cloudflare refused the DNS route for {hostname}") from exc

    def remove(self, hostname: str) -> Outcome:
        """Delete the tunnel's CNAME for `hostname`; records that are not ours stay."""
        try:
            zone_id = self._zone_id(hostname)
            removed = Outcome.ABSENT
            for record in self._records(zone_id, hostname):
                if record.type == "CNAME" and record.content == self.target:
                    self._api.dns.records.delete(str(record.id), zone_id=zone_id)
                    removed = Outcome.DELETED
            return removed
        except cloudflare.APIConnectionError as exc:
            raise TemporaryError("the Cloudflare API did not answer", detail=str(exc)) from exc
        except cloudflare.APIStatusError as exc:
            raise _status_error(exc, f"Cloudflare refused to remove {hostname}'s route") from exc


def _status_error(exc: cloudflare.APIStatusError, message: str) -> Exception:
    detail = f"HTTP {exc.status_code}: {exc.message}"
    if exc.status_code == 429 or exc.status_code >= 500:
        return TemporaryError(message, detail=detail)
    return PermanentError(message, detail=detail)


class CloudflareTunnel:
    def __init__(self, config: TunnelConfig, dns: CloudflareDns | None = None) -> None:
        self.config = config
        self.dns = dns

    @property
    def target(self) -> str:
        """The name a CNAME points at to reach the tunnel."""
        return f"{self.config.ingress.tunnel_id}.cfargotunnel.com"

    def observe(self) -> list[str]:
        """The hostnames the ingress file routes now (empty when there is no file)."""
        try:
            return check_ingress(self.config.config_path.read_text())
        except FileNotFoundError:
            return []

    def in_sync(self, hostnames: Sequence[str]) -> bool:
        """Whether the ingress file is the one rendered from `hostnames` and in force."""
        path = self.config.config_path
        try:
            current = path.read_text()
        except FileNotFoundError:
            return False
        pending = path.with_name(path.name + ".restart-pending")
        return current == render_ingress(self.config.ingress, hostnames) and not pending.exists()

    def apply(self, hostnames: Sequence[str]) -> Outcome:
        """Write the ingress file rendered from `hostnames` if it differs; validate it first,
        then restart cloudflared so that it is in force when this returns."""
        path = self.config.config_path
        desired = render_ingress(self.config.ingress, hostnames)
        try:
            current: str | None = path.read_text()
        except FileNotFoundError:
            current = None
        # Marks a file written but not yet in force: a crash between the write and the
        # restart must not leave cloudflared on the old rules with the file looking done.
        pending = path.with_name(path.name + ".restart-pending")
        if current == desired:
            if pending.exists():
                self._restart()
                pending.unlink()
                return Outcome.UPDATED
            return Outcome.UNCHANGED
        self._validate(desired)
        atomic_write(pending, "", mode=0o640)
        atomic_write(path, desired, mode=0o640)
        self._restart()
        pending.unlink()
        log.info("tunnel.ingress_written", path=str(path), hostnames=len(set(hostnames)))
        return Outcome.CREATED if current is None else Outcome.UPDATED

    def _validate(self, text: str) -> None:
        try:
            check_ingress(text)
        except ValidationError as exc:
            raise PermanentError(
                "the generated ingress file is not valid", detail=str(exc)
            ) from exc
        binary = shutil.which(self.config.cloudflared_binary)
        if binary is None:
            return
        fd, name = tempfile.mkstemp(prefix="ingress-", suffix=".yml")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            result = subprocess.run(
                [binary, "tunnel", "--config", name, "ingress", "validate"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        finally:
            os.unlink(name)
        if result.returncode != 0:
            raise PermanentError(
                "cloudflared refused the generated ingress file",
                detail=(result.stderr or result.stdout).strip()[-500:],
            )

    def _restart(self) -> None:
        command = self.config.restart_command
        if command is None:
            if shutil.which(self.config.cloudflared_binary) is None:
                log.info("tunnel.not_restarted", reason="cloudflared is not installed here")
                return
            command = "systemctl restart cloudflared"
        result = subprocess.run(
            shlex.split(command), capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise TemporaryError(
                f"restarting cloudflared ({command}) failed",
                detail=(result.stderr or result.stdout).strip()[-500:],
            )

    def ensure_route(self, hostname: str) -> Outcome:
        return self.dns.ensure(hostname) if self.dns else Outcome.UNCHANGED

    def remove_route(self, hostname: str) -> Outcome:
        return self.dns.remove(hostname) if self.dns else Outcome.ABSENT
