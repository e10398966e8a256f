"""The site kind, as the kernel sees it."""

from __future__ import annotations

from hostplane.kernel.kind import Kind
from hostplane.kinds.site import api, tenancy
from hostplane.kinds.site.lifecycle import SiteSaga
from hostplane.kinds.site.model import KIND as NAME
from hostplane.kinds.site.model import LIFECYCLE, PARENT, SiteOp
from hostplane.kinds.site.observe import SiteObserver
from hostplane.kinds.site.restore import move_in_legacy_sites, on_start
from hostplane.kinds.site.steps import STEPS
from hostplane.kinds.site.table import SiteRow
from hostplane.kinds.site.workflow import destroy_site, provision_site, reinstall_site
from hostplane.kinds.tenant.model import (
    BEFORE_RESTORE,
    BEFORE_TEARDOWN,
    OWNED,
    SUSPENSION,
    TEARDOWN,
)

KIND: Kind[SiteRow] = Kind(
    name=NAME,
    parent=PARENT,
    lifecycle=LIFECYCLE,
    table=SiteRow,
    operations={
        SiteOp.PROVISION: provision_site,
        SiteOp.RETRY: provision_site,
        SiteOp.DESTROY: destroy_site,
        SiteOp.REINSTALL: reinstall_site,
    },
    saga=SiteSaga(),
    steps=STEPS,
    routers=(api.router, api.edge_router),
    observer=SiteObserver(),
    contributes={
        BEFORE_RESTORE: move_in_legacy_sites,
        OWNED: tenancy.owned,
        BEFORE_TEARDOWN: tenancy.before_teardown,
        TEARDOWN: tenancy.teardown,
        SUSPENSION: tenancy.follow_suspension,
    },
    on_start=on_start,
)
