"""An instance's directory on disk: made whole with its mark, owned as its layout says.

The root and its config belong to root (group: the instance's), so the instance can read its
config and nothing else there; only `data/` is the instance user's. Everything under `data/`
is written by the tenant's process and read here as untrusted: no symlink is followed, no
FIFO opened, and ownership is changed with file descriptors (`os.fwalk`), never by path.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

from hostplane.providers.fs import atomic_write
from hostplane.providers.redis.config import InstancePaths
from hostplane.providers.redis.process import RunAs, read_small

ROOT_MODE = 0o750
CONFIG_MODE = 0o640
DATA_MODE = 0o700


def prepare_base(base: Path) -> None:
    """The provider's directory: traversable by the instances' users, listable by none."""
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o711)
    (base / ".locks").mkdir(mode=0o700, exist_ok=True)


def create(paths: InstancePaths, config_text: str, run_as: RunAs) -> None:
    """Build the directory beside its place and rename it in: it never exists without its
    marked config, so a crash here cannot leave an unmarked directory of ours behind."""
    staging = paths.root.with_name(f".new-{paths.root.name}-{secrets.token_hex(4)}")
    staging.mkdir(mode=0o700)
    try:
        staged = InstancePaths(staging)
        atomic_write(staged.config, config_text, mode=CONFIG_MODE)
        staged.data.mkdir(mode=DATA_MODE)
        apply_ownership(staged, run_as)
        staging.rename(paths.root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_config(paths: InstancePaths, config_text: str, run_as: RunAs) -> bool:
    changed = atomic_write(paths.config, config_text, mode=CONFIG_MODE)
    os.chown(paths.config, 0, run_as.gid, follow_symlinks=False)
    return changed


def apply_ownership(paths: InstancePaths, run_as: RunAs) -> None:
    """root:group on the root and the config, user:group on everything under data/ (a cache
    given to another tenant changes hands here, while its process is stopped)."""
    os.chown(paths.root, 0, run_as.gid, follow_symlinks=False)
    paths.root.chmod(ROOT_MODE)
    os.chown(paths.config, 0, run_as.gid, follow_symlinks=False)
    paths.data.mkdir(mode=DATA_MODE, exist_ok=True)
    data = os.stat(paths.data, follow_symlinks=False)
    if not stat.S_ISDIR(data.st_mode):
        raise FileExistsError(f"{paths.data} is not a directory")
    if (data.st_uid, data.st_gid) != (run_as.uid, run_as.gid):
        for _, dirs, files, dir_fd in os.fwalk(paths.data, follow_symlinks=False):
            for entry in (*dirs, *files):
                os.chown(entry, run_as.uid, run_as.gid, dir_fd=dir_fd, follow_symlinks=False)
        os.chown(paths.data, run_as.uid, run_as.gid, follow_symlinks=False)
    os.chmod(paths.data, DATA_MODE, follow_symlinks=False)


def hand_over(paths: InstancePaths, run_as: RunAs, skip: frozenset[str]) -> None:
    """The directory given to another user (a cache reassigned to another tenant): root and
    config to its group first (the old user can no longer reach in), then `data/` rebuilt
    as new files owned by the new user, copied from the old ones without following a link
    or opening a FIFO, links and special files left out, the names in `skip` too; the old
    files are removed. New inodes, because an old user's open descriptor or hard link to a
    file would otherwise read what the new user's instance writes there. Resumable: a copy
    that was cut short is made again; one that was done is put in place."""
    os.chown(paths.root, 0, run_as.gid, follow_symlinks=False)
    paths.root.chmod(ROOT_MODE)
    os.chown(paths.config, 0, run_as.gid, follow_symlinks=False)
    fresh, stale = paths.root / "data.new", paths.root / "data.old"
    if not os.path.lexists(paths.data) and os.path.lexists(fresh):
        fresh.rename(paths.data)  # stopped between the two renames: the copy was whole
    else:
        if os.path.lexists(fresh):
            shutil.rmtree(fresh)
        _copy_tree(paths.data, fresh, run_as, skip)
        if os.path.lexists(stale):
            shutil.rmtree(stale)
        if os.path.lexists(paths.data):
            paths.data.rename(stale)
        fresh.rename(paths.data)
    if os.path.lexists(stale):
        shutil.rmtree(stale)


def _copy_tree(source: Path, target: Path, run_as: RunAs, skip: frozenset[str]) -> None:
    target.mkdir(mode=DATA_MODE)
    if os.path.lexists(source):
        for top, dirs, names, dir_fd in os.fwalk(source, follow_symlinks=False):
            into = target / os.path.relpath(top, source)
            for name in dirs:
                if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                    (into / name).mkdir(mode=DATA_MODE)
            for name in names:
                if top != str(source) or name not in skip:
                    _copy_file(name, dir_fd, into / name, run_as)
    for _top, dirs, _, dir_fd in os.fwalk(target, follow_symlinks=False):
        for name in dirs:
            os.chown(name, run_as.uid, run_as.gid, dir_fd=dir_fd, follow_symlinks=False)
    os.chown(target, run_as.uid, run_as.gid, follow_symlinks=False)


def _copy_file(name: str, dir_fd: int, target: Path, run_as: RunAs) -> None:
    """A regular file copied into a new one (0600, the new user's); anything else skipped."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        src = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return  # a symlink (ELOOP), or gone meanwhile
    try:
        if not stat.S_ISREG(os.fstat(src).st_mode):
            return
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            while os.sendfile(dst, src, None, 1 << 20):
                pass
            os.fchown(dst, run_as.uid, run_as.gid)
            os.fsync(dst)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def write_aclfile(paths: InstancePaths, text: str, run_as: RunAs) -> None:
    """Only while the process is stopped (a running instance keeps its ACLs in memory and
    writes the file on `ACL SAVE`): the instance user's, mode 0600. Written into a directory
    that user controls, so never through `fs.atomic_write` (which reads its target first and
    would follow a symlink or block on a FIFO put in its place): a new file, owned and synced
    by its descriptor, renamed over whatever is there."""
    if read_small(paths.aclfile) == text:
        return
    fd, tmp = tempfile.mkstemp(dir=paths.data, prefix=".users.acl.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), 0o600)
            os.fchown(fh.fileno(), run_as.uid, run_as.gid)
            os.fsync(fh.fileno())
        os.replace(tmp, paths.aclfile)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def clear_pidfile(paths: InstancePaths) -> None:
    """Before a start (no process of the instance is left): whatever is at the pid file's
    place goes, so Redis cannot block on a FIFO or fail on a directory put there."""
    try:
        st = os.stat(paths.pidfile, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(paths.pidfile)
    else:
        paths.pidfile.unlink()


def remove_socket(socket: Path) -> None:
    """Unlink what is at the socket path only if it is a socket (never a file put there)."""
    try:
        if stat.S_ISSOCK(os.stat(socket, follow_symlinks=False).st_mode):
            socket.unlink()
    except FileNotFoundError:
        pass


def socket_matches(socket: Path, run_as: RunAs, mode: int) -> bool:
    """A socket (not a file or link) of the instance's user and group, with its mode."""
    try:
        st = os.stat(socket, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return (
        stat.S_ISSOCK(st.st_mode)
        and (st.st_uid, st.st_gid) == (run_as.uid, run_as.gid)
        and stat.S_IMODE(st.st_mode) == mode
    )


def run_as_of(paths: InstancePaths) -> RunAs | None:
    """Who the instance runs as, from what only root can set: the owner of data/ and the
    group of the root directory. None when the directory is not there."""
    try:
        uid = os.stat(paths.data, follow_symlinks=False).st_uid
        gid = os.stat(paths.root, follow_symlinks=False).st_gid
    except FileNotFoundError:
        return None
    return RunAs(uid, gid)
