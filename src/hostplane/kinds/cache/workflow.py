"""The cache kind's sagas (kernel.saga): a cache's create, delete and reassign, a user's."""

from __future__ import annotations

from dbos import DBOS

from hostplane.kernel import saga


@DBOS.workflow()
def create_cache(operation_id: str) -> str:
    """The instance started (its config, socket, admin user) and confirmed; a failure undoes it."""
    return saga.run(operation_id)


@DBOS.workflow()
def delete_cache(operation_id: str) -> str:
    """The instance stopped, its files and socket removed (its users with it)."""
    return saga.run(operation_id)


@DBOS.workflow()
def create_cache_user(operation_id: str) -> str:
    """The ACL user with its sealed password and key prefix, saved, logged in."""
    return saga.run(operation_id)


@DBOS.workflow()
def delete_cache_user(operation_id: str) -> str:
    """The ACL user deleted (its connections cut), saved."""
    return saga.run(operation_id)


@DBOS.workflow()
def update_cache_user(operation_id: str) -> str:
    """The ACL user's new password; a failure puts back the user it was."""
    return saga.run(operation_id)


@DBOS.workflow()
def reassign_cache(operation_id: str) -> str:
    """The old tenant's ACL users deleted, the instance moved to the new tenant's name and
    user, started; a failure undoes them in reverse."""
    return saga.run(operation_id)
