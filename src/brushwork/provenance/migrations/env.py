"""Alembic environment for the gallery. brushwork runs the migrations itself (``Gallery.open``), passing
its own connection, so the same code upgrades SQLite and PostgreSQL galleries."""

from __future__ import annotations

from alembic import context

from brushwork.provenance.gallery import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic -x url=... upgrade head` by hand, for operators
    from sqlalchemy import create_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    with create_engine(url).begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                          version_table=VERSION_TABLE)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      version_table=VERSION_TABLE)
    context.run_migrations()
