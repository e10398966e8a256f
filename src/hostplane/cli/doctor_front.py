"""`hostctl doctor`'s checks of the HAProxy front (the default with a managed Caddy): its binary,
the managed process (proved ours as process.py proves it), its runtime socket, the host map
it serves against the file its next start loads, and Caddy behind it on its socket.
Read-only: nothing here starts, changes or adopts anything."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from hostplane.errors import HostplaneError, ProviderError
from hostplane.providers.haproxy.hostmap import HostMap
from hostplane.providers.haproxy.layout import FrontLayout
from hostplane.providers.haproxy.process import haproxy_exe, why_not_ours
from hostplane.providers.haproxy.runtime import FLUSH_DELAY, RuntimeHostMap
from hostplane.services import front_layout
from hostplane.settings import Settings

Probe = tuple[str, Callable[[], str], bool]  # name, probe, required
SAMPLE = 3  # hosts named per difference in the map's summary


class Skipped(Exception):
    """The check does not apply to this plane's settings; the message says why."""


def front_probes(settings: Settings) -> list[Probe]:
    if settings.edge_front != "haproxy":
        why = (
            "HOSTPLANE_EDGE_FRONT=caddy"
            if settings.managed_caddy
            else "the operator's own, HOSTPLANE_CADDY_ADMIN_URL, which HAProxy cannot front"
        )

        def skipped() -> str:
            raise Skipped(f"Caddy is the edge ({why}): no HAProxy to check")

        return [("haproxy front", skipped, False)]
    layout = front_layout(settings)
    return [
        ("haproxy binary", lambda: _binary(settings), True),
        ("haproxy process", lambda: _process(settings, layout), True),
        ("haproxy runtime socket", lambda: _runtime(layout), True),
        ("haproxy host map", lambda: _host_map(layout), False),
        ("caddy behind", lambda: _behind(settings.caddy_behind_socket), True),
    ]


def _binary(settings: Settings) -> str:
    exe = haproxy_exe(settings.haproxy_binary)
    out = subprocess.run([exe, "-v"], capture_output=True, text=True, timeout=10, check=True)
    return f"{out.stdout.splitlines()[0]} ({exe})"


def _process(settings: Settings, layout: FrontLayout) -> str:
    if os.geteuid() != 0:
        raise HostplaneError(
            f"the managed HAProxy's files in {layout.root} are root's: run hostctl doctor as root"
        )
    try:
        pid = int(layout.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        raise HostplaneError(
            f"no pid in {layout.pid_file}: the managed HAProxy is not running; "
            "`hostctl up` starts it"
        ) from None
    reason = why_not_ours(pid, haproxy_exe(settings.haproxy_binary), layout.config, layout.socket)
    if reason is not None:
        raise HostplaneError(
            f"pid {pid} of {layout.pid_file} is not the HAProxy this plane started: {reason}; "
            "restart the control plane (`hostctl up` replaces it)"
        )
    return f"pid {pid} runs {layout.config} and serves {layout.socket}"


def _runtime(layout: FrontLayout) -> str:
    try:
        answer = RuntimeHostMap(layout.socket, layout.hosts_map, timeout=3).call("show info")
    except ProviderError as exc:
        raise HostplaneError(
            f"HAProxy's runtime socket {layout.socket} does not answer `show info` "
            f"({exc.detail}): see the haproxy process line; `hostctl up` starts it"
        ) from None
    info = dict(line.split(": ", 1) for line in answer.splitlines() if ": " in line)
    if "Pid" not in info:
        raise HostplaneError(f"{layout.socket} answered `show info` with {answer[:200]!r}")
    return f"`show info` answers: HAProxy {info.get('Version', '?')}, pid {info['Pid']}, " + (
        f"up {info.get('Uptime', '?')}"
    )


def read_map_file(path: Path) -> HostMap:
    """The entries of a map file as render_file writes it (`<host> <value>` lines)."""
    entries: HostMap = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            host, _, value = line.partition(" ")
            entries[host] = value.strip()
    return entries


def _host_map(layout: FrontLayout) -> str:
    """The running map against the file; the file follows a change within FLUSH_DELAY, so a
    difference is looked at again once after that before it is reported."""
    running = RuntimeHostMap(layout.socket, layout.hosts_map, timeout=5)
    if not layout.hosts_map.exists():
        raise HostplaneError(f"no map file at {layout.hosts_map}: `hostctl regenerate` writes it")
    for attempt in range(2):
        live, on_disk = running.observe(), read_map_file(layout.hosts_map)
        if live == on_disk:
            return f"{len(live)} hosts in HAProxy and in {layout.hosts_map}"
        if attempt == 0:
            time.sleep(FLUSH_DELAY * 3)
    raise HostplaneError(
        f"HAProxy serves {len(live)} hosts, {layout.hosts_map} has {len(on_disk)} "
        f"({map_difference(live, on_disk)}): its next start would serve the file until the "
        "plane's apply; `hostctl regenerate` rewrites both from the database"
    )


def map_difference(live: HostMap, on_disk: HostMap) -> str:
    """A summary of how two maps differ, a few hosts named per kind of difference."""
    parts = []
    for what, hosts in (
        ("only in HAProxy", live.keys() - on_disk.keys()),
        ("only in the file", on_disk.keys() - live.keys()),
        ("with another value", {h for h in live.keys() & on_disk.keys() if live[h] != on_disk[h]}),
    ):
        if hosts:
            named = ", ".join(sorted(hosts)[:SAMPLE]) + (", ..." if len(hosts) > SAMPLE else "")
            parts.append(f"{len(hosts)} {what}: {named}")
    return "; ".join(parts)


def _behind(socket: Path) -> str:
    """Caddy behind answers a request that carries no X-Hp-* header (one HAProxy did not
    send) with its own 404: reachable, and running the config behind the front."""
    transport = httpx.HTTPTransport(uds=str(socket))
    try:
        with httpx.Client(transport=transport, timeout=3) as client:
            answer = client.get("http://behind/")
    except httpx.HTTPError as exc:
        raise HostplaneError(
            f"Caddy behind HAProxy does not answer on {socket}: {exc}; see the edge line "
            "(`hostctl up` starts Caddy, `hostctl regenerate` loads its config)"
        ) from None
    if answer.status_code != 404 or answer.text != "not found\n":
        raise HostplaneError(
            f"{socket} answers {answer.status_code}, not as Caddy behind the front: "
            "`hostctl regenerate` loads its config"
        )
    return f"Caddy answers on {socket}"
