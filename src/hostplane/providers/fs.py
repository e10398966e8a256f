"""Files and directories with the owner and mode they must have.

Atomic writes: temp file beside the target, owner and mode set on the open file, fsync, rename,
fsync the directory. Directories: made if missing, then given their mode (and owner) whether
new or not, so an older install is tightened on its next start.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(
    path: Path, data: bytes | str, *, mode: int = 0o644, owner: tuple[int, int] | None = None
) -> bool:
    """Write `data` to `path` atomically; return False, touching nothing, if already there.

    `owner` (uid, gid) is set on the temporary file before the rename, never on the path: a
    directory its owner may write holds no chance to point root's chown elsewhere."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        st = path.lstat()
        same_owner = owner is None or (st.st_uid, st.st_gid) == owner
        if same_owner and (st.st_mode & 0o777) == mode and path.read_bytes() == raw:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            if owner is not None:
                os.fchown(fh.fileno(), *owner)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


def ensure_dir(path: Path, mode: int, owner: tuple[int, int] | None = None) -> Path:
    """`path` exists as a directory (not a symlink) with `mode` and, if given, `owner`."""
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return path


def private_dir(path: Path) -> Path:
    """A directory only its owner (the control plane) enters: 0700."""
    return ensure_dir(path, 0o700)


def private_file(path: Path) -> Path:
    """`path` exists and is 0600, before anything writes to it (SQLite copies the database
    file's mode onto its -wal and -shm files)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path
