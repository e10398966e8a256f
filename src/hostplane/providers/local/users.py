"""The system users Hostplane makes: one (and its group) per tenant, as which its sites' PHP
runs and its files are owned (before tenants: one per local PHP site).

Every user Hostplane makes carries its owner in the GECOS field: `hostplane plane=<id>
tenant=<name>` (a site's user of an older release: `site=<name>`). A user of the same name
without this plane's mark is never adopted, changed or removed; only a plane whose store
predates plane ids takes Hostplane's older, unmarked users (`hp-<site>`) as its own, and
marks them.
"""

from __future__ import annotations

import pwd
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import structlog

from hostplane.providers.base import Outcome, PermanentError, TemporaryError
from hostplane.providers.local.processes import end_processes

log = structlog.get_logger(__name__)

# useradd/userdel lock /etc/passwd themselves and fail when another holds it: serialize ours.
_lock = threading.Lock()
NOLOGIN = "/usr/sbin/nologin"
LEGACY_PREFIX = "hp-"  # how Hostplane named sites' users before it marked them
MARK = re.compile(r"^hostplane plane=(?P<plane>\S+) (?P<what>site|tenant)=(?P<name>\S+)$")


@dataclass(frozen=True, slots=True)
class Owner:
    """The control plane that owns the users it makes. `predates_marks`: its store had sites
    before planes had ids, so its older users carry no mark (and only then are they its)."""

    plane_id: str
    predates_marks: bool = False

    def mark(self, site: str) -> str:
        return f"hostplane plane={self.plane_id} site={site}"

    def tenant_mark(self, tenant: str) -> str:
        return f"hostplane plane={self.plane_id} tenant={tenant}"


def judge(
    user: str, gecos: str, owner: Owner, site: str | None = None, *, tenant: str | None = None
) -> str | None:
    """None when the existing `user` is `owner`'s for `site` or `tenant` (a tenant made for a
    site takes that site's user of an older release); else why it is not. Pure."""
    found = MARK.match(gecos.strip())
    if found is not None:
        if found["plane"] != owner.plane_id:
            return f"belongs to another Hostplane control plane ({found['plane']})"
        wanted = {("site", site), ("tenant", tenant)} - {("site", None), ("tenant", None)}
        if (found["what"], found["name"]) not in wanted:
            return f"belongs to {found['what']} {found['name']} of this control plane"
        return None
    if owner.predates_marks and user.startswith(LEGACY_PREFIX) and not gecos.strip():
        return None  # made by this plane before users were marked
    what = f"GECOS {gecos.strip()!r}" if gecos.strip() else "no owner mark"
    return f"is not Hostplane's ({what})"


def exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def passwd(user: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        return None


def ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def ensure_user(
    user: str, home: Path, *, owner: Owner, site: str | None = None, tenant: str | None = None
) -> Outcome:
    """The user exists with `home` and carries `owner`'s mark (the tenant's, when a tenant is
    given); a user of that name that is not `owner`'s is refused and left as it is."""
    mark = owner.tenant_mark(tenant) if tenant is not None else owner.mark(str(site))
    with _lock:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            entry = None
        if entry is not None:
            refusal = judge(user, entry.pw_gecos, owner, site, tenant=tenant)
            if refusal is not None:
                raise PermanentError(
                    f"system user {user} already exists and {refusal}: Hostplane will not use "
                    "or change it; remove or rename that user, or choose another name"
                )
            changes = []
            if entry.pw_gecos.strip() != mark:
                changes += ["--comment", mark]
            if entry.pw_dir != str(home):
                changes += ["--home", str(home)]
            if changes:
                _run(["usermod", *changes, user], f"mark system user {user}")
                log.info("system_user.marked", user=user, plane=owner.plane_id, home=str(home))
                return Outcome.UPDATED
            return Outcome.UNCHANGED
        _useradd(user, home, mark)
    log.info("system_user.created", user=user, plane=owner.plane_id)
    return Outcome.CREATED


def unlock_for_keys(user: str) -> Outcome:
    """No password, but not locked: OpenSSH (without PAM) refuses a locked account ('!', as
    useradd makes them) even to its keys; '*' lets keys in and no password ever matches."""
    with _lock:
        for line in Path("/etc/shadow").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name == user:
                if rest.split(":", 1)[0] == "*":
                    return Outcome.UNCHANGED
                _run(["usermod", "--password", "*", user], f"unlock system user {user} for keys")
                return Outcome.UPDATED
    raise PermanentError(f"system user {user} has no entry in /etc/shadow")


def marked_users(owner: Owner) -> dict[str, str]:
    """This plane's users, in one read of the user database: user → 'tenant:<name>' or
    'site:<name>'."""
    found = {}
    for entry in pwd.getpwall():
        mark = MARK.match(entry.pw_gecos.strip())
        if mark is not None and mark["plane"] == owner.plane_id:
            found[entry.pw_name] = f"{mark['what']}:{mark['name']}"
    return found


def remove_user(
    user: str, *, owner: Owner, site: str | None = None, tenant: str | None = None
) -> Outcome:
    """End every process of the user, then remove the user; a user that is not `owner`'s is
    left alone (and so are its processes)."""
    with _lock:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            return Outcome.ABSENT
        refusal = judge(user, entry.pw_gecos, owner, site, tenant=tenant)
        if refusal is not None:
            log.warning("system_user.not_ours", user=user, reason=refusal)
            return Outcome.ABSENT
        # Nothing of the site may outlive it (a PHP worker orphaned by a killed master, a
        # process someone started as the user); userdel refuses while the user has any.
        ended = end_processes(entry.pw_uid, user)
        _run(["userdel", user], f"remove system user {user}")
    log.info("system_user.removed", user=user, processes_ended=ended)
    return Outcome.DELETED


def ensure_service_user(user: str, home: Path, comment: str) -> Outcome:
    """A system user for a service Hostplane runs (the edge), made if it is missing."""
    with _lock:
        if exists(user):
            return Outcome.UNCHANGED
        _useradd(user, home, comment)
    log.info("system_user.created", user=user, comment=comment)
    return Outcome.CREATED


def _useradd(user: str, home: Path, comment: str) -> None:
    _run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            str(home),
            "--shell",
            NOLOGIN,
            "--comment",
            comment,
            user,
        ],
        f"create system user {user}",
    )


def _run(argv: list[str], what: str) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except FileNotFoundError as exc:
        raise PermanentError(f"cannot {what}: {argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise TemporaryError(f"cannot {what}: {argv[0]} did not finish in 30 s") from exc
    if result.returncode == 0:
        return
    message = result.stderr.strip() or result.stdout.strip()
    if "lock" in message or "currently used by process" in message:
        raise TemporaryError(f"cannot {what} now", detail=message)
    raise PermanentError(f"cannot {what}", detail=message)
