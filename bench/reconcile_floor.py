"""The floor of bench/reconcile.py: reading the plan's inputs alone, parsed, nothing diffed.

- store: the very statements a plan sends to the state store (recorded during a first plan),
  sent again through the DB-API cursor, every row fetched;
- edge: the admin API call the edge's observe makes (`GET /config/`), its JSON parsed;
- docker: the three listings from the recorded client (the same calls the inventory makes);
- directories: the directories the local runtime lists (the sites' folders, PHP-FPM's pools),
  scanned once each;
- mariadb: the listing queries a plan sends to MariaDB (recorded likewise), on one connection.

The other kinds' listings (PowerDNS, Redis, SFTP, system users) are left out: they are a few
calls that cost the same whatever the number of sites, and a floor without them is lower.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql.cursors
import sqlalchemy as sa

from hostplane.providers.caddy import admin
from hostplane.providers.mariadb.connection import cursor


@dataclass
class Recorded:
    """The statements one plan sent: (SQL, parameters) to the store and to MariaDB."""

    store: list[tuple[str, Any]] = field(default_factory=list)
    mariadb: list[tuple[str, Any]] = field(default_factory=list)


@contextmanager
def recording(engine: sa.Engine) -> Iterator[Recorded]:
    """Record what is sent to the store (`engine`) and to MariaDB (any PyMySQL cursor)."""
    seen = Recorded()

    def on_store(conn: Any, cur: Any, statement: str, params: Any, *_: Any) -> None:
        seen.store.append((statement, params))

    original = pymysql.cursors.Cursor.execute

    def on_mariadb(self: Any, query: str, args: Any = None) -> int:
        seen.mariadb.append((query, args))
        return original(self, query, args)

    sa.event.listen(engine, "before_cursor_execute", on_store)
    pymysql.cursors.Cursor.execute = on_mariadb  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        pymysql.cursors.Cursor.execute = original  # type: ignore[method-assign]
        sa.event.remove(engine, "before_cursor_execute", on_store)


def _reads(statements: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(s, p) for s, p in statements if s.lstrip().upper().startswith(("SELECT", "SHOW"))]


@dataclass
class Floor:
    engine: sa.Engine
    admin_url: str
    docker: Any  # the recorded client
    docker_filters: dict[str, Any]
    directories: list[Path]
    mariadb_account: Any
    recorded: Recorded

    def store(self) -> int:
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            rows = 0
            for statement, params in _reads(self.recorded.store):
                cur.execute(statement, params)
                rows += len(cur.fetchall())
            raw.rollback()
            return rows
        finally:
            raw.close()

    def edge(self) -> int:
        with admin.admin_client(self.admin_url) as client:
            config = json.loads(client.get("/config/").content)
        return len(config)

    def docker_listings(self) -> int:
        client, label = self.docker, self.docker_filters
        listed = client.containers.list(all=True, sparse=True, filters=label)
        listed += client.volumes.list(filters=label)
        listed += client.networks.list(filters=label)
        return len(listed)

    def directory_listings(self) -> int:
        names: list[str] = []
        for directory in self.directories:
            if directory.is_dir():
                with os.scandir(directory) as entries:
                    names += [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        return len(names)

    def mariadb(self) -> int:
        rows = 0
        with cursor(self.mariadb_account) as cur:
            for query, args in _reads(self.recorded.mariadb):
                cur.execute(query, args)
                rows += len(cur.fetchall())
        return rows

    def parts(self) -> dict[str, Callable[[], int]]:
        return {
            "store": self.store,
            "edge": self.edge,
            "docker": self.docker_listings,
            "directories": self.directory_listings,
            "mariadb": self.mariadb,
        }


def cpu_of(call: Callable[[], object]) -> float:
    """The process CPU time `call` takes."""
    started = time.process_time()
    call()
    return time.process_time() - started
