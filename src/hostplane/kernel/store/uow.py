"""The unit of work owns the transaction; repositories never commit.

The kernel's repositories are attributes (`uow.operations`, `uow.events`, ...); a kind's
repository is asked for by its class (`uow.repo(SiteRepository)`), made once per unit of work:
the unit of work names no kind.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from hostplane.errors import ConflictError, StaleWriteError
from hostplane.kernel.store.repos import (
    AuditRepository,
    EventRepository,
    OperationRepository,
    ReconcileRunRepository,
    SecretRepository,
    WorkerRepository,
)
from hostplane.kernel.store.tables import OperationRow, PlaneRow


class Repository(Protocol):
    def __init__(self, session: Session) -> None: ...


R = TypeVar("R", bound=Repository)


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.operations = OperationRepository(session)
        self.events = EventRepository(session)
        self.audit = AuditRepository(session)
        self.secrets = SecretRepository(session)
        self.reconcile_runs = ReconcileRunRepository(session)
        self.workers = WorkerRepository(session)
        self._repos: dict[type[Any], Any] = {}

    def repo(self, cls: type[R]) -> R:
        """The repository `cls` bound to this unit of work's session."""
        found = self._repos.get(cls)
        if found is None:
            found = self._repos[cls] = cls(self.session)
        return found  # type: ignore[no-any-return]

    def lock(self, key: str) -> None:
        """Serialize, until they end, the transactions that lock `key`: call it first, before
        reading what the lock guards (a rule over several rows that no unique constraint can
        hold). PostgreSQL: a transaction-level advisory lock on `key`. SQLite has one writer at a
        time: its write lock is taken now, so the transaction reads nothing stale."""
        if self.session.get_bind().dialect.name == "postgresql":
            digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
            number = int.from_bytes(digest, "big", signed=True)
            self.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": number})
        else:
            self.session.execute(sa.text("UPDATE plane SET plane_id = plane_id WHERE 0 = 1"))

    def flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError as exc:
            raise StaleWriteError("the object changed since it was read; read it again") from exc


@dataclass(frozen=True, slots=True)
class Plane:
    """This control plane's identity. `predates_marks`: the store had recorded operations
    before planes had an identity, so the resources they made carry Hostplane's marks but no
    plane id; this plane, and only a plane whose store says so, takes such resources as its
    own (and marks them where the system allows)."""

    id: str
    predates_marks: bool = False


class Store:
    """Entry point to the state database: `with store.unit_of_work() as uow: ...`."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._plane: Plane | None = None

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        session = self._sessions()
        try:
            uow = UnitOfWork(session)
            yield uow
            session.commit()
        except StaleDataError as exc:
            session.rollback()
            raise StaleWriteError("the object changed since it was read; read it again") from exc
        except IntegrityError as exc:
            session.rollback()
            raise ConflictError(
                "the change collides with existing state", detail=str(exc.orig)
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def plane_id(self) -> str:
        """This control plane's identity, made on first use and kept in the state database;
        every external resource it creates carries it."""
        return self.plane().id

    def plane(self) -> Plane:
        if self._plane is None:
            self._plane = self._read_or_make_plane()
        return self._plane

    def _read_or_make_plane(self) -> Plane:
        with self.unit_of_work() as uow:
            row = uow.session.get(PlaneRow, 1)
            if row is not None:
                return Plane(row.plane_id, row.predates_marks)
        try:
            with self.unit_of_work() as uow:
                worked = uow.session.scalar(sa.select(sa.func.count()).select_from(OperationRow))
                uow.session.add(
                    PlaneRow(
                        singleton=1,
                        plane_id=f"hp{secrets.token_hex(6)}",
                        predates_marks=bool(worked),
                    )
                )
        except ConflictError:
            pass  # another process made it first: that one is ours too
        with self.unit_of_work() as uow:
            row = uow.session.get(PlaneRow, 1)
            assert row is not None
            return Plane(row.plane_id, row.predates_marks)

    def dispose(self) -> None:
        self.engine.dispose()
