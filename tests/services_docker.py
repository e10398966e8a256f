"""A private Docker engine for the suite: its own socket, exec root and pid file; a data root
kept between runs (/var/lib/hostplane-test-docker) so images made by `make images` are reused.

HOSTPLANE_TEST_DOCKER_HOST points the suite at an existing engine instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import docker

from tests.services import ServiceError, free_port, terminate

DATA_ROOT = Path("/var/lib/hostplane-test-docker")
REPO = Path(__file__).resolve().parents[1]


class PrivateDockerd:
    def __init__(self) -> None:
        if shutil.which("dockerd") is None:
            raise ServiceError("dockerd not found: run `make test` (package docker.io)")
        self.root = Path(tempfile.mkdtemp(prefix="hostplane-test-dockerd-"))
        self.proc: subprocess.Popen[bytes] | None = None
        DATA_ROOT.mkdir(parents=True, exist_ok=True)
        self._lock = (DATA_ROOT.parent / "hostplane-test-docker.lock").open("w")

    @property
    def host(self) -> str:
        return f"unix://{self.root / 'docker.sock'}"

    @property
    def tls_host(self) -> str:
        """The same engine over TCP with mutual TLS, as a remote engine is reached."""
        return f"tcp://127.0.0.1:{self.tls_port}"

    @property
    def client_cert_dir(self) -> Path:
        return self.root / "client-certs"

    def start(self) -> PrivateDockerd:
        # One engine per data root: a concurrent run (a benchmark, another checkout) goes first.
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ServiceError(f"another test engine kept {DATA_ROOT} for 10 min") from None
                time.sleep(0.5)
        _end_orphaned_engines()
        self.tls_port = free_port()
        self._server = make_tls_material(self.root / "tls", self.client_cert_dir)
        return self._launch()

    def restart(self) -> None:
        """Stop the engine (its containers stop with it) and start it again on the same data
        root, sockets and certificates, as `systemctl restart docker` would."""
        terminate(self.proc, timeout=30)
        self._launch()

    def _launch(self) -> PrivateDockerd:
        server = self._server
        log = (self.root / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            [
                "dockerd",
                "--host",
                self.host,
                "--data-root",
                str(DATA_ROOT),
                "--exec-root",
                str(self.root / "exec"),
                "--pidfile",
                str(self.root / "docker.pid"),
                # The same engine over TCP with mutual TLS, for the remote-engine test.
                "--host",
                self.tls_host,
                "--tlsverify",
                f"--tlscacert={server / 'ca.pem'}",
                f"--tlscert={server / 'cert.pem'}",
                f"--tlskey={server / 'key.pem'}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                docker.DockerClient(base_url=self.host, timeout=2).ping()
                return self
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    tail = (self.root / "dockerd.log").read_text()[-2000:]
                    self.stop()
                    raise ServiceError(f"private dockerd did not start:\n{tail}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        terminate(self.proc, timeout=30)
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        shutil.rmtree(self.root, ignore_errors=True)


def ensure_images(docker_host: str) -> None:
    """`make images` against this engine: a rootfs build the first time, an import after."""
    log = REPO / ".cache" / "build-images.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        result = subprocess.run(
            [str(REPO / "scripts" / "build-images.sh")],
            env={**os.environ, "DOCKER_HOST": docker_host},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=900,
        )
    if result.returncode != 0:
        raise ServiceError(f"building the images failed:\n{log.read_text()[-2000:]}")


def make_tls_material(server_dir: Path, client_dir: Path) -> Path:
    """A throw-away CA, a server certificate for 127.0.0.1 and a client certificate, laid out
    as Docker expects (ca.pem, cert.pem, key.pem in each directory)."""
    for d in (server_dir, client_dir):
        d.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        result = subprocess.run(["openssl", *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise ServiceError(f"openssl {args[0]} failed: {result.stderr[-500:]}")

    ca_key, ca = server_dir / "ca-key.pem", server_dir / "ca.pem"
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=hostplane-test-ca",
    )
    for directory, subject, ext in (
        (server_dir, "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
        (client_dir, "/CN=hostplane-test-client", "extendedKeyUsage=clientAuth"),
    ):
        key, csr, cert = directory / "key.pem", directory / "req.csr", directory / "cert.pem"
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(csr),
            "-subj",
            subject,
        )
        extfile = directory / "ext.cnf"
        extfile.write_text(ext + "\n")
        openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-out",
            str(cert),
            "-days",
            "2",
            "-extfile",
            str(extfile),
        )
        if directory != server_dir:
            shutil.copy(ca, directory / "ca.pem")
    return server_dir


def _end_orphaned_engines() -> None:
    """With the data root's lock held, an engine on it is a killed run's (its lock went with
    it; the engine did not): it would keep the next engine's containerd from starting."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        line = b" ".join(argv)
        ours = argv[0].endswith(b"dockerd") and f"--data-root {DATA_ROOT}".encode() in line
        theirs = argv[0].endswith(b"containerd") and b"/hostplane-test-dockerd-" in line
        if ours or theirs:
            found.append(int(entry.name))
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in found) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
