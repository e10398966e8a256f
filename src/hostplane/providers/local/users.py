"""One system user (and its group) per local PHP site: its PHP-FPM pool runs as that user."""

from __future__ import annotations

import pwd
import subprocess
import threading
from pathlib import Path

import structlog

from hostplane.providers.base import Outcome, PermanentError, TemporaryError

log = structlog.get_logger(__name__)

# useradd/userdel lock /etc/passwd themselves and fail when another holds it: serialize ours.
_lock = threading.Lock()
NOLOGIN = "/usr/sbin/nologin"


def exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def ensure_user(user: str, home: Path) -> Outcome:
    with _lock:
        if exists(user):
            return Outcome.UNCHANGED
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
                user,
            ],
            f"create system user {user}",
        )
    log.info("system_user.created", user=user)
    return Outcome.CREATED


def remove_user(user: str) -> Outcome:
    with _lock:
        if not exists(user):
            return Outcome.ABSENT
        # Nothing of the site may outlive it (a PHP worker orphaned by a killed master, say);
        # userdel refuses while the user has processes.
        subprocess.run(["pkill", "-KILL", "-u", user], capture_output=True, timeout=10)
        _run(["userdel", user], f"remove system user {user}")
    log.info("system_user.removed", user=user)
    return Outcome.DELETED


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
    if "lock" in message:  # another tool holds /etc/passwd for a moment
        raise TemporaryError(f"cannot {what} now", detail=message)
    raise PermanentError(f"cannot {what}", detail=message)
