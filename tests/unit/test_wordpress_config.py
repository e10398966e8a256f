"""wp-config.php rendering (pure) and the secret box: nothing in a value escapes its string."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostplane.errors import PermanentError, ValidationError
from hostplane.providers.runtime import SiteSecrets
from hostplane.providers.wordpress import (
    SALT_NAMES,
    generate_admin_password,
    generate_salts,
    php_string,
    render_wp_config,
)
from hostplane.secretbox import SecretBox, _key_file


def _secrets(password: str = "pw") -> SiteSecrets:
    return SiteSecrets(
        "wp_blog", "wp_blog", password, "localhost:/run/mysqld/mysqld.sock", generate_salts()
    )


def test_salts_are_fresh_and_complete():
    a, b = generate_salts(), generate_salts()
    assert set(a) == set(SALT_NAMES) and all(len(v) == 64 for v in a.values())
    assert a != b


def test_admin_passwords_are_long_and_random():
    assert len({generate_admin_password() for _ in range(50)}) == 50
    assert all(len(generate_admin_password()) >= 24 for _ in range(10))


def test_config_names_every_setting():
    text = render_wp_config(_secrets(), site_url="http://blog.localhost", db_host="localhost")
    for name in ("DB_NAME", "DB_USER", "DB_PASSWORD", "DB_HOST", "WP_HOME", *SALT_NAMES):
        assert f"define('{name}', " in text
    assert text.rstrip().endswith("require_once ABSPATH . 'wp-settings.php';")


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=40))
def test_php_string_round_trips_through_php(value: str):
    """PHP itself reads back exactly the value: quotes and backslashes cannot break out."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    code = f"echo bin2hex({php_string(value)});"
    out = subprocess.run(["php", "-r", code], capture_output=True, text=True, check=True).stdout
    assert bytes.fromhex(out).decode() == value


def test_secret_box_seals_and_opens(tmp_path):
    box = SecretBox(_key_file(tmp_path / "secret.key"))
    sealed = box.seal("hunter2")
    assert "hunter2" not in sealed and box.open(sealed) == "hunter2"
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert _key_file(tmp_path / "secret.key") == _key_file(tmp_path / "secret.key")


def test_secret_box_with_another_key_refuses(tmp_path):
    sealed = SecretBox(_key_file(tmp_path / "a.key")).seal("x")
    with pytest.raises(PermanentError, match="HOSTPLANE_SECRET_KEY"):
        SecretBox(_key_file(tmp_path / "b.key")).open(sealed)


def test_a_malformed_key_is_refused():
    with pytest.raises(ValidationError, match="32 url-safe"):
        SecretBox(b"short")
