"""Metrics over the registry: how many resources of each kind are in each status, read from
the state database when Prometheus scrapes (one grouped query per kind)."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hostplane.kernel.kind import Registry
from hostplane.kernel.store.uow import Store

log = structlog.get_logger(__name__)


class ResourceCollector(Collector):
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "hostplane_resources", "Resources of each kind by status", labels=["kind", "status"]
        )
        try:
            with self.store.unit_of_work() as uow:
                for kind in self.registry:
                    if kind.table is None:
                        continue
                    status = kind.table.status
                    rows = uow.session.execute(sa.select(status, sa.func.count()).group_by(status))
                    for value, count in rows:
                        family.add_metric([kind.name, str(value)], float(count))
        except sa.exc.SQLAlchemyError as exc:  # a scrape never fails the API
            log.warning("metrics.resources_unavailable", error=str(exc))
        yield family
