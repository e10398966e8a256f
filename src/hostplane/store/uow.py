"""The unit of work owns the transaction; repositories never commit."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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
from hostplane.store.tables import PlaneRow, SiteRow


@dataclass(frozen=True, slots=True)
class Plane:
    """This control plane's identity. `predates_marks`: the store had sites before planes had
    an identity, so their resources carry Hostplane's marks but no plane id; this plane, and
    only a plane whose store says so, takes such unmarked-by-plane resources as its own."""

    id: str
    predates_marks: bool = False


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
                had_sites = uow.session.scalar(sa.select(sa.func.count()).select_from(SiteRow))
                uow.session.add(
                    PlaneRow(
                        singleton=1,
                        plane_id=f"hp{secrets.token_hex(6)}",
                        predates_marks=bool(had_sites),
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
