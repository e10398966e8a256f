"""The cache kind, as the kernel sees it: a tenant's Redis instances and their ACL users."""

from __future__ import annotations

from hostplane.kernel.kind import Kind
from hostplane.kinds.cache import api, restore, tenancy
from hostplane.kinds.cache.lifecycle import CacheSaga
from hostplane.kinds.cache.model import KIND as NAME
from hostplane.kinds.cache.model import LIFECYCLE, PARENT, CacheOp
from hostplane.kinds.cache.observe import CacheObserver
from hostplane.kinds.cache.steps import STEPS
from hostplane.kinds.cache.table import CacheRow
from hostplane.kinds.cache.workflow import (
    create_cache,
    create_cache_user,
    delete_cache,
    delete_cache_user,
    reassign_cache,
    update_cache_user,
)
from hostplane.kinds.tenant.model import (
    BEFORE_TEARDOWN,
    KEEP_RUNNING,
    OWNED,
    SUSPENSION,
    TEARDOWN,
    USAGE,
)

KIND: Kind[CacheRow] = Kind(
    name=NAME,
    parent=PARENT,
    lifecycle=LIFECYCLE,
    table=CacheRow,
    operations={
        CacheOp.CREATE: create_cache,
        CacheOp.RETRY: create_cache,
        CacheOp.DELETE: delete_cache,
        CacheOp.USER_CREATE: create_cache_user,
        CacheOp.USER_DELETE: delete_cache_user,
        CacheOp.USER_UPDATE: update_cache_user,
        CacheOp.REASSIGN: reassign_cache,
    },
    saga=CacheSaga(),  # type: ignore[arg-type]
    steps=STEPS,
    routers=(api.tenant_router, api.router),
    observer=CacheObserver(),
    contributes={
        OWNED: tenancy.owned,
        USAGE: tenancy.usage,
        BEFORE_TEARDOWN: tenancy.before_teardown,
        TEARDOWN: tenancy.teardown,
        SUSPENSION: tenancy.follow_suspension,
        KEEP_RUNNING: tenancy.keep_running,
    },
    on_start=restore.on_start,
    daemons=restore.daemons,
)
