"""The custom domain kind, as the kernel sees it: a child of the site."""

from __future__ import annotations

from hostplane.kernel.kind import Kind
from hostplane.kinds.domain import api, edge, observe
from hostplane.kinds.domain.lifecycle import DomainSaga, remove_for_site
from hostplane.kinds.domain.model import KIND as NAME
from hostplane.kinds.domain.model import LIFECYCLE, PARENT, DomainOp
from hostplane.kinds.domain.repo import DomainTarget
from hostplane.kinds.domain.requests import before_site_teardown
from hostplane.kinds.domain.steps import STEPS
from hostplane.kinds.domain.table import DomainRow
from hostplane.kinds.domain.views import for_site_detail
from hostplane.kinds.domain.workflow import add_domain, remove_domain
from hostplane.kinds.site.api import DETAIL
from hostplane.kinds.site.edge import EDGE
from hostplane.kinds.site.requests import BEFORE_TEARDOWN
from hostplane.kinds.site.steps import TEARDOWN

KIND: Kind[DomainTarget] = Kind(
    name=NAME,
    parent=PARENT,
    lifecycle=LIFECYCLE,
    table=DomainRow,
    operations={DomainOp.ADD: add_domain, DomainOp.REMOVE: remove_domain},
    saga=DomainSaga(),
    steps=STEPS,
    routers=(api.router,),
    observer=observe.DomainObserver(),
    contributes={
        EDGE: edge.contribute,
        TEARDOWN: remove_for_site,
        BEFORE_TEARDOWN: before_site_teardown,
        DETAIL: for_site_detail,
    },
    on_start=observe.on_start,
)
