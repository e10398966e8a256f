"""API tokens that protect something: never empty, short or a well-known word."""

from __future__ import annotations

from pathlib import Path

from hostplane.errors import ValidationError

WELL_KNOWN_TOKENS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "password",
        "passw0rd",
        "token",
        "admin",
        "test",
        "testing",
        "hostplane",
        "default",
        "letmein",
        "12345678",
        "123456789",
        "1234567890",
        "qwerty",
        "example",
        "apitoken",
        "api-token",
    }
)
MIN_TOKEN_LENGTH = 16


def check_token(token: str) -> None:
    """Refuse tokens that protect nothing: empty, short or well known."""
    if not token.strip():
        raise ValidationError("an API token is empty: set a random one or leave it unset")
    if token.strip().lower() in WELL_KNOWN_TOKENS:
        raise ValidationError(
            "an API token is a well-known word: use a random one (hostctl up makes one if unset)"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValidationError(
            f"an API token has {len(token)} characters: use at least {MIN_TOKEN_LENGTH} random ones"
        )


def read_token_file(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
