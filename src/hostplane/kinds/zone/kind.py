"""The zone kind, as the kernel sees it: a tenant's DNS zones and their RRsets on PowerDNS."""

from __future__ import annotations

from hostplane.kernel.kind import Kind
from hostplane.kinds.tenant.model import BEFORE_TEARDOWN, DNS01, DOMAIN_STEPS, OWNED, TEARDOWN
from hostplane.kinds.zone import api, domains, tenancy
from hostplane.kinds.zone.lifecycle import ZoneSaga
from hostplane.kinds.zone.model import KIND as NAME
from hostplane.kinds.zone.model import LIFECYCLE, PARENT, ZoneOp
from hostplane.kinds.zone.observe import ZoneObserver
from hostplane.kinds.zone.steps import STEPS
from hostplane.kinds.zone.table import ZoneRow
from hostplane.kinds.zone.workflow import change_records, create_zone, delete_zone

KIND: Kind[ZoneRow] = Kind(
    name=NAME,
    parent=PARENT,
    lifecycle=LIFECYCLE,
    table=ZoneRow,
    operations={
        ZoneOp.CREATE: create_zone,
        ZoneOp.RETRY: create_zone,
        ZoneOp.DELETE: delete_zone,
        ZoneOp.RECORDS: change_records,
    },
    saga=ZoneSaga(),
    steps=(*STEPS, domains.STEP_DEF),
    routers=(api.router,),
    observer=ZoneObserver(),
    contributes={
        OWNED: tenancy.owned,
        BEFORE_TEARDOWN: tenancy.before_teardown,
        TEARDOWN: tenancy.teardown,
        DOMAIN_STEPS: domains.domain_steps,
        DNS01: domains.dns01,
    },
)
