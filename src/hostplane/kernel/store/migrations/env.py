"""Alembic environment: the engine is handed in by hostplane.kernel.store.db.migrate.

On SQLite, a migration that alters a table copies it and drops the old one (batch mode); with
foreign keys on, dropping a table that rows of another reference fails, so they are off while
the migrations run (PRAGMA foreign_keys does nothing inside a transaction: it is set before)
and every reference is checked before they are on again."""

from __future__ import annotations

from alembic import context

from hostplane.kernel.store.tables import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(
                connection=connection, target_metadata=Base.metadata, render_as_batch=sqlite
            )
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"the migrated state database has broken references: {broken[:5]}"
                    )
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
