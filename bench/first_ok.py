"""A poller in a process of its own: for each line `PORT HOST` read from stdin, it asks
http://127.0.0.1:PORT/ for HOST until the answer is a 200 and prints the `time.monotonic()` of
that answer (the clock every process of the machine shares), or `timeout`.

bench/provision.py measures both of its sides with it, the same way: started before the clock,
it takes no CPU from the process doing the work (its GIL, its event loop), and it asks every
5 ms while the edge has no route for the host (a 404 from the edge alone, cheap) but every
50 ms once the host is routed and not yet ready (a WordPress before its install answers each
request with PHP: asked every 5 ms, it would slow the install it waits for). Standard library
only, so it starts in a moment.
"""

from __future__ import annotations

import http.client
import sys
import time

UNROUTED_S, ROUTED_S, TIMEOUT_S = 0.005, 0.05, 120.0


def status(conn: http.client.HTTPConnection, host: str) -> int | None:
    try:
        conn.request("GET", "/", headers={"Host": host})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        conn.close()
        return None


def first_ok(port: int, host: str) -> float | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            code = status(conn, host)
            if code == 200:
                return time.monotonic()
            time.sleep(UNROUTED_S if code in (None, 404) else ROUTED_S)
        return None
    finally:
        conn.close()


def main() -> None:
    print("ready", flush=True)
    for line in sys.stdin:
        port, host = line.split()
        at = first_ok(int(port), host)
        print("timeout" if at is None else repr(at), flush=True)


if __name__ == "__main__":
    main()
