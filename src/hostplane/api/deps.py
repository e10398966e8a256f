"""Request dependencies: the services, the engine and the caller, from the app's state."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from hostplane.workflows.services import Services


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
