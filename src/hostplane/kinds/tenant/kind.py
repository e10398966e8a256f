"""The tenant kind, as the kernel sees it: the parent of sites (and of the kinds to come)."""

from __future__ import annotations

from hostplane.api.auth import TOKEN_RESOLVER
from hostplane.kernel.kind import Kind
from hostplane.kinds.tenant import access, admin, api, restore
from hostplane.kinds.tenant.lifecycle import TenantSaga
from hostplane.kinds.tenant.model import KIND as NAME
from hostplane.kinds.tenant.model import LIFECYCLE, TenantOp
from hostplane.kinds.tenant.observe import TenantObserver
from hostplane.kinds.tenant.steps import STEPS
from hostplane.kinds.tenant.table import TenantRow
from hostplane.kinds.tenant.workflow import create_tenant, delete_tenant, suspend_tenant

KIND: Kind[TenantRow] = Kind(
    name=NAME,
    lifecycle=LIFECYCLE,
    table=TenantRow,
    operations={
        TenantOp.CREATE: create_tenant,
        TenantOp.RETRY: create_tenant,
        TenantOp.SUSPEND: suspend_tenant,
        TenantOp.UNSUSPEND: suspend_tenant,
        TenantOp.DELETE: delete_tenant,
    },
    saga=TenantSaga(),
    steps=STEPS,
    routers=(api.router, admin.plan_router, admin.token_router),
    observer=TenantObserver(),
    contributes={TOKEN_RESOLVER: access.resolve},
    on_start=restore.on_start,
    daemons=restore.daemons,
)
