"""Recording intent: the desired object and its operation in one transaction.

Each function validates, writes, and returns the operation to submit; the
caller (API) submits it to the workflow engine after the commit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from hostplane.domain.errors import ConflictError, NotFoundError, ValidationError
from hostplane.domain.lifecycle import OperationStatus, SiteStatus
from hostplane.domain.names import validate_site_name
from hostplane.domain.sites import RuntimeKind, SiteType
from hostplane.providers.wordpress import generate_admin_password
from hostplane.store.tables import OperationRow, SiteRow
from hostplane.store.transitions import record_created
from hostplane.store.uow import UnitOfWork
from hostplane.workflows import site_secrets
from hostplane.workflows.domain_requests import supersede_pending_adds
from hostplane.workflows.lifecycle_steps import snapshot
from hostplane.workflows.services import Services

DESTROYABLE = frozenset({SiteStatus.ACTIVE, SiteStatus.FAILED})


@dataclass(frozen=True, slots=True)
class Submitted:
    operation_id: str
    kind: str
    site_name: str
    replayed: bool  # an Idempotency-Key returned an earlier operation
    admin_password: str | None = None  # WordPress admin password: in this answer, and only here
    cancel: tuple[str, ...] = ()  # workflows superseded by this request, to stop after commit


def request_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def site_target(name: str) -> str:
    return f"site:{name}"


E = TypeVar("E", SiteType, RuntimeKind)


def _choice(enum: type[E], value: str, what: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValidationError(f"{what} {value!r} is unknown: use one of {allowed}") from None


def _replay(uow: UnitOfWork, key: str | None, fingerprint: str) -> Submitted | None:
    if not key:
        return None
    op = uow.operations.by_idempotency_key(key)
    if op is None:
        return None
    if op.request_hash != fingerprint:
        raise ValidationError(
            f"Idempotency-Key {key!r} was already used for a different request: use a new key"
        )
    return Submitted(op.id, op.kind, op.target_name, replayed=True)


def _refuse_if_busy(uow: UnitOfWork, name: str) -> None:
    running = uow.operations.active_for(site_target(name))
    if running is not None:
        raise ConflictError(
            f"site {name!r} has operation {running.id} ({running.kind}) in progress: "
            "wait for it to finish"
        )


def _operation(
    site: SiteRow, kind: str, actor: str, key: str | None, fingerprint: str, **options: Any
) -> OperationRow:
    return OperationRow(
        kind=kind,
        target_kind="site",
        target_name=site.name,
        target_id=site.id,
        status=OperationStatus.PENDING,
        active_target=site_target(site.name),
        idempotency_key=key,
        request_hash=fingerprint,
        options=options,
        actor=actor,
    )


def create_site(
    services: Services,
    *,
    name: str,
    type: str,
    runtime: str | None,
    admin_email: str | None,
    actor: str,
    idempotency_key: str | None,
) -> Submitted:
    name = validate_site_name(name)
    site_type = _choice(SiteType, type, "type")
    kind = _choice(RuntimeKind, runtime or services.settings.runtime, "runtime")
    if kind not in services.runtimes:
        raise ValidationError(f"runtime {kind} is not enabled on this control plane")
    if site_type not in services.runtimes[kind].supported_types:
        supported = ", ".join(sorted(services.runtimes[kind].supported_types))
        raise ValidationError(f"runtime {kind} cannot run {site_type} sites; it runs: {supported}")
    if admin_email and site_type is not SiteType.WORDPRESS:
        raise ValidationError("--admin-email is only for wordpress sites")
    fingerprint = request_hash(
        {"op": "create", "name": name, "type": site_type, "runtime": kind, "email": admin_email}
    )
    with services.store.unit_of_work() as uow:
        replay = _replay(uow, idempotency_key, fingerprint)
        if replay:
            return replay
        existing = uow.sites.get_live(name)
        if existing is not None:
            raise ConflictError(f"site {name!r} already exists (status {existing.status})")
        _refuse_if_busy(uow, name)
        site = uow.sites.add(
            SiteRow(
                name=name,
                type=site_type,
                runtime=kind,
                status=SiteStatus.CREATED,
                admin_email=admin_email,
            )
        )
        uow.flush()
        op = uow.operations.add(_operation(site, "provision", actor, idempotency_key, fingerprint))
        uow.flush()
        record_created(uow, "site", site, reason="requested", actor=actor, operation_id=op.id)
        admin_password = None
        if admin_email:
            # Sealed for the install step, which deletes it once the login works.
            admin_password = generate_admin_password()
            uow.secrets.put(
                site_secrets.OWNER,
                site.id,
                site_secrets.WP_ADMIN_PASSWORD,
                services.secrets.seal(admin_password),
            )
        return Submitted(op.id, op.kind, name, replayed=False, admin_password=admin_password)


def destroy_site(
    services: Services,
    *,
    name: str,
    keep_data: bool,
    actor: str,
    idempotency_key: str | None,
) -> Submitted:
    fingerprint = request_hash({"op": "destroy", "name": name, "keep_data": keep_data})
    with services.store.unit_of_work() as uow:
        replay = _replay(uow, idempotency_key, fingerprint)
        if replay:
            return replay
        site = uow.sites.get_live(name)
        if site is None:
            raise NotFoundError(f"no live site is named {name!r}")
        _refuse_if_busy(uow, name)
        if site.status not in DESTROYABLE:
            raise ConflictError(
                f"site {name!r} is {site.status}: only ACTIVE or FAILED sites can be destroyed"
            )
        # Domain additions still waiting for DNS are stopped; any other domain work: 409.
        cancel = supersede_pending_adds(uow, list(uow.domains.for_site(site.id)), actor)
        uow.sites.touch(site)
        op = uow.operations.add(
            _operation(site, "destroy", actor, idempotency_key, fingerprint, keep_data=keep_data)
        )
        uow.flush()
        uow.audit.record(
            actor=actor,
            action="site.destroy",
            target_kind="site",
            target_name=name,
            decision="allowed",
            reason=f"site is {site.status} with no operation running",
            operation_id=op.id,
            snapshot={**snapshot(site), "keep_data": keep_data},
        )
        return Submitted(op.id, op.kind, name, replayed=False, cancel=tuple(cancel))


def retry_site(services: Services, *, name: str, actor: str) -> Submitted:
    with services.store.unit_of_work() as uow:
        site = uow.sites.get_live(name)
        if site is None:
            raise NotFoundError(f"no live site is named {name!r}")
        _refuse_if_busy(uow, name)
        if site.status != SiteStatus.FAILED:
            raise ConflictError(f"site {name!r} is {site.status}: only FAILED sites are retried")
        last = uow.operations.latest_for(site.id)
        kind = "destroy" if last is not None and last.kind == "destroy" else "retry"
        options = dict(last.options) if last is not None and kind == "destroy" else {}
        op = uow.operations.add(_operation(site, kind, actor, None, "", **options))
        uow.flush()
        return Submitted(op.id, op.kind, name, replayed=False)


def audit_refusal(services: Services, *, actor: str, action: str, name: str, reason: str) -> None:
    """A refused destructive request is audited in its own transaction."""
    with services.store.unit_of_work() as uow:
        site = uow.sites.get_latest(name)
        uow.audit.record(
            actor=actor,
            action=action,
            target_kind="site",
            target_name=name,
            decision="refused",
            reason=reason,
            snapshot=snapshot(site) if site else {},
        )
