"""The SFTP server's files, for real (root, a real sshd serving): one tenant's change writes
that tenant's keys file alone and reloads nothing; the whole apply regenerates every file from
the state and removes the ones of tenants gone; a file edited by hand is found and put back."""

from __future__ import annotations

import grp
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane.errors import PermanentError, ValidationError
from hostplane.providers.base import Outcome
from hostplane.providers.local.accounts import Account, TenantAccounts
from hostplane.providers.local.users import Owner
from hostplane.providers.openssh.config import SftpState, SftpUser
from hostplane.providers.openssh.server import SftpConfig, SftpServer
from tests.e2e.harness import free_port, host_rootdir, wait_for

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFa5y0g1fJKsVpZXIJfipbDR7WSRAAwRBUK1wGWx3SK4 me@laptop"
GID = grp.getgrnam("nogroup").gr_gid


def user(name: str, *keys: str) -> SftpUser:
    return SftpUser(user=name, gid=GID, keys=keys or (KEY,))


def reloads(server: SftpServer) -> int:
    """SIGHUPs sshd received (LogLevel VERBOSE logs each)."""
    return server.layout.log.read_text().count("Received SIGHUP")


def identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


@pytest.fixture
def sftp() -> Iterator[SftpServer]:
    server = SftpServer(SftpConfig(host_rootdir() / "sftp", "127.0.0.1", free_port()))
    server.apply(SftpState(tuple(user(f"hp-t{i}") for i in range(3))))
    server.start()
    yield server
    server.terminate()


def test_adding_a_tenant_writes_its_keys_file_alone_and_reloads_nothing(sftp: SftpServer):
    keys = sftp.layout.keys_dir
    before = {p.name: identity(p) for p in keys.iterdir()}
    config = identity(sftp.layout.config)
    pid, hups = sftp.running_pid(), reloads(sftp)

    assert sftp.apply_user("hp-new", user("hp-new")) is Outcome.UPDATED
    assert sftp.apply_user("hp-new", user("hp-new")) is Outcome.UNCHANGED

    assert (keys / "hp-new").read_text() == KEY + "\n"
    st = (keys / "hp-new").stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, GID, 0o640)
    assert {p.name: identity(p) for p in keys.iterdir() if p.name != "hp-new"} == before
    assert identity(sftp.layout.config) == config
    assert (sftp.running_pid(), reloads(sftp)) == (pid, hups)


def test_one_tenant_let_out_removes_its_keys_file_alone(sftp: SftpServer):
    keys = sftp.layout.keys_dir
    kept = {n: identity(keys / n) for n in ("hp-t0", "hp-t2")}
    hups = reloads(sftp)
    assert sftp.apply_user("hp-t1", None) is Outcome.DELETED
    assert sftp.apply_user("hp-t1", None) is Outcome.ABSENT
    assert sorted(p.name for p in keys.iterdir()) == ["hp-t0", "hp-t2"]
    assert {n: identity(keys / n) for n in kept} == kept
    assert reloads(sftp) == hups


def test_the_whole_apply_removes_the_files_of_tenants_gone(sftp: SftpServer):
    state = SftpState((user("hp-t0"), user("hp-t2")))
    assert sftp.drift(state) == ["keys/hp-t1"]
    assert sftp.apply(state) is Outcome.UPDATED
    assert sorted(p.name for p in sftp.layout.keys_dir.iterdir()) == ["hp-t0", "hp-t2"]
    assert sftp.in_sync(state)
    assert sftp.apply(state) is Outcome.UNCHANGED


def test_a_keys_file_edited_by_hand_is_found_and_put_back(sftp: SftpServer):
    state = SftpState(tuple(user(f"hp-t{i}") for i in range(3)))
    assert sftp.drift(state) == []
    path = sftp.layout.keys_dir / "hp-t1"
    with path.open("a") as fh:
        fh.write("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBogusBogusBogusBogusBogus x\n")
    (sftp.layout.keys_dir / "hp-stranger").write_text(KEY + "\n")
    os.chmod(sftp.layout.keys_dir / "hp-t2", 0o644)
    assert sftp.drift(state) == ["keys/hp-t1", "keys/hp-t2", "keys/hp-stranger"]
    hups = reloads(sftp)
    sftp.apply(state)
    assert path.read_text() == KEY + "\n"
    assert not (sftp.layout.keys_dir / "hp-stranger").exists()
    assert sftp.in_sync(state)
    assert reloads(sftp) == hups  # keys are read at each login: no reload for them


def test_a_config_edited_by_hand_is_found_and_put_back_checked_and_reloaded(sftp: SftpServer):
    state = SftpState(tuple(user(f"hp-t{i}") for i in range(3)))
    good = sftp.layout.config.read_text()
    sftp.layout.config.write_text(good.replace("ChrootDirectory %h\n", ""))
    assert sftp.drift(state) == ["sshd_config"]
    hups = reloads(sftp)
    sftp.apply_user("hp-t0", user("hp-t0"))  # any apply puts the rendered config back
    assert sftp.layout.config.read_text() == good
    assert sftp.in_sync(state)
    wait_for(lambda: reloads(sftp) == hups + 1, "sshd to reload the config put back", 10)


def test_a_config_sshd_refuses_never_replaces_the_last_good_one(sftp: SftpServer):
    good, real = sftp.layout.config.read_text(), sftp.config
    sftp.config = SftpConfig(real.root, real.bind, real.port, "/bin/false")  # refuses anything
    sftp.layout.config.write_text(good + "# drift\n")
    try:
        with pytest.raises(PermanentError, match="sshd -t"):
            sftp.apply_user("hp-t0", user("hp-t0"))
    finally:
        sftp.config = real  # the fixture's terminate() finds its sshd by this binary
    assert sftp.layout.config.read_text() == good + "# drift\n"  # not replaced by an unchecked one
    assert not sftp.layout.config.with_suffix(".new").exists()


def test_a_keys_file_name_is_a_user_name_never_a_path(sftp: SftpServer):
    for bad in ("../sshd_config", "hp-a/b", ""):
        with pytest.raises(ValidationError):
            sftp.apply_user(bad, None)
    assert sftp.layout.config.exists()


def test_a_tenant_whose_passwd_home_is_not_its_home_is_kept_out():
    """sshd chroots each user to its passwd home (`ChrootDirectory %h`): a tenant's user whose
    home in the user database is anything but the tenant's home gets no keys file."""
    accounts = TenantAccounts(host_rootdir() / "tenants", Owner(f"test-{uuid.uuid4().hex[:8]}"))
    tenant = f"sftpchk{uuid.uuid4().hex[:6]}"
    account = Account(tenant, f"hp-{tenant}")
    accounts.ensure(account)
    try:
        gid = accounts.sftp_group(account)
        assert gid == grp.getgrnam(account.user).gr_gid
        subprocess.run(["usermod", "--home", "/srv", account.user], check=True)
        assert accounts.sftp_group(account) is None
        accounts.ensure(account)  # the account's repair puts its home back
        assert accounts.sftp_group(account) == gid
    finally:
        accounts.remove(account)
    assert accounts.sftp_group(account) is None
