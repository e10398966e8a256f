"""The database kind, as the kernel sees it: a tenant's MariaDB databases and their users."""

from __future__ import annotations

from hostplane.kernel.kind import Kind
from hostplane.kinds.database import api, site_databases, tenancy
from hostplane.kinds.database.lifecycle import DatabaseSaga
from hostplane.kinds.database.model import KIND as NAME
from hostplane.kinds.database.model import LIFECYCLE, PARENT, DatabaseOp
from hostplane.kinds.database.observe import DatabaseObserver
from hostplane.kinds.database.steps import STEPS
from hostplane.kinds.database.table import DatabaseRow
from hostplane.kinds.database.workflow import (
    create_database,
    create_user,
    delete_database,
    delete_user,
    reassign_database,
    update_user,
)
from hostplane.kinds.tenant.model import (
    BEFORE_TEARDOWN,
    OWNED,
    SITE_DATABASE_CLAIM,
    SITE_DATABASE_RELEASE,
    SITE_DATABASE_STATUS,
    SUSPENSION,
    TEARDOWN,
)

KIND: Kind[DatabaseRow] = Kind(
    name=NAME,
    parent=PARENT,
    lifecycle=LIFECYCLE,
    table=DatabaseRow,
    operations={
        DatabaseOp.CREATE: create_database,
        DatabaseOp.RETRY: create_database,
        DatabaseOp.DELETE: delete_database,
        DatabaseOp.USER_CREATE: create_user,
        DatabaseOp.USER_DELETE: delete_user,
        DatabaseOp.USER_UPDATE: update_user,
        DatabaseOp.REASSIGN: reassign_database,
    },
    saga=DatabaseSaga(),  # type: ignore[arg-type]
    steps=STEPS,
    routers=(api.tenant_router, api.router),
    observer=DatabaseObserver(),
    contributes={
        OWNED: tenancy.owned,
        BEFORE_TEARDOWN: tenancy.before_teardown,
        TEARDOWN: tenancy.teardown,
        SUSPENSION: tenancy.follow_suspension,
        SITE_DATABASE_CLAIM: site_databases.claim,
        SITE_DATABASE_STATUS: site_databases.follow,
        SITE_DATABASE_RELEASE: site_databases.release,
    },
)
