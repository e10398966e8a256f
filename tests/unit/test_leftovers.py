"""Which leftovers of an earlier test run are cleared (tests/leftovers.py): pure decisions."""

from __future__ import annotations

from pathlib import Path

from tests.leftovers import dirs_named, haproxy_config, host_dir_of, is_abandoned


def test_only_paths_in_the_tests_host_directories_are_considered():
    assert host_dir_of("/tmp/hostplane-host-ab12/sites/blog") == Path("/tmp/hostplane-host-ab12")
    assert host_dir_of("/tmp/hostplane-host-ab12") == Path("/tmp/hostplane-host-ab12")
    assert host_dir_of("/srv/hostplane/sites/blog") is None  # a real plane's site
    assert host_dir_of("/tmp/other/hostplane-host-x") is None
    assert host_dir_of("/home/hostplane-host-x") is None


def test_paths_in_the_tests_root_directories_are_considered_too():
    """Tenants' homes and the SFTP server's files are in /srv/hostplane-test/hostplane-test-*."""
    root = Path("/srv/hostplane-test/hostplane-test-cd34")
    assert host_dir_of(f"{root}/tenants/acme") == root
    assert host_dir_of(f"{root}/sftp/sshd_config") == root
    assert host_dir_of(str(root)) == root
    assert host_dir_of("/srv/hostplane-test/other/tenants/acme") is None
    assert host_dir_of("/srv/hostplane/tenants/acme") is None  # a real plane's tenant
    assert host_dir_of("/srv/hostplane-test") is None


def test_a_directory_is_abandoned_when_it_or_its_test_process_is_gone():
    assert is_abandoned(False, None, None)  # gone: nobody can be using it
    assert is_abandoned(True, "123 456", None)  # its process is gone
    assert is_abandoned(True, "123 456", "123 999")  # its pid now names another process
    assert not is_abandoned(True, "123 456", "123 456")  # its run goes on
    assert not is_abandoned(True, None, None)  # no record: an older harness's, left alone


def test_the_test_directories_a_command_line_names_are_found():
    root, host = "/srv/hostplane-test/hostplane-test-cd34", "/tmp/hostplane-host-ab12"
    sshd = f"sshd: /usr/sbin/sshd -D -f {root}/sftp/sshd_config -E {root}/sftp/sshd.log [listener]"
    assert dirs_named(sshd) == {Path(root)}
    assert dirs_named(f"caddy\0run\0--config={host}/edge/caddy-boot.json") == {Path(host)}
    assert dirs_named(f"pdns_server\0--config-dir={host}\0--socket-dir={root}/x") == {
        Path(host),
        Path(root),
    }
    assert dirs_named("sshd: /usr/sbin/sshd -D [listener]") == set()  # the host's own sshd
    assert dirs_named("sleep 300 /srv/hostplane/tenants/acme") == set()


def test_an_haproxy_front_is_known_by_the_test_directories_its_config_names(tmp_path: Path):
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        "global\n  stats socket /tmp/hostplane-host-ef56/run/edge/haproxy.sock mode 600\n"
    )
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cmdline").write_bytes(b"/usr/sbin/haproxy\0-db\0-f\0" + str(config).encode() + b"\0")
    named = haproxy_config(proc).decode()
    assert dirs_named(named) == {Path("/tmp/hostplane-host-ef56")}
    (proc / "cmdline").write_bytes(b"/usr/bin/caddy\0run\0--config\0" + str(config).encode())
    assert haproxy_config(proc) == b""  # only an HAProxy's config is read
    config.unlink()
    (proc / "cmdline").write_bytes(b"/usr/sbin/haproxy\0-db\0-f\0" + str(config).encode())
    assert haproxy_config(proc) == b""  # its config gone: nothing to tell
