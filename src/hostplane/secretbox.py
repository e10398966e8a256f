"""Encryption of the secrets the state store keeps (database passwords, salts, admin passwords).

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`. The key is HOSTPLANE_SECRET_KEY or, when
unset, a key generated on first use into the data directory (mode 0600). Every process of one
control plane (API, workers) must share it: with a shared PostgreSQL, set HOSTPLANE_SECRET_KEY.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from hostplane.errors import PermanentError, ValidationError
from hostplane.settings import Settings


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._key = key
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise ValidationError(
                "the secret key must be 32 url-safe base64-encoded bytes "
                "(make one with: python3 -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from exc

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def derive(self, purpose: str) -> str:
        """A secret for `purpose`, the same in every process of this plane (they share the key),
        never stored: HMAC-SHA256 of the purpose under the key."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).hexdigest()

    def open(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise PermanentError(
                "a stored secret cannot be decrypted with this control plane's key: "
                "every API and worker process must use the same HOSTPLANE_SECRET_KEY"
            ) from exc


def load_secret_box(settings: Settings) -> SecretBox:
    if settings.secret_key is not None:
        return SecretBox(settings.secret_key.get_secret_value().encode())
    return SecretBox(_key_file(settings.secret_key_file))


def _key_file(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # atomic: whoever links first wins, the others read theirs
    except FileExistsError:
        return path.read_bytes().strip()
    finally:
        tmp.unlink()
    return key
