"""Recording a site's intent: the site and its operation in one transaction.

Each function validates, writes, and returns what to submit; the caller (API) submits it to
the workflow engine after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from hostplane.errors import ConflictError, ValidationError
from hostplane.kernel import runtime
from hostplane.kernel.lifecycle import ResourceStatus
from hostplane.kernel.operations import (
    Submitted,
    refuse_if_busy,
    replay,
    request_hash,
    submit,
)
from hostplane.kernel.store.types import new_id
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import record_created
from hostplane.kinds.site import secrets as site_secrets
from hostplane.kinds.site import tenant_database
from hostplane.kinds.site.lifecycle import snapshot
from hostplane.kinds.site.model import (
    DESTROYABLE,
    KIND,
    LIFECYCLE,
    SiteOp,
    SiteStatus,
    validate_admin_email,
    validate_site_name,
)
from hostplane.kinds.site.repo import sites
from hostplane.kinds.site.table import SiteRow
from hostplane.kinds.tenant.model import KIND as TENANT
from hostplane.kinds.tenant.model import Limit
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.requests import check_usage, tenant_for_site
from hostplane.kinds.tenant.table import TenantRow
from hostplane.providers.runtime import RuntimeKind, SiteType
from hostplane.providers.wordpress import generate_admin_password
from hostplane.services import Services

# Extension point: before_teardown(uow, site, actor) -> [workflow ids] lets a child kind stop
# its own work that a site destroy supersedes (a domain only waiting for DNS), or refuse (409).
BEFORE_TEARDOWN = "site.before_teardown"


@dataclass(frozen=True, slots=True)
class Created:
    submitted: Submitted
    admin_password: str | None = None  # WordPress admin password: in this answer, and only here


E = TypeVar("E", SiteType, RuntimeKind)


def _choice(enum: type[E], value: str, what: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValidationError(f"{what} {value!r} is unknown: use one of {allowed}") from None


_operation = partial(submit, KIND)  # (uow, row, kind, actor, key, fingerprint, **options)


def _check_runtime(services: Services, site_type: SiteType, kind: RuntimeKind) -> None:
    if kind not in services.runtimes:
        raise ValidationError(f"runtime {kind} is not enabled on this control plane")
    if site_type not in services.runtimes[kind].supported_types:
        supported = ", ".join(sorted(services.runtimes[kind].supported_types))
        raise ValidationError(f"runtime {kind} cannot run {site_type} sites; it runs: {supported}")


def create_site(
    services: Services,
    *,
    name: str,
    type: str,
    runtime: str | None,
    admin_email: str | None,
    actor: str,
    idempotency_key: str | None,
    tenant: str | None = None,
) -> Created:
    """A site in `tenant` (ACTIVE, with room for one more site in its plan), or, without one,
    in the tenant named after the site (made for it if there is none)."""
    name, site_type, kind = _checked_request(services, name, type, runtime, admin_email)
    fingerprint = request_hash(
        {
            "op": "create",
            "name": name,
            "type": site_type,
            "runtime": kind,
            "email": admin_email,
            **({"tenant": tenant} if tenant else {}),
        }
    )
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return Created(replayed)
        existing = sites(uow).get_live(name)
        if existing is not None:
            raise ConflictError(f"site {name!r} already exists (status {existing.status})")
        refuse_if_busy(uow, KIND, name)
        owner = _owner_with_room(uow, tenant=tenant, site=name, actor=actor)
        tenant_database.claim(uow, owner, name, site_type, actor)
        row = SiteRow(
            id=new_id(),
            name=name,
            type=site_type,
            runtime=kind,
            status=SiteStatus.CREATED,
            admin_email=admin_email,
            tenant_id=owner.id,
            tenant=owner,
        )
        site = sites(uow).add(row)
        sub = _operation(uow, site, SiteOp.PROVISION, actor, idempotency_key, fingerprint)
        record_created(
            uow, LIFECYCLE, site, reason="requested", actor=actor, operation_id=sub.operation_id
        )
        return Created(sub, _seal_admin_password(services, uow, site) if admin_email else None)


def _checked_request(
    services: Services, name: str, type: str, runtime: str | None, admin_email: str | None
) -> tuple[str, SiteType, RuntimeKind]:
    """The request's name, type and runtime (the plane's default if none), checked; an admin
    email only for a wordpress site, and a valid one."""
    name = validate_site_name(name)
    site_type = _choice(SiteType, type, "type")
    kind = _choice(RuntimeKind, runtime or services.settings.runtime, "runtime")
    _check_runtime(services, site_type, kind)
    if admin_email and site_type is not SiteType.WORDPRESS:
        raise ValidationError("--admin-email is only for wordpress sites")
    if admin_email:
        validate_admin_email(admin_email)
    return name, site_type, kind


def _owner_with_room(uow: UnitOfWork, *, tenant: str | None, site: str, actor: str) -> TenantRow:
    """The site's tenant (see tenant_for_site), not busy and with room for one more site."""
    owner, made_now = tenant_for_site(uow, tenant=tenant, site=site, actor=actor)
    refuse_if_busy(uow, TENANT, owner.name, label=f"tenant {owner.name!r}")
    if made_now:  # nothing in it yet, and a delete cannot race a tenant no one has seen
        check_usage(uow, owner, Limit.SITES, 0)
        return owner
    check_usage(uow, owner, Limit.SITES, sites(uow).count_of_tenant(owner.id))
    tenants(uow).touch(owner)  # a delete of the tenant racing this cannot also commit
    return owner


def _seal_admin_password(services: Services, uow: UnitOfWork, site: SiteRow) -> str:
    """A new WordPress admin password, sealed for the install step (which deletes it once
    the login works); the request's answer shows it once."""
    password = generate_admin_password()
    uow.secrets.put(
        site_secrets.OWNER, site.id, site_secrets.WP_ADMIN_PASSWORD, services.secrets.seal(password)
    )
    return password


def destroy_site(
    services: Services,
    *,
    name: str,
    keep_data: bool,
    actor: str,
    idempotency_key: str | None,
    scope: str | None = None,
) -> Submitted:
    fingerprint = request_hash({"op": "destroy", "name": name, "keep_data": keep_data})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        site = sites(uow).live_or_404(name, scope)
        refuse_if_busy(uow, KIND, name)
        if site.status not in DESTROYABLE:
            raise ConflictError(
                f"site {name!r} is {site.status}: only ACTIVE or FAILED sites can be destroyed"
            )
        cancel = [
            workflow_id
            for before in runtime.registry().contributions(BEFORE_TEARDOWN)
            for workflow_id in before(uow, site, actor)
        ]
        sites(uow).touch(site)
        sub = _operation(
            uow, site, SiteOp.DESTROY, actor, idempotency_key, fingerprint, keep_data=keep_data
        )
        _database_goes(uow, site, actor, sub.operation_id)
        uow.audit.record(
            actor=actor,
            action="site.destroy",
            target_kind=KIND,
            target_name=name,
            decision="allowed",
            reason=f"site is {site.status} with no operation running",
            operation_id=sub.operation_id,
            snapshot={**snapshot(site), "keep_data": keep_data},
            scope=site.tenant_id,
        )
        return Submitted(sub.operation_id, sub.kind, name, cancel=tuple(cancel))


def retry_site(services: Services, *, name: str, actor: str, scope: str | None = None) -> Submitted:
    with services.store.unit_of_work() as uow:
        site = sites(uow).live_or_404(name, scope)
        refuse_if_busy(uow, KIND, name)
        if site.status != SiteStatus.FAILED:
            raise ConflictError(f"site {name!r} is {site.status}: only FAILED sites are retried")
        last = uow.operations.latest_for(site.id)
        if last is not None and last.kind == SiteOp.DESTROY:
            sub = _operation(uow, site, SiteOp.DESTROY, actor, **dict(last.options or {}))
            _database_goes(uow, site, actor, sub.operation_id)
            return sub
        return _operation(uow, site, SiteOp.RETRY, actor)


def _database_goes(uow: UnitOfWork, site: SiteRow, actor: str, operation_id: str | None) -> None:
    """A WordPress site's database, one of its tenant's, is being removed with it: 409 while
    the tenant's own work on it (a user being added) runs; no user is added from now on."""
    tenant_database.follow(
        uow,
        site,
        ResourceStatus.DELETING,
        f"site {site.name} is being destroyed",
        actor,
        operation_id,
    )


def reinstall_site(
    services: Services, *, name: str, actor: str, scope: str | None = None
) -> Created:
    """A fresh WordPress install on a site whose data was lost (in maintenance): an empty
    database, a new admin password shown once. A site with its data is never reinstalled."""
    with services.store.unit_of_work() as uow:
        site = sites(uow).live_or_404(name, scope)
        refuse_if_busy(uow, KIND, name)
        if site.type != SiteType.WORDPRESS or site.maintenance is None:
            raise ConflictError(
                f"site {name!r} is not a WordPress site whose data was lost (in maintenance): "
                "only those are reinstalled"
            )
        if not site.admin_email:
            raise ConflictError(f"site {name!r} has no admin email to install WordPress with")
        sub = _operation(uow, site, SiteOp.REINSTALL, actor)
        uow.audit.record(
            actor=actor,
            action="site.reinstall",
            target_kind=KIND,
            target_name=name,
            decision="allowed",
            reason=f"in maintenance: {site.maintenance}",
            operation_id=sub.operation_id,
            snapshot=snapshot(site),
            scope=site.tenant_id,
        )
        return Created(sub, _seal_admin_password(services, uow, site))


def audit_refusal(
    services: Services,
    *,
    actor: str,
    action: str,
    name: str,
    reason: str,
    scope: str | None = None,
) -> None:
    """A refused destructive request is audited in its own transaction (a tenant's token:
    only about its own tenant's site, else the site is not named)."""
    with services.store.unit_of_work() as uow:
        site = sites(uow).get_latest(name)
        if scope is not None and (site is None or site.tenant_id != scope):
            return  # not this tenant's: nothing of another's is recorded on its behalf
        uow.audit.record(
            scope=site.tenant_id if site else None,
            actor=actor,
            action=action,
            target_kind=KIND,
            target_name=name,
            decision="refused",
            reason=reason,
            snapshot=snapshot(site) if site else {},
        )
