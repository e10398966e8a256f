"""MariaDB test server fixtures (tests/services_mariadb.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pymysql
import pytest

from tests.services_mariadb import PrivateMariaDB


@dataclass(frozen=True)
class MariaDBServer:
    url: str
    socket: str


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A private server; HOSTPLANE_TEST_MARIADB_URL (root, socket found by query) reuses one."""
    url = os.environ.get("HOSTPLANE_TEST_MARIADB_URL")
    if url:
        from hostplane.providers.mariadb.connection import Account, server_socket

        yield MariaDBServer(url, server_socket(Account.from_url(url)))
        return
    server = PrivateMariaDB().start()
    try:
        yield MariaDBServer(server.url, server.socket)
    finally:
        server.stop()


def root_connection(server: MariaDBServer) -> pymysql.Connection:
    return pymysql.connect(unix_socket=server.socket, user="root", autocommit=True)
