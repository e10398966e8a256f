"""Request dependencies (the services, the engine, the caller) and what every kind's router
shares: submitting a recorded operation, the error answers to document."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Header, Request

from hostplane.api import schemas
from hostplane.api.views import operation_ref as ref
from hostplane.kernel.operations import Submitted
from hostplane.observability import OPERATIONS
from hostplane.services import Services


class Submitter(Protocol):
    def submit(self, operation_id: str, kind: str) -> None: ...

    def cancel(self, operation_id: str) -> None: ...


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_submitter(request: Request) -> Submitter:
    submitter: Submitter = request.app.state.submitter
    return submitter


def get_actor(request: Request) -> str:
    actor: str = request.app.state.auth(request)
    return actor


ServicesDep = Annotated[Services, Depends(get_services)]
SubmitterDep = Annotated[Submitter, Depends(get_submitter)]
ActorDep = Annotated[str, Depends(get_actor)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def errors(*codes: int) -> dict[int | str, dict[str, object]]:
    """The error answers a route documents (every one has the same body)."""
    return {code: {"model": schemas.ErrorBody} for code in codes}


def submit(submitter: Submitter, sub: Submitted) -> None:
    """After the commit: stop what the request superseded, then start its operation."""
    if not sub.new or sub.operation_id is None or sub.kind is None:
        return
    for superseded in sub.cancel:
        submitter.cancel(superseded)
    submitter.submit(sub.operation_id, sub.kind)
    OPERATIONS.labels(sub.kind).inc()


def operation_ref(services: Services, operation_id: str) -> schemas.OperationRef:
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(operation_id)
        assert op is not None
        return ref(op)
