"""The files the SFTP server's sshd reads, each written by itself: its config (the same for
any set of tenants), checked with `sshd -t` before it replaces the last good one, and one keys
file per tenant let in, which sshd reads at each login (so a keys file needs no reload)."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import structlog

from hostplane.errors import PermanentError
from hostplane.providers.fs import atomic_write, ensure_dir
from hostplane.providers.openssh.config import (
    SftpLayout,
    SftpState,
    SftpUser,
    check_user,
    render_keys,
)

log = structlog.get_logger(__name__)

KEYS_MODE = 0o640  # root's and the tenant's group's: sshd reads it as the user, no other can


def prepare(layout: SftpLayout) -> None:
    ensure_dir(layout.root, 0o711, (0, 0))  # users pass through to their keys file
    ensure_dir(layout.keys_dir, 0o711, (0, 0))
    ensure_dir(Path("/run/sshd"), 0o755, (0, 0))  # sshd's privilege separation directory
    if not layout.host_key.exists():
        result = subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(layout.host_key)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise PermanentError(
                "ssh-keygen could not make the SFTP host key", detail=result.stderr
            )


def replace_config(layout: SftpLayout, text: str, binary: str) -> bool:
    """The config is `text`: False, after one read, if it is already; else `text` checked by
    `sshd -t` and put in place (a refused one leaves the last good config)."""
    with contextlib.suppress(FileNotFoundError):
        if layout.config.read_text() == text:
            return False
    candidate = layout.config.with_suffix(".new")
    atomic_write(candidate, text, mode=0o600)
    result = subprocess.run([binary, "-t", "-f", str(candidate)], capture_output=True, text=True)
    if result.returncode != 0:
        candidate.unlink(missing_ok=True)
        raise PermanentError(
            "the generated SFTP server config does not pass sshd -t",
            detail=(result.stderr or result.stdout).strip()[-1500:],
        )
    candidate.replace(layout.config)
    return True


def write_keys(layout: SftpLayout, user: SftpUser) -> bool:
    path = layout.keys_dir / check_user(user.user)
    return atomic_write(path, render_keys(user), mode=KEYS_MODE, owner=(0, user.gid))


def remove_keys(layout: SftpLayout, name: str) -> bool:
    try:
        (layout.keys_dir / check_user(name)).unlink()
    except FileNotFoundError:
        return False
    log.info("sftp.keys_removed", user=name)
    return True


def keys_files(layout: SftpLayout) -> set[str]:
    return {p.name for p in layout.keys_dir.iterdir() if not p.name.startswith(".")}


def drift(layout: SftpLayout, config: str, state: SftpState) -> list[str]:
    """The files that are not the ones rendered: the config, a keys file that differs (text,
    owner or mode) or is missing, one of no user of `state`. One read each."""
    found = []
    try:
        if layout.config.read_text() != config:
            found.append(layout.config.name)
    except FileNotFoundError:
        found.append(layout.config.name)
    for user in state.users:
        path = layout.keys_dir / user.user
        with contextlib.suppress(FileNotFoundError):
            st = path.stat()
            owned = (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, user.gid, KEYS_MODE)
            if owned and path.read_text() == render_keys(user):
                continue
        found.append(f"keys/{user.user}")
    present = keys_files(layout) if layout.keys_dir.is_dir() else set()
    found += [f"keys/{name}" for name in sorted(present - {u.user for u in state.users})]
    return found
