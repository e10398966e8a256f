"""Failpoints: named places where a fault can be injected into a running control plane, the
way etcd's gofail and TiKV's fail-rs do, for the fault-injection suite.

`HOSTPLANE_FAILPOINTS` is a comma-separated list of `name=action`, action `kill` (SIGKILL
this process) or `error` (raise PermanentError). Each fires once per data directory: a
marker file in `<data dir>/failpoints/` is written first, so the restarted process goes on.
Unset (the default), `hit` is a dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from hostplane.errors import PermanentError

_armed: dict[str, str] | None = None
_marker_dir: Path | None = None


def configure(spec: str | None, data_dir: Path) -> None:
    global _armed, _marker_dir
    _armed = {}
    for item in (spec or "").split(","):
        name, _, action = item.strip().partition("=")
        if name:
            _armed[name] = action or "kill"
    _marker_dir = data_dir / "failpoints"


def hit(name: str) -> None:
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
