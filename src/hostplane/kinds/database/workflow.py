"""The database kind's sagas (kernel.saga): a database's create and delete, a user's."""

from __future__ import annotations

from dbos import DBOS

from hostplane.kernel import saga


@DBOS.workflow()
def create_database(operation_id: str) -> str:
    """The database on MariaDB, marked; a failure undoes it."""
    return saga.run(operation_id)


@DBOS.workflow()
def delete_database(operation_id: str) -> str:
    """The database's accounts dropped, then the database."""
    return saga.run(operation_id)


@DBOS.workflow()
def create_user(operation_id: str) -> str:
    """The account with its sealed password, granted on exactly its database, logged in."""
    return saga.run(operation_id)


@DBOS.workflow()
def delete_user(operation_id: str) -> str:
    """The account dropped with its grants."""
    return saga.run(operation_id)


@DBOS.workflow()
def update_user(operation_id: str) -> str:
    """The account's new privileges or password; a failure puts back the account it was."""
    return saga.run(operation_id)


@DBOS.workflow()
def reassign_database(operation_id: str) -> str:
    """The new database, the old tenant's accounts dropped, the tables moved, the old
    database dropped; a failure undoes them in reverse."""
    return saga.run(operation_id)
