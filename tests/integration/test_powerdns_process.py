"""The pdns_server Hostplane runs itself (providers/powerdns/process.py), for real: started and
answering, restarted when killed, adopted again by a restarted control plane, never a stranger
adopted or displaced."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hostplane.errors import ForeignResourceError, PermanentError
from hostplane.providers.powerdns import dnsprobe, files
from hostplane.providers.powerdns.api import PowerDnsApi
from hostplane.providers.powerdns.files import PdnsConfig
from hostplane.providers.powerdns.process import PdnsProcess, command_line
from tests.services import free_port

NAMESERVERS = ["ns1.hostplane-test.net"]
HOSTMASTER = "hostmaster.hostplane-test.net"


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def searchable(path: Path) -> Path:
    """pytest's directories are 0700; PowerDNS's own user must walk down to its database."""
    for parent in (path, *path.parents):
        if parent == Path("/tmp"):
            break
        parent.chmod(parent.stat().st_mode | 0o001)
    return path


@pytest.fixture
def config(tmp_path: Path) -> PdnsConfig:
    return PdnsConfig(
        root=searchable(tmp_path) / "powerdns",
        dns_addresses=("127.0.0.1",),
        dns_port=free_port(),
        api_host="127.0.0.1",
        api_port=free_port(),
        default_soa="ns1.hostplane-test.net. hostmaster.hostplane-test.net. 0 10800 3600 604800 60",
    )


@pytest.fixture
def started(config: PdnsConfig) -> Iterator[list[PdnsProcess]]:
    """Every PdnsProcess a test makes; their servers are stopped at the end."""
    made: list[PdnsProcess] = []
    yield made
    for process in made:
        process.terminate()


def _start(config: PdnsConfig, made: list[PdnsProcess]) -> PdnsProcess:
    process = PdnsProcess(config)
    made.append(process)
    process.start()
    return process


def _serves(config: PdnsConfig, zone: str) -> bool:
    return dnsprobe.serves_zone("127.0.0.1", config.dns_port, zone, timeout=1) is None


def test_started_it_answers_the_api_with_its_key_and_dns_for_its_zones(config, started):
    process = _start(config, started)
    api = PowerDnsApi(process.api_url, process.api_key, owner="hptest")
    api.ensure_zone("example.test", NAMESERVERS, HOSTMASTER, 60)
    assert _serves(config, "example.test.")
    refused = httpx.get(f"{process.api_url}/api/v1/servers/localhost", headers={"X-API-Key": "x"})
    assert refused.status_code == 401
    # It dropped to Debian's pdns user; the key is root's alone and not in its config.
    assert Path(f"/proc/{process.pid}").stat().st_uid == _uid("pdns")
    layout = files.Layout(config.root)
    assert layout.key_file.stat().st_mode & 0o777 == 0o600
    assert process.api_key not in layout.config.read_text()
    assert layout.db_dir.stat().st_uid == _uid("pdns")
    api.close()


def _uid(user: str) -> int:
    return pwd.getpwnam(user).pw_uid


def test_killed_it_is_restarted_and_still_serves_its_zones(config, started):
    process = _start(config, started)
    api = PowerDnsApi(process.api_url, process.api_key, owner="hptest")
    api.ensure_zone("kept.test", NAMESERVERS, HOSTMASTER, 60)
    first = process.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: process.pid != first and _serves(config, "kept.test."), "a new PowerDNS")
    assert command_line(first) is None
    assert files.Layout(config.root).pid_file.read_text().strip() == str(process.pid)
    api.close()


def test_a_restarted_control_plane_adopts_the_same_server(config, started):
    before = _start(config, started)
    pid = before.pid
    before.stop()  # the control plane goes (SIGTERM): PowerDNS stays and keeps answering
    assert command_line(pid or 0) is not None
    assert dnsprobe.answers("127.0.0.1", config.dns_port)
    after = _start(config, started)
    assert after.pid == pid
    # The adopted one is supervised too: killed, it is replaced.
    os.kill(pid or 0, signal.SIGKILL)
    wait_for(lambda: after.pid != pid and dnsprobe.answers("127.0.0.1", config.dns_port), "restart")


def test_changed_settings_replace_our_server(config, started):
    old = _start(config, started)
    old.stop()
    moved = PdnsConfig(**{**_fields(config), "dns_port": free_port()})
    new = _start(moved, started)
    assert new.pid != old.pid and command_line(old.pid or 0) is None
    assert dnsprobe.answers("127.0.0.1", moved.dns_port)


def _fields(config: PdnsConfig) -> dict[str, object]:
    return {name: getattr(config, name) for name in PdnsConfig.__dataclass_fields__}


def test_two_workers_starting_at_once_share_one_server(config, started):
    processes = [PdnsProcess(config) for _ in range(2)]
    started.extend(processes)
    errors: list[Exception] = []

    def start(p: PdnsProcess) -> None:
        try:
            p.start()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(p,)) for p in processes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert processes[0].pid == processes[1].pid is not None


@pytest.mark.parametrize("kind", ["dns-udp", "dns-tcp", "api"])
def test_a_stranger_on_our_address_is_a_startup_error_and_left_alone(config, started, kind):
    family_kind, port = {
        "dns-udp": (socket.SOCK_DGRAM, config.dns_port),
        "dns-tcp": (socket.SOCK_STREAM, config.dns_port),
        "api": (socket.SOCK_STREAM, config.api_port),
    }[kind]
    stranger = socket.socket(socket.AF_INET, family_kind)
    stranger.bind(("127.0.0.1", port))
    if family_kind == socket.SOCK_STREAM:
        stranger.listen()
    try:
        with pytest.raises(ForeignResourceError, match=f"127.0.0.1:{port} .* is in use"):
            _start(config, started)
        assert not files.Layout(config.root).pid_file.exists()  # nothing was started
        assert stranger.fileno() != -1 and stranger.getsockname() == ("127.0.0.1", port)
    finally:
        stranger.close()


def test_a_pid_file_naming_another_process_never_adopts_or_ends_it(config, started, powerdns):
    files.Layout(config.root).root.mkdir(parents=True)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        for stranger in (powerdns.proc.pid, sleeper.pid):  # another pdns_server, a non-pdns
            files.Layout(config.root).pid_file.write_text(f"{stranger}\n")
            process = _start(config, started)
            assert process.pid != stranger and command_line(stranger) is not None
            process.terminate()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_data_directory_pdns_cannot_reach_is_refused_with_the_fix(tmp_path, started):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    searchable(tmp_path)
    config = PdnsConfig(
        root=closed / "powerdns",
        dns_addresses=("127.0.0.1",),
        dns_port=free_port(),
        api_host="127.0.0.1",
        api_port=free_port(),
        default_soa="ns1.x.test. hostmaster.x.test. 0 10800 3600 604800 60",
    )
    with pytest.raises(PermanentError, match=f"chmod o\\+x {closed}"):
        _start(config, started)


def test_a_missing_binary_says_what_to_install(config, started):
    broken = PdnsConfig(**{**_fields(config), "binary": "/nonexistent/pdns_server"})
    with pytest.raises(PermanentError, match="install Debian's pdns-server"):
        _start(broken, started)


def test_an_address_this_host_does_not_have_is_named_with_the_setting(config, started):
    elsewhere = PdnsConfig(**{**_fields(config), "dns_addresses": ("192.0.2.53",)})
    with pytest.raises(PermanentError, match=r"192\.0\.2\.53 is not an address of this host"):
        _start(elsewhere, started)
