"""The certificates HAProxy presents, changed through its runtime API without a reload.

One PEM file per host (certificate chain, then key) in a directory of the edge's own, listed
in the crt-list the HTTPS bind loads; at runtime a certificate is created or replaced in a
transaction (`new ssl cert`, `set ssl cert`, `commit ssl cert`) and added to the crt-list
(`add ssl crt-list`), or taken out (`del ssl crt-list`, `del ssl cert`). The files are
written too, so that a restart presents the same. The bind needs one certificate to start
with (a default one of the edge's own): that one is never touched here.
"""

from __future__ import annotations

from pathlib import Path

from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.fs import atomic_write
from hostplane.providers.haproxy.hostmap import normal_host
from hostplane.providers.haproxy.runtime import RuntimeHostMap

SUFFIX = ".pem"
# What the runtime API says when a certificate command did what it was asked.
_DONE = ("Success!", "Transaction created", "New empty certificate store", "deleted")


class RuntimeCertificates:
    def __init__(self, api: RuntimeHostMap, cert_dir: Path, crt_list: Path) -> None:
        self.api, self.cert_dir, self.crt_list = api, cert_dir, crt_list

    def path(self, host: str) -> Path:
        return self.cert_dir / f"{normal_host(host)}{SUFFIX}"

    def observe(self) -> set[str]:
        """The hosts whose certificate the running crt-list holds (one call)."""
        answer = self.api.call(f"show ssl crt-list {self.crt_list}")
        hosts = set()
        for line in answer.splitlines():
            entry = Path(line.split()[0]) if line.strip() and not line.startswith("#") else None
            if entry is not None and entry.parent == self.cert_dir and entry.suffix == SUFFIX:
                hosts.add(entry.name[: -len(SUFFIX)])
        return hosts

    def _run(self, command: str, payload: str | None = None) -> None:
        text = command if payload is None else f"{command} <<\n{payload.rstrip()}\n"
        answer = self.api.call(text)
        if not any(word in answer for word in _DONE):
            raise PermanentError(f"HAProxy refused `{command}`", detail=answer.strip())

    def ensure(self, host: str, certificate_pem: str, key_pem: str) -> Outcome:
        path, pem = self.path(host), certificate_pem.rstrip() + "\n" + key_pem.rstrip() + "\n"
        listed = normal_host(host) in self.observe()
        if listed and path.exists() and path.read_text() == pem:
            return Outcome.UNCHANGED
        if not listed:
            self._run(f"new ssl cert {path}")
        self._run(f"set ssl cert {path}", pem)
        self._run(f"commit ssl cert {path}")
        if not listed:
            self._run(f"add ssl crt-list {self.crt_list} {path}")
        atomic_write(path, pem, mode=0o600)
        self._write_list()
        return Outcome.UPDATED if listed else Outcome.CREATED

    def remove(self, host: str) -> Outcome:
        path = self.path(host)
        if normal_host(host) not in self.observe():
            path.unlink(missing_ok=True)
            return Outcome.ABSENT
        self._run(f"del ssl crt-list {self.crt_list} {path}")
        self._run(f"del ssl cert {path}")
        path.unlink(missing_ok=True)
        self._write_list()
        return Outcome.DELETED

    def _write_list(self) -> None:
        """The crt-list file as the running one holds it, for the next start."""
        answer = self.api.call(f"show ssl crt-list {self.crt_list}")
        lines = [line for line in answer.splitlines() if line.strip() and not line.startswith("#")]
        atomic_write(self.crt_list, "\n".join(lines) + "\n", mode=0o600)
