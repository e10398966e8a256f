"""`make images` on a machine where no Docker engine answers (as a fresh Debian 12 without
systemd is after `apt-get install docker.io`): the documented command starts one — dockerd in the
background, its log and pid in a known directory — and builds the images into it; run again, it
finds that engine and those images. An engine named by DOCKER_HOST is only checked, never started.

"This machine's socket" is a private path here (HOSTPLANE_DOCKER_SOCKET), and the engine gets a
private data root and exec root and no bridge or iptables rules (HOSTPLANE_DOCKERD_ARGS), so the
suite's own engine is not disturbed. The engine is stopped by its pid at the end."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.e2e.harness import REPO, wait_for

IMAGES = ("hostplane/php-fpm:8.2", "hostplane/nginx:1.22")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _processes_under(root: Path) -> list[int]:
    """Processes whose command line names `root` (the engine and its containerd)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(root).encode() in cmdline and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.fixture
def machine() -> Iterator[Path]:
    """A directory standing in for the machine's Docker state; short, because containerd's
    socket under the exec root must fit a unix socket path."""
    root = Path(tempfile.mkdtemp(prefix="hp-engine-", dir="/tmp"))
    yield root
    pid_file = root / "state" / "dockerd.pid"
    if pid_file.exists() and _alive(pid := int(pid_file.read_text())):
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _alive(pid), "the engine to stop", timeout=60)
    leftovers = _processes_under(root)
    shutil.rmtree(root, ignore_errors=True)
    assert leftovers == [], f"processes left running: {leftovers}"


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DOCKER_HOST", "HOSTPLANE_DOCKER_HOST", "HOSTPLANE_DOCKER_TLS_DIR")
    }
    return {
        **env,
        "HOSTPLANE_DOCKER_SOCKET": str(root / "docker.sock"),
        "HOSTPLANE_DOCKERD_DIR": str(root / "state"),
        "HOSTPLANE_DOCKERD_ARGS": (
            f"--data-root {root}/data --exec-root {root}/exec --bridge=none --iptables=false"
        ),
        **extra,
    }


def _make_images(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "images"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )


def test_make_images_starts_an_engine_where_none_answers_then_reuses_it(machine):
    build = hashlib.sha256((REPO / "scripts" / "build-images.sh").read_bytes()).hexdigest()[:12]
    env = _env(machine)
    first = _make_images(env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"starting the Docker engine: dockerd on unix://{machine}/docker.sock" in first.stdout
    pid = int((machine / "state" / "dockerd.pid").read_text())
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd"
    assert (machine / "state" / "dockerd.log").stat().st_size > 0
    client = docker.DockerClient(base_url=f"unix://{machine}/docker.sock", timeout=60)
    try:
        assert client.info()["DockerRootDir"] == str(machine / "data")
        for tag in IMAGES:
            assert client.images.get(tag).labels["hostplane.build"] == build

        again = _make_images(env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "starting the Docker engine" not in again.stdout
        assert f"images are up to date ({build})" in again.stdout
        assert int((machine / "state" / "dockerd.pid").read_text()) == pid and _alive(pid)
    finally:
        client.close()


@pytest.mark.parametrize("variable", ["DOCKER_HOST", "HOSTPLANE_DOCKER_HOST"])
def test_an_engine_named_by_docker_host_is_checked_never_started(machine, variable):
    elsewhere = f"unix://{machine}/elsewhere.sock"
    result = _make_images(_env(machine, **{variable: elsewhere}))
    assert result.returncode != 0, result.stdout
    assert f"no Docker engine answers at {elsewhere}" in result.stderr
    assert not (machine / "state").exists() and not (machine / "elsewhere.sock").exists()
    assert _processes_under(machine) == []


def test_two_runs_at_once_start_one_engine(machine):
    env = _env(machine)
    script = [str(REPO / "scripts" / "docker-engine.sh"), "docker", "info", "-f", "{{.ID}}"]
    runs = [
        subprocess.Popen(script, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        results.append((run.returncode, out, err))
    assert [code for code, _, _ in results] == [0, 0], results
    outputs = "".join(out for _, out, _ in results)
    assert outputs.count("starting the Docker engine") == 1, outputs
    ids = {out.strip().splitlines()[-1] for _, out, _ in results}
    assert len(ids) == 1, ids  # both spoke to the same engine
    pid = int((machine / "state" / "dockerd.pid").read_text())
    assert [p for p in _processes_under(machine) if _comm(p) == "dockerd"] == [pid]


def test_an_engine_that_cannot_start_is_reported_with_its_log(machine):
    env = _env(machine, HOSTPLANE_DOCKERD_ARGS="--no-such-flag")
    result = _make_images(env)
    assert result.returncode != 0, result.stdout
    assert "dockerd exited before it answered" in result.stderr
    assert "unknown flag: --no-such-flag" in result.stderr  # the end of its log, shown
    assert _processes_under(machine) == []


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
