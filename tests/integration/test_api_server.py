"""The API's uvicorn server wakes once a second when idle; a signal still stops it at once,
not after its tick (here made 60 s, so a stop that waited for it would fail the test)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx

from tests.e2e.harness import wait_for
from tests.services import free_port

SERVE = """
import sys
from hostplane.api import server

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

server.TICK = 60.0
server.serve(app, "127.0.0.1", int(sys.argv[1]))
"""


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_sigterm_stops_the_server_without_waiting_for_its_tick():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(port)])
    try:
        wait_for(lambda: _answers(port), "the server to answer")
        time.sleep(0.2)  # in its idle wait, not its first tick
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)  # well under the 60 s tick
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not _answers(port)
