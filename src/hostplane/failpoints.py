"""Failpoints: named places where a fault can be injected into a running control plane, the
way etcd's gofail and TiKV's fail-rs do, for the fault-injection suite.

`HOSTPLANE_FAILPOINTS` is a comma-separated list of `name=action`, action `kill` (SIGKILL
this process) or `error` (raise PermanentError). Each fires once per data directory: a
marker file in `<data dir>/failpoints/` is written first, so the restarted process goes on.
Unset (the default), `hit` is a dictionary lookup and nothing else.

`HOSTPLANE_FAILPOINTS=@armed` reads the list from `<data dir>/failpoints.armed` instead,
again whenever that file changes, so one running control plane serves many fault tests: a
test arms its failpoints by writing the file (and removing their markers) rather than
starting a control plane of its own.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from hostplane.errors import PermanentError

ARMED_FILE = "failpoints.armed"
FROM_FILE = "@armed"

_armed: dict[str, str] | None = None
_marker_dir: Path | None = None
_armed_file: Path | None = None
_armed_version: tuple[int, int, int] | None = None


def configure(spec: str | None, data_dir: Path) -> None:
    global _armed, _marker_dir, _armed_file, _armed_version
    _marker_dir = data_dir / "failpoints"
    _armed_version = None
    if spec == FROM_FILE:
        _armed_file = data_dir / ARMED_FILE
        _armed = {}
        _reload()
        return
    _armed_file = None
    _armed = parse(spec)


def parse(spec: str | None) -> dict[str, str]:
    armed: dict[str, str] = {}
    for item in (spec or "").split(","):
        name, _, action = item.strip().partition("=")
        if name:
            armed[name] = action or "kill"
    return armed


def _reload() -> None:
    global _armed, _armed_version
    assert _armed_file is not None
    try:
        stat = _armed_file.stat()
    except FileNotFoundError:
        _armed, _armed_version = {}, None
        return
    version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    if version != _armed_version:
        _armed = parse(_armed_file.read_text())
        _armed_version = version


def hit(name: str) -> None:
    if _armed_file is not None:
        _reload()
    if not _armed or name not in _armed:
        return
    assert _marker_dir is not None
    marker = _marker_dir / name
    if marker.exists():
        return
    _marker_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(_armed[name])
    if _armed[name] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise PermanentError(f"injected fault at {name}")
