"""The site's sagas: one skeleton for every site type and runtime (kernel.saga).

Workflows orchestrate and do no I/O of their own; the names stay as they were so that a
workflow recorded before an upgrade is still found by name.
"""

from __future__ import annotations

from dbos import DBOS

from hostplane.kernel import saga


@DBOS.workflow()
def provision_site(operation_id: str) -> str:
    """Apply the plan; a failure undoes the started steps in reverse, durably."""
    return saga.run(operation_id)


@DBOS.workflow()
def destroy_site(operation_id: str) -> str:
    """Undo every step of the provision plan (children first), stopping at a failure."""
    return saga.run(operation_id)


@DBOS.workflow()
def reinstall_site(operation_id: str) -> str:
    """WordPress installed afresh on a site whose data was lost; a failure is not undone."""
    return saga.run(operation_id)
