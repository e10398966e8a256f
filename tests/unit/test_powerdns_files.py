"""The managed PowerDNS's files (providers/powerdns/files.py) and the DNS settings: the key kept
once and 0600, only its hash in the config, no lookups to the internet, defaults that work on a
fresh machine."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import threading
from pathlib import Path

import pydantic
import pytest

from hostplane.errors import PermanentError
from hostplane.providers.powerdns import files
from hostplane.settings import Settings


def _config(root: Path) -> files.PdnsConfig:
    return files.PdnsConfig(
        root=root,
        dns_addresses=("127.0.0.1", "::1"),
        dns_port=5353,
        api_host="127.0.0.1",
        api_port=8081,
        default_soa="ns1.example.net. hostmaster.example.net. 0 10800 3600 604800 300",
    )


def _options(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_the_config_holds_a_hash_of_the_key_and_never_asks_the_internet(tmp_path):
    key = "k" * 43
    options = _options(files.render(_config(tmp_path), key, drop_to_user=True))
    assert key not in str(options)
    assert options["security-poll-suffix"] == ""  # no security poll lookups
    assert options["local-address"] == "127.0.0.1, ::1" and options["local-port"] == "5353"
    assert options["webserver-address"] == "127.0.0.1"
    assert options["webserver-allow-from"] == "127.0.0.0/8,::1/128"
    assert options["setuid"] == options["setgid"] == "pdns"
    assert options["default-soa-content"].startswith("ns1.example.net. ")
    assert options["gsqlite3-database"] == str(tmp_path / "db" / "pdns.sqlite3")
    assert "setuid" not in _options(files.render(_config(tmp_path), key, drop_to_user=False))


def test_the_hash_is_powerdns_scrypt_format_of_the_key_and_stable(tmp_path):
    key = "some-random-key"
    hashed = files.hashed_key(key)
    _, scheme, params, salt, digest = hashed.split("$")
    assert scheme == "scrypt" and params == f"ln={files.SCRYPT_LN},p=1,r=8"
    expected = hashlib.scrypt(
        key.encode(), salt=base64.b64decode(salt), n=2**files.SCRYPT_LN, r=8, p=1, dklen=32
    )
    assert base64.b64decode(digest) == expected
    assert files.hashed_key(key) == hashed  # the same config at every start
    assert files.hashed_key(key + "x") != hashed


def test_the_key_is_made_once_0600_and_shared_by_processes_starting_together(tmp_path):
    root = tmp_path / "powerdns"
    assert files.read_api_key(root) is None
    keys: list[str] = []
    threads = [threading.Thread(target=lambda: keys.append(files.api_key(root))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) >= 40
    assert (root / "api-key").stat().st_mode & 0o777 == 0o600
    assert files.api_key(root) == keys[0] == files.read_api_key(root)
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp files left


def test_the_schema_is_loaded_whole_from_debians_file(tmp_path):
    database = tmp_path / "pdns.sqlite3"
    files.load_schema(database, files.SCHEMA)
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"domains", "records", "comments", "domainmetadata"} <= tables
    with pytest.raises(PermanentError, match="install Debian's pdns-backend-sqlite3"):
        files.load_schema(tmp_path / "other.sqlite3", tmp_path / "missing.sql")
    assert not (tmp_path / "other.sqlite3").exists()


def test_dns_defaults_work_on_a_fresh_machine():
    settings = Settings()
    assert settings.dns_port == 53 and settings.dns_bind_addresses == ("127.0.0.1",)
    assert settings.managed_powerdns and settings.pdns_api == "http://127.0.0.1:8081"
    assert settings.zone_nameservers == ("ns1.localhost.",)
    assert settings.zone_hostmaster == "hostmaster.localhost."
    on_a_domain = Settings(base_domain="hosting.example.org")
    assert on_a_domain.zone_nameservers == ("ns1.hosting.example.org.",)


def test_dns_settings_are_normalized():
    settings = Settings(
        dns_nameservers="NS1.Example.NET., ns2.example.net",
        dns_hostmaster="DNS@Example.com",
        dns_bind="0.0.0.0, ::",
    )
    assert settings.zone_nameservers == ("ns1.example.net.", "ns2.example.net.")
    assert settings.zone_hostmaster == "dns.example.com."
    assert settings.dns_bind_addresses == ("0.0.0.0", "::")
    outside = Settings(pdns_api_url="http://10.0.0.5:8081/", pdns_api_key="k" * 20)
    assert not outside.managed_powerdns and outside.pdns_api == "http://10.0.0.5:8081"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"pdns_api_url": "http://127.0.0.1:8081"}, "go together"),
        ({"pdns_api_key": "secret-key-1234567"}, "go together"),
        ({"pdns_api_url": "127.0.0.1:8081", "pdns_api_key": "x"}, "API URL"),
        ({"pdns_api_listen": "0.0.0.0:8081"}, "loopback"),
        ({"pdns_api_listen": "127.0.0.1"}, "loopback address and port"),
        ({"dns_bind": "localhost"}, "IP addresses"),
        ({"dns_nameservers": "a.misconfigured.dns.server.invalid"}, "host name"),
        ({"dns_nameservers": "ns1 .example.com"}, "host name"),
        ({"dns_hostmaster": "first.last@example.com"}, "no dot before the @"),
        ({"dns_port": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_dns_settings_say_what_to_fix(given, says):
    with pytest.raises(pydantic.ValidationError, match=says):
        Settings(**given)
