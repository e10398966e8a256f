"""Settings: environment over TOML over defaults; tokens that protect nothing are refused."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from hostplane.errors import ValidationError
from hostplane.settings import Settings
from hostplane.tokens import check_token


def test_defaults(monkeypatch):
    for var in ("HOSTPLANE_BASE_DOMAIN", "HOSTPLANE_LISTEN", "HOSTPLANE_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    s = Settings.load()
    assert s.base_domain == "localhost"
    assert s.listen == "127.0.0.1:8090"
    assert s.state_database_url == "sqlite:////var/lib/hostplane/state.sqlite3"


def test_environment_beats_toml_beats_defaults(tmp_path, monkeypatch):
    cfg = tmp_path / "hp.toml"
    cfg.write_text('[hostplane]\nbase_domain = "hosting.example.org"\nlisten = "127.0.0.1:9999"\n')
    monkeypatch.setenv("HOSTPLANE_LISTEN", "127.0.0.1:7777")
    s = Settings.load(cfg)
    assert s.base_domain == "hosting.example.org"
    assert s.listen == "127.0.0.1:7777"


def test_bad_toml_and_missing_file_say_so(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("base_domain = ")
    with pytest.raises(ValidationError, match="not valid TOML"):
        Settings.load(bad)
    with pytest.raises(ValidationError, match="does not exist"):
        Settings.load(tmp_path / "missing.toml")


def test_postgres_workflow_database_is_derived():
    s = Settings(database_url="postgresql://u@127.0.0.1:5432/hp?sslmode=disable")
    assert s.workflow_db_url == "postgresql://u@127.0.0.1:5432/hp_workflows?sslmode=disable"


@pytest.mark.parametrize("token", ["", "   ", "changeme", "SECRET", "short-token"])
def test_useless_tokens_are_refused(token):
    with pytest.raises(ValidationError):
        check_token(token)


def test_configured_empty_token_is_refused():
    with pytest.raises(ValidationError, match="empty"):
        Settings(api_tokens="").configured_tokens()
    with pytest.raises(ValidationError, match="empty"):
        Settings(api_tokens="a-very-long-random-token-1234,").configured_tokens()


def test_bad_base_domain_is_refused():
    with pytest.raises(ValueError, match="base domain"):
        Settings(base_domain="not a domain")


def test_sites_and_sockets_live_outside_the_data_directory(monkeypatch):
    for var in ("HOSTPLANE_DATA_DIR", "HOSTPLANE_SITES_DIR", "HOSTPLANE_RUN_DIR"):
        monkeypatch.delenv(var, raising=False)
    s = Settings.load()
    assert s.sites_dir == Path("/srv/hostplane/sites")
    assert s.run_dir == Path("/run/hostplane")
    assert s.caddy_admin == "unix:///run/hostplane/edge/admin.sock"
    assert s.managed_caddy and not s.edge_stop_on_exit


def test_an_external_caddy_is_reached_over_http_or_a_unix_socket():
    assert Settings(caddy_admin_url="unix:///run/caddy/admin.sock").caddy_admin == (
        "unix:///run/caddy/admin.sock"
    )
    assert Settings(caddy_admin_url="http://127.0.0.1:2019/").caddy_admin == (
        "http://127.0.0.1:2019"
    )
    with pytest.raises(ValueError, match=r"unix:///absolute/path"):
        Settings(caddy_admin_url="127.0.0.1:2019")


def test_the_old_tcp_admin_listen_setting_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="private unix socket"):
        Settings(caddy_admin_listen="127.0.0.1:2019")


def test_directories_must_be_absolute():
    with pytest.raises(ValueError, match="absolute path"):
        Settings(sites_dir="srv/sites")


@pytest.mark.parametrize("given", ["16400", "16999-16400", "80-90", "16400-70000", "a-b", ""])
def test_cache_ports_must_be_a_range_of_unprivileged_ports(given):
    with pytest.raises(pydantic.ValidationError, match="first-last, both from 1024 to 65535"):
        Settings(cache_ports=given)


def test_cache_ports_are_normalized():
    assert Settings(cache_ports=" 16400 - 16410 ").cache_ports == "16400-16410"
    assert Settings().cache_ports == "16400-16999"
