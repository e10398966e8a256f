"""Refreshing Cloudflare's ranges. cloudflare.com cannot be reached from here, so its two list
URLs are played by a FAKE: a plain HTTP server on loopback serving lists in the same format."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane.errors import PermanentError, TemporaryError
from hostplane.providers.dnscheck.resolver import cloudflare_ranges, refresh_cloudflare_ranges

HOSTCTL = str(Path(sys.executable).parent / "hostctl")


@pytest.fixture
def fake_cloudflare() -> Iterator[dict[str, tuple[int, str]]]:
    pages: dict[str, tuple[int, str]] = {
        "/ips-v4": (200, "104.16.0.0/13\n172.64.0.0/13\n"),
        "/ips-v6": (200, "2606:4700::/32\n"),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            status, body = pages.get(self.path, (404, "not found"))
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body.encode())

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pages["base"] = (0, f"http://127.0.0.1:{server.server_address[1]}")
    yield pages
    server.shutdown()


def _urls(pages: dict[str, tuple[int, str]]) -> list[str]:
    base = pages["base"][1]
    return [f"{base}/ips-v4", f"{base}/ips-v6"]


def test_refresh_replaces_the_shipped_list(fake_cloudflare, tmp_path):
    shipped = cloudflare_ranges(tmp_path)
    assert len(shipped) > 10
    refreshed = refresh_cloudflare_ranges(tmp_path, _urls(fake_cloudflare))
    assert [str(n) for n in refreshed] == ["104.16.0.0/13", "172.64.0.0/13", "2606:4700::/32"]
    assert cloudflare_ranges(tmp_path) == refreshed


def test_a_bad_or_empty_answer_writes_nothing(fake_cloudflare, tmp_path):
    fake_cloudflare["/ips-v6"] = (200, "<html>maintenance</html>")
    with pytest.raises(PermanentError, match="list of networks"):
        refresh_cloudflare_ranges(tmp_path, _urls(fake_cloudflare))
    fake_cloudflare["/ips-v6"] = (200, "")
    with pytest.raises(PermanentError, match="empty"):
        refresh_cloudflare_ranges(tmp_path, _urls(fake_cloudflare))
    fake_cloudflare["/ips-v6"] = (503, "busy")
    with pytest.raises(TemporaryError):
        refresh_cloudflare_ranges(tmp_path, _urls(fake_cloudflare))
    assert not (tmp_path / "cloudflare-ips.txt").exists()


def test_the_cli_command(fake_cloudflare, tmp_path):
    args = [HOSTCTL, "dns", "refresh-cloudflare-ranges"]
    for url in _urls(fake_cloudflare):
        args += ["--url", url]
    env = {**os.environ, "HOSTPLANE_DATA_DIR": str(tmp_path)}
    ok = subprocess.run(args, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "3 ranges (2 IPv4, 1 IPv6)" in ok.stdout
    fake_cloudflare["/ips-v4"] = (500, "oops")
    bad = subprocess.run(args, env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "cannot fetch Cloudflare's ranges" in bad.stderr
