"""Recording intent: an operation row beside the desired object, in the caller's transaction.

One active operation per target (a unique index on `active_target`: a second gets 409), an
Idempotency-Key returns the first operation again, and every operation row is built here.
The caller (the API) submits the operation to the engine after the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hostplane.errors import ConflictError
from hostplane.kernel.lifecycle import OperationStatus
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.types import new_id, utcnow
from hostplane.kernel.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Submitted:
    """What a request recorded: the operation to submit (None when nothing had to be done)."""

    operation_id: str | None
    kind: str | None
    target: str  # the name of what it works on
    new: bool = True  # False: an earlier operation answered (idempotent replay, no change)
    cancel: tuple[str, ...] = ()  # workflows superseded by this request, to stop after commit
    status: str | None = None  # the operation's, as the request committed it (None: not read)


def request_hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def slot(target_kind: str, name: str) -> str:
    """The active-operation slot of a target: one operation at a time holds it."""
    return f"{target_kind}:{name}"


def replay(uow: UnitOfWork, key: str | None, fingerprint: str) -> Submitted | None:
    """The operation an Idempotency-Key already made, if any; the same key with a different
    request is refused."""
    if not key:
        return None
    op = uow.operations.by_idempotency_key(key)
    if op is None:
        return None
    if op.request_hash != fingerprint:
        raise ConflictError(
            f"Idempotency-Key {key!r} was already used for a different request: use a new key"
        )
    return Submitted(op.id, op.kind, op.target_name, new=False, status=op.status)


def refuse_if_busy(uow: UnitOfWork, target_kind: str, name: str, *, label: str = "") -> None:
    """409 naming the running operation while the target has one."""
    running = uow.operations.active_for(slot(target_kind, name))
    if running is not None:
        shown = label or f"{target_kind} {name!r}"
        raise ConflictError(
            f"{shown} has operation {running.id} ({running.kind}) in progress: "
            "wait for it to finish"
        )


def new_operation(
    uow: UnitOfWork,
    *,
    kind: str,
    target_kind: str,
    target_name: str,
    target_id: str,
    actor: str,
    idempotency_key: str | None = None,
    fingerprint: str = "",
    options: Mapping[str, object] | None = None,
    running: bool = False,
    scope: str | None = None,
) -> OperationRow:
    """The operation row, holding the target's slot, added (its id set now; written with the
    unit of work's next flush, where a taken slot is a conflict)."""
    op = uow.operations.add(
        OperationRow(
            id=new_id(),
            kind=kind,
            target_kind=target_kind,
            target_name=target_name,
            target_id=target_id,
            status=OperationStatus.RUNNING if running else OperationStatus.PENDING,
            started_at=utcnow() if running else None,
            active_target=slot(target_kind, target_name),
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            options=dict(options or {}),
            actor=actor,
            scope=scope,
        )
    )
    return op


class Target(Protocol):
    """What an operation works on: a row of a kind, and the tenant (scope) it belongs to."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def scope(self) -> str | None: ...


def submit(
    target_kind: str,
    uow: UnitOfWork,
    target: Target,
    kind: str,
    actor: str,
    key: str | None = None,
    fingerprint: str = "",
    **options: object,
) -> Submitted:
    """Record an operation on `target` (its slot held): what a kind's request hands the
    engine. Kinds bind their own: `functools.partial(submit, KIND)`."""
    op = new_operation(
        uow,
        kind=kind,
        target_kind=target_kind,
        target_name=target.name,
        target_id=target.id,
        actor=actor,
        idempotency_key=key,
        fingerprint=fingerprint,
        options=options,
        scope=target.scope,
    )
    return Submitted(op.id, op.kind, target.name, status=op.status)


def take_repair_slot(
    uow: UnitOfWork,
    *,
    kind: str,
    target_kind: str,
    target_name: str,
    target_id: str,
    run_id: str,
    steps: list[str],
    actor: str,
    scope: str | None = None,
) -> str:
    """The target's operation slot for a reconcile's repair: taken now, or the same repair's
    after a crash. ConflictError when another operation holds the target."""
    active = uow.operations.active_for(slot(target_kind, target_name))
    if active is not None:
        if active.kind == kind and (active.options or {}).get("run") == run_id:
            return active.id
        raise ConflictError(
            f"{target_kind} {target_name} has operation {active.id} ({active.kind}) in progress"
        )
    op = new_operation(
        uow,
        kind=kind,
        target_kind=target_kind,
        target_name=target_name,
        target_id=target_id,
        actor=actor,
        options={"run": run_id, "steps": steps},
        running=True,
        scope=scope,
    )
    return op.id
