"""The edge serves only what is public: it runs as its own user, so a link in a webroot to a
secret (the API token, secret.key, the state database, another site's wp-config.php,
/etc/shadow) answers 403/404, and no `..` or escape leaves the webroot."""

from __future__ import annotations

import os
import pwd
import uuid
from pathlib import Path

import pytest

from tests.isolation.helpers import Answer, Hosted, proc_status, raw_get

NET_BIND_SERVICE = f"{1 << 10:016x}"


def test_the_edge_runs_as_caddy_with_only_the_capability_to_bind_ports(hosted: Hosted):
    pid = hosted.cp.edge_pid()
    assert pid is not None
    caddy = pwd.getpwnam("caddy")
    status = proc_status(pid)
    assert status["Uid"].split() == [str(caddy.pw_uid)] * 4
    assert status["Gid"].split() == [str(caddy.pw_gid)] * 4
    assert status["Groups"] == ""
    for caps in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
        assert status[caps] == NET_BIND_SERVICE, (caps, status[caps])
    assert status["NoNewPrivs"] == "1"
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert not [e for e in environ if e.startswith(b"HOSTPLANE_")], environ


def _secrets(hosted: Hosted) -> dict[str, Path]:
    data = hosted.cp.data_dir
    return {
        "token": data / "api-token",
        "key": data / "secret.key",
        "state": data / "state.sqlite3",
        "wpconfig": hosted.webroot(hosted.wordpress) / "wp-config.php",
        "shadow": Path("/etc/shadow"),
    }


@pytest.mark.parametrize("where", ["static", "wordpress"])
def test_links_in_a_webroot_to_secrets_never_serve_them(hosted: Hosted, where: str):
    site = getattr(hosted, where)
    public = hosted.webroot(site)
    folder = public if where == "static" else public / "wp-content" / "uploads"
    prefix = "/" if where == "static" else "/wp-content/uploads/"
    tag = uuid.uuid4().hex[:6]
    made: list[Path] = []
    answers = {}
    try:
        for name, target in _secrets(hosted).items():
            for kind in ("sym", "hard"):
                link = folder / f"{kind}-{name}-{tag}.txt"
                if kind == "sym":
                    link.symlink_to(target)
                else:
                    os.link(target, link)  # as root: the worst case of a link being there
                made.append(link)
                answer = raw_get(hosted.cp.edge_port, hosted.host(site), prefix + link.name)
                secret = target.read_bytes()[:64]
                assert secret and secret not in answer.body, (name, kind)
                answers[f"{kind}:{name}"] = answer
        folder_link = folder / f"dir-{tag}"
        folder_link.symlink_to(hosted.cp.data_dir)
        made.append(folder_link)
        answer = raw_get(
            hosted.cp.edge_port, hosted.host(site), f"{prefix}{folder_link.name}/api-token"
        )
        assert hosted.cp.token.encode() not in answer.body
        answers["dir:token"] = answer
    finally:
        for link in made:
            link.unlink(missing_ok=True)
    _refused_or_wordpress(answers)


def _refused_or_wordpress(answers: dict[str, Answer]) -> None:
    """The edge refuses (403: its user may not read the file; 404: not there); for a WordPress
    site a path the edge cannot use is WordPress's to answer (its front controller, as for any
    unknown path), never the file's."""
    wrong = {
        k: a.status
        for k, a in answers.items()
        if a.status not in (403, 404) and not a.from_wordpress
    }
    assert not wrong, wrong


TRAVERSALS = [
    "/../{f}",
    "/../../../../../../etc/passwd",
    "/%2e%2e/{f}",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f{f}",
    "/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e%2f{f}",
    "/.%2e/{f}",
    "/%252e%252e/{f}",
    "/%252e%252e%252f{f}",
    "/..%252f{f}",
    "/..%5c{f}",
    "/%2e%2e%5c{f}",
    "//../{f}",
    "/./../{f}",
    "/public/../../{f}",
]


@pytest.mark.parametrize("where", ["static", "wordpress"])
def test_dot_dot_and_encoded_paths_stay_in_the_webroot(hosted: Hosted, where: str):
    """A file beside the webroot that the edge's user CAN read: only the path handling keeps
    it out. /etc/passwd, world-readable, likewise."""
    site = getattr(hosted, where)
    outside = hosted.cp.site_dir(site) / f"outside-{uuid.uuid4().hex[:6]}.txt"
    canary = f"CANARY-{uuid.uuid4().hex}".encode()
    outside.write_bytes(canary)
    outside.chmod(0o644)
    answers = {}
    try:
        for template in TRAVERSALS:
            target = template.format(f=outside.name)
            answer = raw_get(hosted.cp.edge_port, hosted.host(site), target)
            assert canary not in answer.body and b"root:x:0:0" not in answer.body, target
            answers[target] = answer
    finally:
        outside.unlink()
    _refused_or_wordpress(answers)
