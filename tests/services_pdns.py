"""A private PowerDNS Authoritative server (gsqlite3 backend, HTTP API) on loopback, for DNS
validation tests: zones and records are set through its API (RECIPES §7)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.services import ServiceError, free_port, terminate

SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
API_KEY = "hostplane-test-key"


class PrivatePowerDNS:
    def __init__(self) -> None:
        if shutil.which("pdns_server") is None or not SCHEMA.exists():
            raise ServiceError(
                "PowerDNS not found: run `make test` (packages pdns-server pdns-backend-sqlite3)"
            )
        self.root = Path(tempfile.mkdtemp(prefix="hostplane-test-pdns-"))
        self.dns_port = free_port()
        self.api_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def resolver(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1/servers/localhost"

    def start(self) -> PrivatePowerDNS:
        db = self.root / "pdns.sqlite3"
        with sqlite3.connect(db) as conn:
            conn.executescript(SCHEMA.read_text())
        (self.root / "pdns.conf").write_text(
            "\n".join(
                [
                    "launch=gsqlite3",
                    f"gsqlite3-database={db}",
                    "local-address=127.0.0.1",
                    f"local-port={self.dns_port}",
                    "api=yes",
                    f"api-key={API_KEY}",
                    "webserver=yes",
                    "webserver-address=127.0.0.1",
                    f"webserver-port={self.api_port}",
                    "webserver-allow-from=127.0.0.0/8",
                    f"socket-dir={self.root}",
                    "guardian=no",
                    "daemon=no",
                    "disable-syslog=yes",
                    "security-poll-suffix=",
                    "",
                ]
            )
        )
        log = (self.root / "pdns.log").open("ab")
        self.proc = subprocess.Popen(
            ["pdns_server", f"--config-dir={self.root}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(self.api, headers={"X-API-Key": API_KEY}, timeout=1).is_success:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "pdns.log").read_text()[-1500:]
                self.stop()
                raise ServiceError(f"private PowerDNS did not start:\n{tail}")
            time.sleep(0.05)

    def _call(self, method: str, path: str, body: dict[str, Any]) -> None:
        r = httpx.request(
            method, f"{self.api}{path}", json=body, headers={"X-API-Key": API_KEY}, timeout=10
        )
        if not r.is_success:
            raise ServiceError(f"PowerDNS {method} {path}: {r.status_code} {r.text}")

    def zone(self, name: str) -> None:
        zone = name.rstrip(".") + "."
        self._call(
            "POST",
            "/zones",
            {
                "name": zone,
                "kind": "Native",
                "nameservers": [],
                "rrsets": [
                    {
                        "name": zone,
                        "type": "SOA",
                        "ttl": 60,
                        "records": [
                            {
                                "content": f"ns1.{zone} hostmaster.{zone} 1 10800 3600 604800 60",
                                "disabled": False,
                            }
                        ],
                    },
                    {
                        "name": zone,
                        "type": "NS",
                        "ttl": 60,
                        "records": [{"content": f"ns1.{zone}", "disabled": False}],
                    },
                ],
            },
        )

    def records(self, zone: str, name: str, rtype: str, contents: list[str]) -> None:
        """Replace the rrset (an empty list deletes it)."""
        rrset: dict[str, Any] = {"name": name.rstrip(".") + ".", "type": rtype, "ttl": 1}
        if contents:
            rrset |= {
                "changetype": "REPLACE",
                "records": [{"content": c, "disabled": False} for c in contents],
            }
        else:
            rrset |= {"changetype": "DELETE"}
        self._call("PATCH", f"/zones/{zone.rstrip('.')}.", {"rrsets": [rrset]})

    def stop(self) -> None:
        terminate(self.proc, timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
