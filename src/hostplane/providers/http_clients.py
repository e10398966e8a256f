"""HTTP clients for providers, all sharing one TLS context.

httpx loads the CA bundle for every client it makes (~30 ms here), even for a client that
only ever speaks plain HTTP on loopback; a provider that makes a client per call would pay
that on every step.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's TLS context: httpx's defaults (its CA bundle, SSL_CERT_FILE/DIR)."""
    return httpx.create_ssl_context()


def client(**kwargs: Any) -> httpx.Client:
    return httpx.Client(verify=tls_context(), **kwargs)


def unix_socket_client(path: str, **kwargs: Any) -> httpx.Client:
    """A client whose every request goes to the HTTP server on the Unix socket `path`."""
    transport = httpx.HTTPTransport(uds=path, verify=tls_context())
    return httpx.Client(transport=transport, verify=tls_context(), **kwargs)
