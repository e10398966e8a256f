"""The sites' repository: reads and adds site rows; the unit of work commits."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from hostplane.errors import NotFoundError
from hostplane.kernel.store import counts
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.types import utcnow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.site.model import SiteFields, SiteOp, SiteStatus, SiteSummaryFields
from hostplane.kinds.site.table import SiteRow
from hostplane.kinds.tenant.table import PlanRow, TenantRow

SITE_FIELDS = (
    SiteRow.id,
    SiteRow.name,
    SiteRow.type,
    SiteRow.runtime,
    SiteRow.status,
    SiteRow.port,
    SiteRow.admin_email,
    SiteRow.installed_at,
    SiteRow.maintenance,
    SiteRow.tenant_id,
    TenantRow.name.label("tenant_name"),
    TenantRow.made_for.label("tenant_made_for"),
    TenantRow.suspension.is_not(None).label("tenant_suspended"),
    PlanRow.php_workers.label("php_workers"),
    SiteRow.routed,
)

# A page's fields: tuples, not ORM rows with their tenant and its plan joined (that cost most
# of a page's time: bench/api.py).
SUMMARY_FIELDS = (
    SiteRow.name,
    TenantRow.name.label("tenant_name"),
    SiteRow.type,
    SiteRow.runtime,
    SiteRow.status,
    SiteRow.created_at,
    SiteRow.updated_at,
)


# What routed(), live_fields() and live_or_routed() return: plain named tuples of SITE_FIELDS.
# A Row's attribute is looked up by name on every read; the edge's derive and the reconciler
# read a dozen of each of thousands of rows (a third of the derive's time went to it).
_SiteTuple = namedtuple("_SiteTuple", [column.key for column in SITE_FIELDS])  # type: ignore[misc]


def _tuples(result: Any) -> list[Any]:
    return list(map(_SiteTuple._make, result))


def _fields() -> Any:
    """The sites' fields with their tenant's, without loading ORM objects."""
    return (
        sa.select(*SITE_FIELDS)
        .outerjoin(TenantRow, TenantRow.id == SiteRow.tenant_id)
        .outerjoin(PlanRow, PlanRow.id == TenantRow.plan_id)
    )


class SiteRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: SiteRow) -> SiteRow:
        self.session.add(row)
        return row

    def get(self, site_id: str) -> SiteRow | None:
        return self.session.get(SiteRow, site_id)

    def get_live(self, name: str) -> SiteRow | None:
        stmt = sa.select(SiteRow).where(
            SiteRow.name == name, SiteRow.status != SiteStatus.DESTROYED
        )
        return self.session.scalars(stmt).one_or_none()

    def get_latest(self, name: str) -> SiteRow | None:
        """The live site of that name, else the one destroyed last."""
        live = self.get_live(name)
        if live is not None:
            return live
        stmt = (
            sa.select(SiteRow)
            .where(SiteRow.name == name)
            .order_by(SiteRow.updated_at.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def page(
        self,
        *,
        status: str | None,
        after: str | None,
        limit: int,
        tenant_id: str | None = None,
    ) -> Sequence[SiteSummaryFields]:
        stmt = sa.select(*SUMMARY_FIELDS).outerjoin(TenantRow, TenantRow.id == SiteRow.tenant_id)
        if tenant_id is not None:
            stmt = stmt.where(SiteRow.tenant_id == tenant_id)
        if status is None:
            stmt = stmt.where(SiteRow.status != SiteStatus.DESTROYED)
        else:
            stmt = stmt.where(SiteRow.status == status)
        if after:
            stmt = stmt.where(SiteRow.name > after)
        return self.session.execute(stmt.order_by(SiteRow.name).limit(limit)).all()  # type: ignore[return-value]

    def set_routed(self, site_id: str, routed: bool) -> None:
        """Whether the edge is to route the site, in one UPDATE (none when it already says so);
        its version moves as an ORM write would move it, so a stale read still conflicts."""
        self.session.execute(
            sa.update(SiteRow)
            .where(SiteRow.id == site_id, SiteRow.routed.is_not(routed))
            .values(routed=routed, version=SiteRow.version + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    def touch(self, site: SiteRow) -> None:
        """Bump the site's version: two requests that both touch it cannot both commit, which
        makes checks across tables (a destroy against a domain add) race-free."""
        site.updated_at = utcnow()

    def routed(self, site_id: str | None = None) -> Sequence[SiteFields]:
        """The routed sites' fields, without loading ORM objects (thousands per edge render);
        with `site_id`, that site's alone (none when it is not routed)."""
        stmt = _fields().where(SiteRow.routed.is_(True)).order_by(SiteRow.name)
        if site_id is not None:
            stmt = stmt.where(SiteRow.id == site_id)
        return _tuples(self.session.execute(stmt))

    def live_or_routed(self) -> Sequence[SiteFields]:
        """live_fields() and routed() in one read (the reconciler needs both): the rows of
        either, by name; `status` and `routed` tell which."""
        stmt = _fields().where(
            sa.or_(SiteRow.status != SiteStatus.DESTROYED, SiteRow.routed.is_(True))
        )
        return _tuples(self.session.execute(stmt.order_by(SiteRow.name)))

    def live_fields(self) -> Sequence[SiteFields]:
        stmt = _fields().where(SiteRow.status != SiteStatus.DESTROYED).order_by(SiteRow.name)
        return _tuples(self.session.execute(stmt))

    def kept_data(self, live: set[str] | None = None) -> list[str]:
        """Names of destroyed sites whose data was kept (--keep-data) and not taken up by a
        live site of the same name since: their database, files and volume stay."""
        stmt = (
            sa.select(SiteRow.name, OperationRow.options, OperationRow.created_at)
            .join(OperationRow, OperationRow.target_id == SiteRow.id)
            .where(SiteRow.status == SiteStatus.DESTROYED, OperationRow.kind == SiteOp.DESTROY)
            .order_by(OperationRow.created_at)
        )
        kept: dict[str, bool] = {}
        for name, options, _ in self.session.execute(stmt):
            kept[name] = bool((options or {}).get("keep_data"))
        if live is None:  # else the live sites' names, read by the caller
            live = set(
                self.session.scalars(
                    sa.select(SiteRow.name).where(SiteRow.status != SiteStatus.DESTROYED)
                )
            )
        return sorted(n for n, k in kept.items() if k and n not in live)

    def live(self) -> Sequence[SiteRow]:
        stmt = (
            sa.select(SiteRow).where(SiteRow.status != SiteStatus.DESTROYED).order_by(SiteRow.name)
        )
        return self.session.scalars(stmt).all()

    def live_or_404(self, name: str, scope: str | None = None) -> SiteRow:
        """The live site of that name; with `scope` (a tenant's token), only one of that
        tenant's: any other is not found, as if it did not exist."""
        site = self.get_live(name)
        if site is None or (scope is not None and site.tenant_id != scope):
            raise NotFoundError(f"no live site is named {name!r}")
        return site

    def count_of_tenant(self, tenant_id: str) -> int:
        """How many live ones the tenant has (what its plan's limit counts)."""
        return counts.live_of_tenant(self.session, SiteRow, tenant_id, SiteStatus.DESTROYED)

    def of_tenant(self, tenant_id: str) -> Sequence[SiteRow]:
        """The tenant's live sites."""
        stmt = sa.select(SiteRow).where(
            SiteRow.tenant_id == tenant_id, SiteRow.status != SiteStatus.DESTROYED
        )
        return self.session.scalars(stmt.order_by(SiteRow.name)).all()


def sites(uow: UnitOfWork) -> SiteRepository:
    return uow.repo(SiteRepository)
