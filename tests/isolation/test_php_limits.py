"""PHP gets no tools to break out: no function that starts a program works (the marker each
would create never appears), and a pool's socket is its site's and the edge's alone."""

from __future__ import annotations

import json
import pwd
import stat
import sys
import uuid

from hostplane import naming
from tests.isolation.helpers import Hosted, as_user

ATTEMPTS = {
    "shell_exec": "shell_exec('touch {m}');",
    "backticks": "`touch {m}`;",
    "system": "system('touch {m}');",
    "exec": "exec('touch {m}');",
    "passthru": "passthru('touch {m}');",
    "popen": "$h = popen('touch {m}', 'r');",
    "proc_open": "proc_open('touch {m}', [], $pipes);",
    "pcntl_exec": "pcntl_exec('/usr/bin/touch', ['{m}']);",
    "pcntl_fork": "pcntl_fork();",
    "putenv": "putenv('LD_PRELOAD=/tmp/x.so');",
    "dl": "dl('x.so');",
    "imap_open": "imap_open('{{x -oProxyCommand=touch}}', 'a', 'b');",
    "mb_send_mail": "mb_send_mail('a@example.org', 's', 'b', '', '-X{m}');",
    "ffi": "FFI::cdef('int system(const char *c);', 'libc.so.6')->system('touch {m}');",
    "mail": "if (mail('a@example.org', 's', 'b', '', '-X{m}')) {{ echo 'sent'; }}",
}


def _script(markers: dict[str, str]) -> str:
    lines = ["<?php", "$r = [];"]
    for name, code in ATTEMPTS.items():
        body = code.format(m=markers[name])
        lines.append(
            f"try {{ {body} $r['{name}'] = 'ran'; }} "
            f"catch (Throwable $e) {{ $r['{name}'] = get_class($e) . ': ' . $e->getMessage(); }}"
        )
    lines.append("echo json_encode($r);")
    return "\n".join(lines) + "\n"


def test_php_can_start_no_program(hosted: Hosted):
    tmp = hosted.cp.site_dir(hosted.php) / "tmp"  # the site's own user may write here
    tag = uuid.uuid4().hex[:6]
    markers = {name: str(tmp / f"ran-{name}-{tag}") for name in ATTEMPTS}
    script = hosted.webroot(hosted.php) / f"escape-{tag}.php"
    script.write_text(_script(markers))
    try:
        page = hosted.cp.edge_get(hosted.host(hosted.php), f"/{script.name}")
    finally:
        script.unlink()
    assert page.status_code == 200, page.text[:500]
    results = json.loads(page.text)
    ran = sorted(name for name in markers if (tmp / markers[name].rsplit("/", 1)[1]).exists())
    assert ran == [], (ran, results)
    undefined = {k: v for k, v in results.items() if "Call to undefined function" in v}
    assert set(undefined) == set(ATTEMPTS) - {"ffi", "mail"}, results
    assert "FFI" in results["ffi"] and results["ffi"] != "ran", results["ffi"]
    assert results["mail"] == "ran"  # Hostplane's mail() stands in: it sends nothing


def test_a_pool_socket_is_its_sites_and_the_edges_only(hosted: Hosted):
    sock = hosted.cp.run_dir / "php-fpm" / f"{hosted.php}.sock"
    st = sock.lstat()
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert pwd.getpwuid(st.st_uid).pw_name == naming.site_system_user(hosted.php)
    assert st.st_gid == pwd.getpwnam("caddy").pw_gid
    connect = (
        "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
        "print('connected')"
    )
    other = as_user(
        naming.site_system_user(hosted.wordpress), sys.executable, "-c", connect, str(sock)
    )
    assert other.returncode != 0 and "PermissionError" in other.stderr, other.stdout
    stranger = as_user("nobody", sys.executable, "-c", connect, str(sock))
    assert stranger.returncode != 0 and "PermissionError" in stranger.stderr
    edge = as_user("caddy", sys.executable, "-c", connect, str(sock))
    assert edge.stdout.strip() == "connected", edge.stderr  # the edge itself can
