"""The tenant's pure rules: its name (a DNS label that is a Linux user name, reserved names
refused), its system user, the limits of its plan, and the SFTP server's generated files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hostplane.errors import ConflictError, ValidationError
from hostplane.kinds.tenant.model import (
    TENANT_NAME_PATTERN,
    Limit,
    Limits,
    check_limit,
    over_limits,
    system_user,
    validate_tenant_name,
)
from hostplane.providers.openssh.config import (
    SftpLayout,
    check_user,
    fingerprint,
    parse_public_key,
    render_config,
)

# ssh-keygen -t ed25519 -C me@laptop (a key made for this test; nothing it opens exists)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFa5y0g1fJKsVpZXIJfipbDR7WSRAAwRBUK1wGWx3SK4 me@laptop"
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]*[$]?$")  # useradd's NAME_REGEX on Debian


@pytest.mark.parametrize("name", ["a", "acme", "acme-shop", "a1", "x" * 32])
def test_good_names_pass_both_rules(name):
    assert validate_tenant_name(name) == name
    assert re.fullmatch(TENANT_NAME_PATTERN, name)
    assert USER_NAME.fullmatch(name) and len(name) <= 32


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("x" * 33, "33 characters"),
        ("Acme", "uppercase"),
        ("1acme", "not valid"),
        ("acme-", "not valid"),
        ("ac_me", "not valid"),
        ("root", "reserved"),
        ("www-data", "reserved"),
        ("admin", "reserved"),
        ("hp-x", "reserved"),
        ("xn--abc", "reserved"),
        ("systemd-x", "reserved"),
    ],
)
def test_bad_names_are_refused_saying_why(name, why):
    with pytest.raises(ValidationError, match=why):
        validate_tenant_name(name)
    assert not re.fullmatch(TENANT_NAME_PATTERN, name)


def test_the_system_user_is_hp_name_and_fits_linux():
    assert system_user("acme") == "hp-acme"
    long = system_user("y" * 63)  # a tenant made for a site with a long name
    assert len(long) <= 32 and long.startswith("hp-") and USER_NAME.fullmatch(long)


def test_a_limit_refuses_one_more_naming_limit_and_usage():
    limits = Limits(
        sites=2, databases=1, caches=1, disk_mb=100, php_workers=4, zones=1, cache_memory_mb=64
    )
    check_limit("acme", "small", limits, Limit.SITES, 1)
    with pytest.raises(ConflictError, match=r"limit of sites: 2 of 2 \(plan 'small'\)"):
        check_limit("acme", "small", limits, Limit.SITES, 2)
    check_limit("acme", "small", limits, Limit.CACHE_MEMORY_MB, 32, 32)  # exactly full
    with pytest.raises(
        ConflictError, match=r"limit of cache_memory_mb: 32 of 64, 33 more asked \(plan 'small'\)"
    ):
        check_limit("acme", "small", limits, Limit.CACHE_MEMORY_MB, 32, 33)
    assert over_limits(limits, {"disk_mb": 120, "sites": 2}) == ["disk_mb: 120 of 100"]


def test_public_keys_are_parsed_and_fingerprinted_as_openssh_does():
    algorithm, blob, comment = parse_public_key(KEY + "\n")
    assert (algorithm, comment) == ("ssh-ed25519", "me@laptop")
    assert fingerprint(blob).startswith("SHA256:") and "=" not in fingerprint(blob)
    for bad in ("", "ssh-ed25519", 'command="sh" ' + KEY, "ssh-dss AAAA x", KEY + "\n" + KEY):
        with pytest.raises(ValidationError):
            parse_public_key(bad)
    with pytest.raises(ValidationError, match="does not decode"):
        parse_public_key("ssh-ed25519 AAAAbroken")


def test_sshd_config_names_no_tenant_and_chroots_every_user_to_its_home():
    """The same config for any set of tenants (a tenant is its keys file alone), every user
    chrooted, sftp only, keys only, no forwarding, no TTY."""
    layout = SftpLayout(Path("/var/lib/hostplane-sftp"))
    config = render_config(layout, "127.0.0.1", 2222, "hp-*")
    assert "AllowUsers hp-*\n" in config
    assert "ChrootDirectory %h\n" in config
    assert "Match" not in config  # no block a user could fall outside of
    assert 'AuthorizedKeysFile "/var/lib/hostplane-sftp/keys"/%u\n' in config
    for line in (
        "PasswordAuthentication no",
        "ForceCommand internal-sftp -d /web",
        "PermitTTY no",
        "AllowTcpForwarding no",
        "X11Forwarding no",
        "PermitRootLogin no",
    ):
        assert f"{line}\n" in config
    for bad in ("hp-a\nX", "*", "hp-a", "hp-a b*"):
        with pytest.raises(ValidationError):
            render_config(layout, "127.0.0.1", 2222, bad)
    for bad in ("../etc", "hp-a/b", ""):
        with pytest.raises(ValidationError):
            check_user(bad)
