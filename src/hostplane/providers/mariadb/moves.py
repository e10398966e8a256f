"""Moving a database's tables into another database (MariaDB cannot rename a database): what
it holds, whether it can move, the move itself in one RENAME TABLE, and the drop of the
emptied one. Only this plane's databases (their mark, as in provider.py)."""

from __future__ import annotations

from typing import Any

import structlog

from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.mariadb import identifiers as ids
from hostplane.providers.mariadb.provider import MariaDBProvider

log = structlog.get_logger(__name__)

RENAME_LOCK_WAIT = 30  # seconds


class MovableDatabases(MariaDBProvider):
    """This plane's databases, their tables moved between them (TenantDatabases' reassign)."""

    def contents(self, name: str) -> dict[str, list[str]]:
        """What the database holds, by kind: tables (base, sequences, system-versioned),
        views, triggers, routines, events; {} when it does not exist (one query)."""
        ids.database(name)
        with self._cursor() as cur:
            return _contents(cur, name)

    def check_movable(self, name: str) -> None:
        """PermanentError naming what RENAME TABLE cannot take to another database (views,
        triggers) or what dropping it would lose (routines, events)."""
        found = {k: v for k, v in self.contents(name).items() if k != "tables" and v}
        if found:
            listing = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in found.items())
            raise PermanentError(
                f"database {name} on {self.where} cannot be moved to another database: it "
                f"holds {listing} (drop them, move it, and make them again)"
            )

    def move_tables(self, source: str, target: str) -> Outcome:
        """Every table of `source` renamed into `target` in one RENAME TABLE (atomic on
        MariaDB 10.6+); both this plane's. Run again it moves what is left: UNCHANGED once
        `source` is empty or gone."""
        ids.database(source), ids.database(target)
        with self._cursor() as cur:
            src, _ = self._judge(cur, source, "")
            dst, _ = self._judge(cur, target, "")
            self._refuse_foreign(src, dst)
            if not dst.ours:
                raise PermanentError(f"database {target} on {self.where} is missing")
            if not src.ours:
                return Outcome.UNCHANGED
            tables = _contents(cur, source).get("tables", [])
            clash = sorted(set(tables) & set(_contents(cur, target).get("tables", [])))
            if clash:
                raise PermanentError(
                    f"database {target} on {self.where} has tables named as {source}'s "
                    f"already: {', '.join(clash)} (made by hand?): move or drop them first"
                )
            if tables:
                # A session holding a table waits the rename out no longer than this; the
                # step's retries then try again (1205 is a temporary error).
                cur.execute(f"SET SESSION lock_wait_timeout = {RENAME_LOCK_WAIT}")
                cur.execute(
                    "RENAME TABLE "
                    + ", ".join(
                        f"`{source}`.{_quoted(t)} TO `{target}`.{_quoted(t)}" for t in tables
                    )
                )
        outcome = Outcome.UPDATED if tables else Outcome.UNCHANGED
        log.info("mariadb.tables.moved", source=source, target=target, tables=len(tables))
        return outcome

    def remove_empty_tenant_database(self, name: str) -> Outcome:
        """The database dropped if it is this plane's and holds nothing; refused if it still
        holds anything (never drops data that was to move)."""
        held = {k: v for k, v in self.contents(name).items() if v}
        if held:
            listing = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in held.items())
            raise PermanentError(
                f"database {name} on {self.where} is not empty ({listing}): not dropped"
            )
        return self.remove_database_only(name)


def _quoted(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


_CONTENTS = (
    "SELECT IF(TABLE_TYPE = 'VIEW', 'views', 'tables'), TABLE_NAME FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA = %s"
    " UNION ALL SELECT 'triggers', TRIGGER_NAME FROM information_schema.TRIGGERS"
    " WHERE TRIGGER_SCHEMA = %s"
    " UNION ALL SELECT 'routines', ROUTINE_NAME FROM information_schema.ROUTINES"
    " WHERE ROUTINE_SCHEMA = %s"
    " UNION ALL SELECT 'events', EVENT_NAME FROM information_schema.EVENTS"
    " WHERE EVENT_SCHEMA = %s"
)


def _contents(cur: Any, name: str) -> dict[str, list[str]]:
    cur.execute(_CONTENTS, (name, name, name, name))
    found: dict[str, list[str]] = {}
    for kind, item in cur.fetchall():
        found.setdefault(str(kind), []).append(str(item))
    return {kind: sorted(items) for kind, items in found.items()}
