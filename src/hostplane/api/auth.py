"""Bearer-token authentication. The operator's tokens (configured, or the one in the data
directory) reach every route; any other token is asked of the kinds' resolvers (the
extension point TOKEN_RESOLVER), which may know it as scoped: a caller with a `scope` (a
tenant's id) reaches only the routes that take a scope, and sees only what is in it."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import HTTPException, Request, status

from hostplane.api.schemas import Caller
from hostplane.settings import Settings
from hostplane.tokens import check_token, read_token_file

# Extension point: resolve(services, token) -> Caller | None, for tokens the kinds issue.
TOKEN_RESOLVER = "api.token"
__all__ = ["TOKEN_RESOLVER", "BearerAuth", "Caller", "fingerprint", "server_tokens"]


def fingerprint(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def server_tokens(settings: Settings, *, create: bool) -> list[str]:
    """Configured tokens, else the one in the data directory (made on first start if `create`)."""
    configured = settings.configured_tokens()
    if configured:
        return configured
    token = read_token_file(settings.token_file)
    path = settings.token_file
    if token is None and create:
        token = secrets.token_urlsafe(32)
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(token + "\n")
    elif token is not None and create and path.stat().st_mode & 0o077:
        path.chmod(0o600)  # an older install's file: only the control plane may read it
    if token is None:
        raise RuntimeError(
            "no API token: set HOSTPLANE_API_TOKENS or run hostctl up to create "
            f"{settings.token_file}"
        )
    check_token(token)
    return [token]


class BearerAuth:
    def __init__(
        self, tokens: list[str], resolvers: Sequence[Callable[[Any, str], Caller | None]] = ()
    ) -> None:
        self._digests = [hashlib.sha256(t.encode()).digest() for t in tokens]
        self._resolvers = tuple(resolvers)

    def __call__(self, request: Request) -> Caller:
        caller = self.operator(request)
        return caller if caller is not None else self.resolved(request)

    def operator(self, request: Request) -> Caller | None:
        """The operator, from the header alone (no I/O: an event loop may call it); None when
        the token is none of the operator's and the resolvers must look it up."""
        token = self._token(request)
        digest = hashlib.sha256(token.encode()).digest()
        if any(hmac.compare_digest(digest, known) for known in self._digests):
            return Caller(fingerprint(token))
        return None

    def resolved(self, request: Request) -> Caller:
        """A token the resolvers know (their lookups read the store), else 401."""
        token = self._token(request)
        for resolve in self._resolvers:
            caller = resolve(request.app.state.services, token)
            if caller is not None:
                return caller
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the bearer token is not valid for this control plane",
            headers={"WWW-Authenticate": "Bearer"},
        )

    @staticmethod
    def _token(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return token.strip()
