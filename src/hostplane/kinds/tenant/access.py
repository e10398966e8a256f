"""Who reaches a tenant's things: its SSH keys (SFTP) and its scoped API tokens; and the plans
that bound it. Each change is recorded in one transaction; an SSH key's change then writes the
tenant's keys file from the database (the reconciler regenerates it if that fails)."""

from __future__ import annotations

import hashlib
import secrets

import structlog

from hostplane.api.schemas import Caller
from hostplane.errors import ConflictError, NotFoundError
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.store.types import utcnow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.tenant.model import KIND, LIVE, Limits, TenantStatus, validate_plan_name
from hostplane.kinds.tenant.repo import keys, plans, tenants, tokens
from hostplane.kinds.tenant.steps import apply_tenant_sftp
from hostplane.kinds.tenant.table import PlanRow, SshKeyRow, TokenRow
from hostplane.providers.openssh.config import fingerprint, parse_public_key
from hostplane.services import Services

log = structlog.get_logger(__name__)

TOKEN_PREFIX = "hpt_"


def add_key(
    services: Services, *, tenant: str, public_key: str, actor: str, scope: str | None
) -> tuple[SshKeyRow, bool]:
    """The key (and whether it is new); the tenant's keys file written again."""
    algorithm, blob, comment = parse_public_key(public_key)
    print_ = fingerprint(blob)
    with services.store.unit_of_work() as uow:
        row = tenants(uow).live_or_404(tenant, scope)
        found = keys(uow).find(row.id, print_)
        if found is not None:
            return found, False
        key = keys(uow).add(
            SshKeyRow(
                tenant_id=row.id, algorithm=algorithm, key=blob, comment=comment, fingerprint=print_
            )
        )
        _audit(uow, row.name, row.id, "tenant.key_add", actor, print_)
        tenant_id, name = row.id, row.name
    apply_tenant_sftp(services, tenant_id, name)
    return key, True


def remove_key(
    services: Services, *, tenant: str, key_id: str, actor: str, scope: str | None
) -> Outcome:
    with services.store.unit_of_work() as uow:
        row = tenants(uow).live_or_404(tenant, scope)
        found = keys(uow).get(key_id)
        if found is None or found.tenant_id != row.id:
            raise NotFoundError(f"tenant {tenant!r} has no key {key_id!r}")
        keys(uow).delete(found)
        _audit(uow, row.name, row.id, "tenant.key_remove", actor, found.fingerprint)
        tenant_id, name = row.id, row.name
    apply_tenant_sftp(services, tenant_id, name)
    return Outcome.DELETED


def _audit(uow: UnitOfWork, name: str, tenant_id: str, action: str, actor: str, what: str) -> None:
    uow.audit.record(
        actor=actor,
        action=action,
        target_kind=KIND,
        target_name=name,
        decision="allowed",
        reason=what,
        snapshot={"tenant": name, "key": what},
        scope=tenant_id,
    )


# Tokens ------------------------------------------------------------------


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    services: Services, *, tenant: str, name: str, actor: str
) -> tuple[TokenRow, str, str]:
    """A new token of the tenant: (its row, its secret, shown once; the tenant's name)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with services.store.unit_of_work() as uow:
        row = tenants(uow).live_or_404(tenant)
        token = tokens(uow).add(
            TokenRow(
                tenant_id=row.id,
                name=name,
                digest=digest(secret),
                prefix=secret[:12],
                created_by=actor,
            )
        )
        uow.flush()
        return token, secret, row.name


def revoke_token(services: Services, *, token_id: str) -> TokenRow:
    with services.store.unit_of_work() as uow:
        row = tokens(uow).get(token_id)
        if row is None:
            raise NotFoundError(f"no token has id {token_id!r}: see hostctl token list")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return row


def resolve(services: Services, token: str) -> Caller | None:
    """The caller a tenant's token stands for, if it is one, not revoked, of a live tenant."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with services.store.unit_of_work() as uow:
        row = tokens(uow).by_digest(digest(token))
        if row is None or row.revoked_at is not None:
            return None
        tenant = tenants(uow).get(row.tenant_id)
        if tenant is None or tenant.status not in LIVE or tenant.status == TenantStatus.DELETING:
            return None
        return Caller(f"tenant:{tenant.name}/token:{row.name}", tenant.id, tenant.name)


# Plans -------------------------------------------------------------------


def save_plan(services: Services, *, name: str, limits: Limits, create: bool) -> PlanRow:
    """A new plan (409 if the name is taken), or new limits for an existing one."""
    validate_plan_name(name)
    with services.store.unit_of_work() as uow:
        row = plans(uow).by_name(name)
        if create and row is not None:
            raise ConflictError(f"plan {name!r} already exists: update it instead")
        if not create and row is None:
            raise NotFoundError(f"no plan is named {name!r}: see hostctl plan list")
        if row is None:
            row = plans(uow).add(PlanRow(name=name, **_limits(limits)))
        else:
            for field, value in _limits(limits).items():
                setattr(row, field, value)
        uow.flush()
        return row


def _limits(limits: Limits) -> dict[str, int]:
    return {
        "sites": limits.sites,
        "databases": limits.databases,
        "caches": limits.caches,
        "disk_mb": limits.disk_mb,
        "php_workers": limits.php_workers,
        "zones": limits.zones,
        "cache_memory_mb": limits.cache_memory_mb,
    }


def move_to_plan(services: Services, *, tenant: str, plan: str) -> None:
    with services.store.unit_of_work() as uow:
        row = tenants(uow).live_or_404(tenant)
        row.plan = plans(uow).by_name_or_404(plan)
