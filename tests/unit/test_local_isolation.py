"""Pure decisions of the local runtime's isolation: whose a system user is, what a /proc
status says, whether a process is our Caddy, and what a site's PHP-FPM pool allows."""

from __future__ import annotations

from pathlib import Path

from hostplane.providers.caddy.identity import is_caddy_of
from hostplane.providers.local.fpm import DISABLED_FUNCTIONS, PhpFpmPools
from hostplane.providers.local.processes import parse_status
from hostplane.providers.local.users import Owner, judge

OURS = Owner("hpaaaaaaaaaaaa")
OLD = Owner("hpaaaaaaaaaaaa", predates_marks=True)


def test_judge_takes_only_this_planes_mark_for_this_site():
    assert judge("hp-a", "hostplane plane=hpaaaaaaaaaaaa site=a", OURS, "a") is None
    assert "another Hostplane control plane (hpbbbb)" in str(
        judge("hp-a", "hostplane plane=hpbbbb site=a", OURS, "a")
    )
    assert "site b of this control plane" in str(
        judge("hp-a", "hostplane plane=hpaaaaaaaaaaaa site=b", OURS, "a")
    )


def test_judge_takes_unmarked_users_only_when_the_store_predates_marks():
    assert judge("hp-a", "", OLD, "a") is None
    assert judge("hp-a", "", OURS, "a") == "is not Hostplane's (no owner mark)"
    assert judge("alice", "", OLD, "a") == "is not Hostplane's (no owner mark)"
    assert judge("hp-a", "Alice,,,", OLD, "a") == "is not Hostplane's (GECOS 'Alice,,,')"


def test_parse_status_reads_every_uid_and_the_state():
    text = "Name:\tsleep\nState:\tS (sleeping)\nUid:\t1001\t1001\t0\t1001\nGid:\t5\t5\t5\t5\n"
    assert parse_status(text) == ({1001, 0}, "S")
    assert parse_status("State:\tZ (zombie)\nUid:\t7\t7\t7\t7\n") == ({7}, "Z")


def test_is_caddy_of_wants_our_program_and_our_config():
    program, config = Path("/usr/bin/caddy"), Path("/var/lib/hostplane-edge/caddy-boot.json")
    ours = b"/usr/bin/caddy\0run\0--config\0/var/lib/hostplane-edge/caddy-boot.json\0"
    assert is_caddy_of(ours, "/usr/bin/caddy", program, config) is None
    assert "program" in str(is_caddy_of(ours, "/usr/bin/python3", program, config))
    other = b"/usr/bin/caddy\0run\0--config\0/etc/caddy/Caddyfile\0"
    assert "/etc/caddy/Caddyfile" in str(is_caddy_of(other, "/usr/bin/caddy", program, config))
    assert "not started as" in str(
        is_caddy_of(b"caddy\0file-server\0", "/usr/bin/caddy", program, config)
    )


def test_a_pool_is_locked_to_its_site_and_its_socket_to_the_edge():
    pools = PhpFpmPools("php-fpm8.2", Path("/run/hp/php-fpm"), Path("/var/lib/hp/php-fpm"), 5)
    config = pools.render("blog", "hp-blog", Path("/srv/hp/sites/blog"), "caddy").splitlines()
    assert {"listen.owner = hp-blog", "listen.group = caddy", "listen.mode = 0660"} <= set(config)
    assert "php_admin_value[open_basedir] = /srv/hp/sites/blog/" in config
    (disabled,) = [line for line in config if line.startswith("php_admin_value[disable_functions]")]
    listed = set(disabled.split(" = ", 1)[1].split(","))
    must = {"exec", "shell_exec", "system", "passthru", "popen", "proc_open", "pcntl_exec"}
    must |= {"pcntl_fork", "mail", "mb_send_mail", "putenv", "dl", "imap_open"}
    assert must <= listed == set(DISABLED_FUNCTIONS)
    assert "php_admin_value[ffi.enable] = false" in config
    assert "php_admin_value[disable_classes] = FFI" in config
