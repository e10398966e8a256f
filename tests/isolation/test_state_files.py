"""The state is private (0600 files in 0700 directories) and the sites' files live outside
it: the data directory here is 0700 and PHP and WordPress sites run all the same, while
neither a site's PHP user nor the edge's user can read the state, the key or the token."""

from __future__ import annotations

import stat
import uuid

from hostplane import naming
from tests.isolation.helpers import Hosted, as_user


def _mode(path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_state_files_are_0600_in_0700_directories(hosted: Hosted):
    data = hosted.cp.data_dir
    assert _mode(data) == 0o700
    dirs = [data / "edge", data / "php-fpm"]
    assert {d.name: _mode(d) for d in dirs} == {d.name: 0o700 for d in dirs}
    files = [
        data / name
        for base in ("state.sqlite3", "workflows.sqlite3")
        for name in (base, f"{base}-wal", f"{base}-shm")
    ]
    files += [data / "secret.key", data / "api-token"]
    files += [data / "edge" / "caddy-last-good.json", data / "edge" / "caddy.log"]
    files += [data / "edge" / "caddy.pid"]
    files += [
        data / "php-fpm" / f"{s}.{e}"
        for s in (hosted.php, hosted.wordpress)
        for e in ("conf", "log")
    ]
    assert sorted((data / "php-fpm").iterdir()) == sorted(files[-4:])
    modes = {str(f.relative_to(data)): _mode(f) for f in files}
    assert modes == {name: 0o600 for name in modes}, modes


def test_neither_a_sites_user_nor_the_edge_can_read_the_state(hosted: Hosted):
    data = hosted.cp.data_dir
    secrets = [data / "state.sqlite3", data / "secret.key", data / "api-token"]
    for user in (naming.site_system_user(hosted.php), naming.site_system_user(hosted.wordpress)):
        for path in secrets:
            result = as_user(user, "cat", str(path))
            assert result.returncode != 0 and "Permission denied" in result.stderr, (user, path)
            assert result.stdout == ""
    for path in secrets:
        result = as_user("caddy", "cat", str(path))
        assert result.returncode != 0 and "Permission denied" in result.stderr, path


def test_a_sites_php_cannot_read_the_state_either(hosted: Hosted):
    data = hosted.cp.data_dir
    script = hosted.webroot(hosted.php) / f"read-{uuid.uuid4().hex[:6]}.php"
    paths = [data / "api-token", data / "secret.key", data / "state.sqlite3", "/etc/passwd"]
    script.write_text(
        "<?php\n"
        + "".join(f"echo json_encode(@file_get_contents('{p}')), \"\\n\";\n" for p in paths)
        + "echo ini_get('open_basedir');\n"
    )
    try:
        page = hosted.cp.edge_get(hosted.host(hosted.php), f"/{script.name}")
    finally:
        script.unlink()
    assert page.status_code == 200, page.text
    *read, basedir = page.text.splitlines()
    assert read == ["false"] * len(paths), page.text
    assert basedir == f"{hosted.cp.site_dir(hosted.php)}/"
    assert hosted.cp.token not in page.text
