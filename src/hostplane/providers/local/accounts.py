"""Tenants' accounts on this host: a system user and group each (marked as this plane's), and a
home laid out for hosting, which is also the tenant's SFTP chroot.

    <homes dir>/                 root 0711   nobody lists the tenants
      <tenant>/                  root:<group> 0751   the chroot: root's (OpenSSH's rule); the
                                 tenant lists it, the edge only passes through
        web/                     <user> 0751   one folder per site (see the local runtime)
        logs/ tmp/ private/      <user> 0750 / 0700 / 0700

Another tenant's user can pass through a home (so the edge can reach the sites' public
files) but list, read or write nothing in it but what is public.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.fs import ensure_dir
from hostplane.providers.local import users
from hostplane.providers.local.processes import end_processes

log = structlog.get_logger(__name__)

HOMES_MODE = 0o711
HOME_MODE = 0o751


@dataclass(frozen=True, slots=True)
class HomeDir:
    """One entry of a home's layout: its path below the home, its owner, its mode."""

    path: str
    owner: str  # "root" or "tenant"
    mode: int


LAYOUT = (
    HomeDir("web", "tenant", 0o751),  # one folder per site; the edge passes through to public/
    HomeDir("logs", "tenant", 0o750),
    HomeDir("tmp", "tenant", 0o700),
    HomeDir("private", "tenant", 0o700),
)


@dataclass(frozen=True, slots=True)
class Account:
    """What the provider knows of a tenant: its name, its user, and, for a tenant made for a
    site of an older release, that site's name (its user carries the site's mark)."""

    tenant: str
    user: str
    made_for: str | None = None


class TenantAccounts:
    def __init__(
        self,
        homes_dir: Path,
        owner: users.Owner,
        layout: Sequence[HomeDir] = LAYOUT,
        home_mode: int = HOME_MODE,
    ) -> None:
        self.homes_dir = homes_dir
        self.owner = owner
        self.layout = tuple(layout)
        self.home_mode = home_mode

    def home(self, tenant: str) -> Path:
        return self.homes_dir / tenant

    def home_text(self, tenant: str) -> str:
        """home() as text: the edge's whole derive asks it of every site, and a Path join
        costs more than the rest of a route."""
        return f"{self.homes_dir}/{tenant}"

    def ensure(self, account: Account) -> Outcome:
        """The user (marked, its home set) and the home with its layout, owners and modes."""
        home = self.home(account.tenant)
        outcome = users.ensure_user(
            account.user, home, owner=self.owner, site=account.made_for, tenant=account.tenant
        )
        unlocked = users.unlock_for_keys(account.user).changed
        uid, gid = users.ids(account.user)
        created = not home.exists()
        ensure_dir(self.homes_dir, HOMES_MODE, (0, 0))
        ensure_dir(home, self.home_mode, (0, gid))
        for entry in self.layout:
            owner = (0, 0) if entry.owner == "root" else (uid, gid)
            created |= not (home / entry.path).exists()
            ensure_dir(home / entry.path, entry.mode, owner)
        if created:
            log.info("tenant_home.created", tenant=account.tenant, home=str(home))
        if outcome is Outcome.UNCHANGED and (created or unlocked):
            return Outcome.CREATED if created else Outcome.UPDATED
        return outcome

    def exists(self, account: Account) -> bool:
        return users.exists(account.user) and self.home(account.tenant).is_dir()

    def sftp_group(self, account: Account) -> int | None:
        """The group of the tenant's user if it may log in over SFTP chrooted to its home:
        the user exists with that home as its passwd home (sshd chroots each user to its
        passwd home, `ChrootDirectory %h`), and the home is made. Else None."""
        entry = users.passwd(account.user)
        home = self.home(account.tenant)
        if entry is None or entry.pw_dir != str(home) or not home.is_dir():
            return None
        return entry.pw_gid

    def ids(self, account: Account) -> tuple[int, int]:
        if not users.exists(account.user):
            raise PermanentError(
                f"the system user {account.user} of tenant {account.tenant} is missing: its "
                "account must be made first (hostctl reconcile repairs it)"
            )
        return users.ids(account.user)

    def end_processes(self, account: Account, spare: Callable[[int], bool] | None = None) -> int:
        """Every process of the tenant's user (PHP workers, SFTP sessions), ended, but those
        `spare(pid)` keeps (a cache instance, which outlives its tenant's suspension)."""
        if not users.exists(account.user):
            return 0
        uid, _ = users.ids(account.user)
        return end_processes(uid, account.user, spare=spare or (lambda pid: False))

    def remove(self, account: Account) -> Outcome:
        """Its processes ended, its user removed (only if it is ours), then its home."""
        home = self.home(account.tenant)
        user_gone = users.remove_user(
            account.user, owner=self.owner, site=account.made_for, tenant=account.tenant
        )
        present = home.exists()
        if present:
            shutil.rmtree(home)
            log.info("tenant_home.removed", tenant=account.tenant, home=str(home))
        return Outcome.DELETED if present or user_gone.changed else Outcome.ABSENT

    def inventory(self) -> tuple[frozenset[str], dict[str, str]]:
        """Homes (one directory scan) and this plane's users (one read of the user database):
        user → 'tenant:<name>' or 'site:<name>'."""
        homes: frozenset[str] = frozenset()
        if self.homes_dir.is_dir():
            homes = frozenset(p.name for p in self.homes_dir.iterdir() if p.is_dir())
        return homes, users.marked_users(self.owner)

    def disk_usage(self, account: Account) -> int:
        """Bytes the tenant's own files take in its home (allocated blocks of what its user
        owns, as a quota counts them: the platform's root-owned files, WordPress's code
        linked from Debian's package, are not the tenant's), in one walk that follows no
        link and counts a hard-linked file once."""
        if not users.exists(account.user):
            return 0
        uid, _ = users.ids(account.user)
        seen: set[tuple[int, int]] = set()
        total = 0
        stack = [self.home(account.tenant)]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except (FileNotFoundError, NotADirectoryError, PermissionError):
                continue
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                if st.st_uid == uid:
                    total += st.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
        return total
