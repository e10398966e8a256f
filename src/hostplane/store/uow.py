"""The unit of work owns the transaction; repositories never commit."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from hostplane.domain.errors import ConflictError, StaleWriteError
from hostplane.store.repositories import (
    AuditRepository,
    DomainRepository,
    EventRepository,
    OperationRepository,
    ReconcileRunRepository,
    SecretRepository,
    SiteRepository,
    WorkerRepository,
)
from hostplane.store.tables import PlaneRow


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.sites = SiteRepository(session)
        self.domains = DomainRepository(session)
        self.operations = OperationRepository(session)
        self.events = EventRepository(session)
        self.audit = AuditRepository(session)
        self.secrets = SecretRepository(session)
        self.reconcile_runs = ReconcileRunRepository(session)
        self.workers = WorkerRepository(session)

    def flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError as exc:
            raise StaleWriteError("the object changed since it was read; read it again") from exc


class Store:
    """Entry point to the state database: `with store.unit_of_work() as uow: ...`."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._plane_id: str | None = None

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
        if self._plane_id is None:
            self._plane_id = self._read_or_make_plane_id()
        return self._plane_id

    def _read_or_make_plane_id(self) -> str:
        with self.unit_of_work() as uow:
            row = uow.session.get(PlaneRow, 1)
            if row is not None:
                return row.plane_id
        try:
            with self.unit_of_work() as uow:
                uow.session.add(PlaneRow(singleton=1, plane_id=f"hp{secrets.token_hex(6)}"))
        except ConflictError:
            pass  # another process made it first: that one is ours too
        with self.unit_of_work() as uow:
            row = uow.session.get(PlaneRow, 1)
            assert row is not None
            return row.plane_id

    def dispose(self) -> None:
        self.engine.dispose()
