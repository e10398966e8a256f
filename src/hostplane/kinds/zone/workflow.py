"""The zone's sagas (kernel.saga): create, delete, a record change, a repair."""

from __future__ import annotations

from dbos import DBOS

from hostplane.kernel import saga


@DBOS.workflow()
def create_zone(operation_id: str) -> str:
    """The zone on PowerDNS with the platform's SOA and NS; a failure undoes it."""
    return saga.run(operation_id)


@DBOS.workflow()
def delete_zone(operation_id: str) -> str:
    """The zone removed from PowerDNS with every record in it."""
    return saga.run(operation_id)


@DBOS.workflow()
def change_records(operation_id: str) -> str:
    """One RRset replaced or deleted in one PATCH; the database records it once confirmed."""
    return saga.run(operation_id)
