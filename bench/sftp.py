"""The SFTP part of a tenant create at 10 and at 2,000 tenants (issue 14): what the SFTP
server provider does for one more tenant when N tenants' files are already in place, with a
real sshd serving (started on loopback, so a config change is checked with `sshd -t` and
reloaded as in production).

Measured per N (median of --runs creates, each a fresh tenant added to the N; the creates
alternate between the sizes):

- create: the provider call a tenant create makes. Before (a provider without `apply_user`):
  `apply()` of the whole state, N+1 users. After: `apply_user()` of the new tenant alone.
- reloads: how many of those creates reloaded sshd (its config changed).
- sshd_t_fragments: `sshd -t` of a config that includes one `Match User` fragment per tenant
  (the per-tenant-fragment design considered): what every create would pay in that design.
- full_apply: `apply()` of the whole state unchanged (start-up, reconcile, regenerate).

The keys files' owner is one existing group (nogroup) for every bench user: no system users
are made on this shared host; the provider's group lookup is pinned to it on the old API.

Target: a create at 2,000 tenants within 1.2x (or +5 ms) of a create at 10.
The last line printed is one JSON object; the exit status is 0 whether the target is met or not.

Usage: .venv/bin/python bench/sftp.py [--sizes 10,2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import grp
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)

from tests.e2e.harness import free_port  # noqa: E402

from hostplane.providers.openssh import server as server_module  # noqa: E402
from hostplane.providers.openssh.config import SftpState, SftpUser  # noqa: E402
from hostplane.providers.openssh.server import SftpConfig, SftpServer  # noqa: E402

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHqmxkFcwDd0hWsQ8f8sStZmNEeBSt5Ybsdgcl9IctDn bench"
GROUP = grp.getgrnam("nogroup")
NEW_API = hasattr(SftpServer, "apply_user")


def user(name: str, home: Path) -> SftpUser:
    given: dict[str, Any] = {"user": name, "keys": (KEY,)}
    names = {f.name for f in fields(SftpUser)}
    if "gid" in names:
        given["gid"] = GROUP.gr_gid
    if "chroot" in names:
        given["chroot"] = home / name
    return SftpUser(**given)


def create(server: SftpServer, existing: list[SftpUser], new: SftpUser) -> float:
    started = time.perf_counter()
    if NEW_API:
        server.apply_user(new.user, new)
    else:
        server.apply(SftpState(tuple([*existing, new])))
    return time.perf_counter() - started


def fragments_check(root: Path, users: list[SftpUser]) -> float:
    """`sshd -t` of a main config ending with an Include of one fragment per tenant."""
    frag = root / "fragments"
    frag.mkdir()
    for u in users:
        (frag / f"{u.user}.conf").write_text(f'Match User {u.user}\n  ChrootDirectory "/srv/x"\n')
    main = root / "frag_sshd_config"
    text = (root / "sftp" / "sshd_config").read_text().split("\nMatch User", 1)[0]
    main.write_text(text.rstrip("\n") + f"\nInclude {frag}/*.conf\n")
    started = time.perf_counter()
    subprocess.run(["/usr/sbin/sshd", "-t", "-f", str(main)], check=True)
    return time.perf_counter() - started


@dataclass
class Plane:
    """One SFTP server with `n` tenants' files, serving."""

    n: int
    root: Path
    server: SftpServer
    users: list[SftpUser]
    times: list[float] = field(default_factory=list)
    reloads: int = 0

    def create_one(self) -> None:
        new = user(f"hp-new{len(self.times):04d}", self.root)
        config = self.server.layout.config.stat().st_mtime_ns
        self.times.append(create(self.server, self.users, new))
        self.reloads += self.server.layout.config.stat().st_mtime_ns != config
        self.users.append(new)

    def figures(self) -> dict[str, Any]:
        started = time.perf_counter()
        self.server.apply(SftpState(tuple(self.users)))
        full = time.perf_counter() - started
        return {
            "tenants": self.n,
            "create_ms": round(statistics.median(self.times) * 1000, 2),
            "create_max_ms": round(max(self.times) * 1000, 2),
            "reloads": self.reloads,
            "full_apply_ms": round(full * 1000, 1),
            "sshd_t_fragments_ms": round(fragments_check(self.root, self.users) * 1000, 1),
        }


def plane(n: int) -> Plane:
    base = Path("/srv/hostplane-test")
    base.mkdir(mode=0o755, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="hostplane-bench-sftp-", dir=base))
    root.chmod(0o755)
    server = SftpServer(SftpConfig(root / "sftp", "127.0.0.1", free_port()))
    users = [user(f"hp-b{i:05d}", root) for i in range(n)]
    server.apply(SftpState(tuple(users)))
    server.start()
    return Plane(n, root, server, users)


def measure(sizes: list[int], runs: int) -> list[dict[str, Any]]:
    """Creates alternate between the sizes: the disk's fsync latency, which other work on
    the host moves, weighs on each alike."""
    lookups = getattr(server_module, "grp", None)  # the old provider looked each group up
    original = lookups.getgrnam if lookups else None
    if lookups:
        lookups.getgrnam = lambda name: GROUP
    planes: list[Plane] = []
    try:
        planes += [plane(n) for n in sizes]
        for _ in range(runs):
            for p in planes:
                p.create_one()
        return [p.figures() for p in planes]
    finally:
        if lookups:
            lookups.getgrnam = original
        for p in planes:
            p.server.terminate()
            shutil.rmtree(p.root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,2000")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = measure(sizes, args.runs)
    for r in results:
        print(json.dumps(r), file=sys.stderr)
    small, large = results[0]["create_ms"], results[-1]["create_ms"]
    limit = max(small * 1.2, small + 5)
    out = {
        "api": "apply_user" if NEW_API else "apply (whole state)",
        "sizes": results,
        "target": f"create at {sizes[-1]} <= max(1.2x, +5 ms) of create at {sizes[0]}",
        "limit_ms": round(limit, 2),
        "met": large <= limit,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
