"""Request dependencies (the services, the engine, the caller) and what every kind's router
shares: submitting a recorded operation, the error answers to document."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Header, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from hostplane.api import schemas
from hostplane.api.schemas import Caller
from hostplane.api.views import operation_ref as ref
from hostplane.api.views import operation_url
from hostplane.errors import ConflictError, StaleWriteError
from hostplane.kernel.operations import Submitted
from hostplane.observability import OPERATIONS
from hostplane.services import Services

T = TypeVar("T")


class Submitter(Protocol):
    def submit(self, operation_id: str, kind: str) -> None: ...

    def cancel(self, operation_id: str) -> None: ...


class Authenticator(Protocol):
    """The app's auth (api.auth.BearerAuth)."""

    def operator(self, request: Request) -> Caller | None: ...

    def resolved(self, request: Request) -> Caller: ...


# The dependencies are coroutines: FastAPI runs a plain function's in a worker thread, a hop
# per dependency per request; these do no I/O but a scoped token's lookup, which still does.


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_submitter(request: Request) -> Submitter:
    submitter: Submitter = request.app.state.submitter
    return submitter


async def get_caller(request: Request) -> Caller:
    """Any valid token: a route that takes this answers only within the caller's scope."""
    auth: Authenticator = request.app.state.auth
    caller = auth.operator(request)
    if caller is None:
        caller = await run_in_threadpool(auth.resolved, request)
    return caller


async def get_actor(request: Request) -> str:
    """The operator's token only: a scoped token is refused (403), whatever the route."""
    caller = await get_caller(request)
    if caller.scope is not None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this route needs the operator's token: a token of tenant {caller.scope_name!r} "
            "cannot use it",
        )
    return caller.actor


ServicesDep = Annotated[Services, Depends(get_services)]
SubmitterDep = Annotated[Submitter, Depends(get_submitter)]
ActorDep = Annotated[str, Depends(get_actor)]
CallerDep = Annotated[Caller, Depends(get_caller)]
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


def submitted_ref(services: Services, sub: Submitted) -> schemas.OperationRef:
    """The reference of a request's operation: as the request committed it, else read."""
    assert sub.operation_id is not None
    if sub.status is None or sub.kind is None:
        return operation_ref(services, sub.operation_id)
    return schemas.OperationRef(
        id=sub.operation_id, kind=sub.kind, status=sub.status, url=operation_url(sub.operation_id)
    )


def accepted(
    response: Response, services: Services, submitter: Submitter, sub: Submitted
) -> schemas.OperationRef:
    """A recorded operation submitted, and its reference (also in the Location header)."""
    submit(submitter, sub)
    found = submitted_ref(services, sub)
    response.headers["Location"] = found.url
    return found


# Each round of a race has a winner, so a loser waits at most for the others racing it.
STALE_ATTEMPTS = 30


def retrying(idempotency_key: str | None, record: Callable[[], T]) -> T:
    """Record a request: `record` does it all in one unit of work. One that lost a race on a
    row it read to check a rule (two creates in one tenant each touch it, so that both cannot
    pass its plan's limit) is recorded again from the start, reading the winner's work, after a
    pause of a few random milliseconds: the caller read nothing and has nothing to read again.
    Two requests with one Idempotency-Key racing: the loser's conflict answers the winner's
    operation."""
    attempt = 1
    while True:
        try:
            return record()
        except StaleWriteError:
            if attempt >= STALE_ATTEMPTS:
                raise
            attempt += 1
            time.sleep(random.uniform(0, 0.002 * attempt))
        except ConflictError:
            if idempotency_key is None:
                raise
            return record()
