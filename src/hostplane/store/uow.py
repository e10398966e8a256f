"""The unit of work owns the transaction; repositories never commit."""

from __future__ import annotations

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

    def dispose(self) -> None:
        self.engine.dispose()
