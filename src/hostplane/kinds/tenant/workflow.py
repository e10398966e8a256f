"""The tenant's sagas (kernel.saga): create, suspend, unsuspend, delete."""

from __future__ import annotations

from dbos import DBOS

from hostplane.kernel import saga


@DBOS.workflow()
def create_tenant(operation_id: str) -> str:
    """Its account and SFTP access; a failure undoes the started steps in reverse."""
    return saga.run(operation_id)


@DBOS.workflow()
def suspend_tenant(operation_id: str) -> str:
    """Suspend or unsuspend: the sites, their PHP and SFTP follow the desired suspension."""
    return saga.run(operation_id)


@DBOS.workflow()
def delete_tenant(operation_id: str) -> str:
    """What it owns (cascade), its SFTP access, its account: each undone, stopping at a failure."""
    return saga.run(operation_id)
