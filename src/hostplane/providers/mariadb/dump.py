"""A database dumped and compressed into a folder of a tenant's, written as the tenant.

`mariadb-dump` runs as the control plane (it holds the server's credentials, handed over in
its environment, never on a command line a tenant could read in /proc). Its output goes to
`gzip` and `dd` running as the tenant's user and group only; dd creates the file itself
with O_CREAT | O_EXCL | O_NOFOLLOW: a name the tenant planted (a symlink to a file of someone
else's) is never followed, and the file counts as the tenant's. It is written beside its final
name and renamed into place (a rename replaces a planted entry, never follows it); then
`gzip -t`, again as the tenant, proves it whole (invariant 6). Running it again writes it
again: a dump killed half-way is never taken for a finished one.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import IO

import structlog

from hostplane.errors import ValidationError
from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.mariadb import identifiers as ids
from hostplane.providers.mariadb.connection import Account

log = structlog.get_logger(__name__)

FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")
TIMEOUT = 3600.0
PATH = "/usr/local/bin:/usr/bin:/bin"
# The tenant's side writes the file: dd creates it without following a link and without
# reusing one (O_CREAT | O_EXCL | O_NOFOLLOW).
WRITER = ("dd", "conv=excl", "oflag=nofollow", "bs=1M", "status=none")


def _dump_command(account: Account, database: str) -> list[str]:
    where = (
        [f"--socket={account.unix_socket}"]
        if account.unix_socket
        else [f"--host={account.host}", f"--port={account.port}"]
    )
    return [
        "mariadb-dump",
        "--no-defaults",
        f"--user={account.user}",
        *where,
        "--single-transaction",
        "--routines",
        "--events",
        "--triggers",
        "--hex-blob",
        "--",
        database,
    ]


def _folder_fd(folder: Path, uid: int) -> int:
    """The folder opened without following a link; refused unless it is a real directory of
    the tenant's."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise PermanentError(
            f"{folder} is missing or not a directory (a link?): the dump is not written",
            detail=str(exc),
        ) from None
    st = os.fstat(fd)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
        os.close(fd)
        raise PermanentError(f"{folder} is not the tenant's own directory: the dump is not written")
    return fd


def _as_tenant(
    args: list[str], uid: int, gid: int, stdin: IO[bytes], stdout: int | None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        user=uid,
        group=gid,
        extra_groups=[],
        cwd="/",
        env={"PATH": PATH},
        umask=0o077,  # the dump is the tenant's alone
    )


def dump_database(
    account: Account, database: str, folder: Path, filename: str, uid: int, gid: int
) -> Outcome:
    """`database` dumped (with its routines, events, triggers) and gzipped into
    `folder/filename`, written as `uid`:`gid`."""
    ids.database(database)
    if not FILE_RE.fullmatch(filename):
        raise ValidationError(f"{filename!r} is not a dump file name")
    partial = f".{filename}.partial"
    fd = _folder_fd(folder, uid)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial, dir_fd=fd)  # left by a killed run, or planted: never followed
        env = {"PATH": PATH, "MYSQL_PWD": account.password}
        dump = subprocess.Popen(
            _dump_command(account, database),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert dump.stdout is not None and dump.stderr is not None
        gzip = _as_tenant(["gzip", "-c"], uid, gid, dump.stdout, subprocess.PIPE)
        assert gzip.stdout is not None
        writer = _as_tenant([*WRITER, f"of={folder / partial}"], uid, gid, gzip.stdout, None)
        dump.stdout.close()
        gzip.stdout.close()
        try:
            _, written = writer.communicate(timeout=TIMEOUT)
            said = dump.stderr.read()
            dump.wait(timeout=TIMEOUT)
            gzip.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for process in (dump, gzip, writer):
                process.kill()
            raise PermanentError(f"the dump of {database} took over {TIMEOUT:.0f} s") from None
        finally:
            dump.stderr.close()
            if gzip.stderr is not None:
                gzip.stderr.close()
        if dump.returncode != 0:
            raise PermanentError(
                f"mariadb-dump of {database} failed (exit {dump.returncode})",
                detail=said.decode(errors="replace").strip(),
            )
        if writer.returncode != 0 or gzip.returncode != 0:
            raise PermanentError(
                f"the dump of {database} could not be written into {folder} as the tenant",
                detail=written.decode(errors="replace").strip(),
            )
        os.rename(partial, filename, src_dir_fd=fd, dst_dir_fd=fd)
    finally:
        os.close(fd)
    test = subprocess.run(
        ["gzip", "-t", "--", str(folder / filename)],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
        user=uid,
        group=gid,
        extra_groups=[],
        cwd="/",
        env={"PATH": PATH},
    )
    if test.returncode != 0:
        raise PermanentError(
            f"the dump {folder / filename} is not a whole gzip file",
            detail=test.stderr.decode(errors="replace").strip(),
        )
    log.info("mariadb.dumped", database=database, file=str(folder / filename))
    return Outcome.CREATED
