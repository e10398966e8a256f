"""Whether a process has exited, from /proc."""

from __future__ import annotations

import subprocess
import sys

from hostplane.providers import procfs


def test_a_running_process_has_not_exited_a_reaped_or_zombie_one_has():
    proc = subprocess.Popen([sys.executable, "-c", "import time, threading; time.sleep(30)"])
    try:
        assert procfs.alive(proc.pid)
    finally:
        proc.kill()
    # Not reaped yet: a zombie, every thread of it gone, its files closed.
    while procfs.alive(proc.pid):
        pass
    assert procfs.exited(proc.pid)
    proc.wait()
    assert procfs.exited(proc.pid)
