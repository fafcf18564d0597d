"""gallery_inputs.path: where an input file was when the output was made (the local database only).

Recipes embedded in shared files name an absolute input by its file name alone (a path may name the
user); the gallery is the user's own database, so it keeps the path, and `brushwork suggest` can offer
the styles the user has worked with.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("gallery_inputs", sa.Column("path", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gallery_inputs") as batch:  # (SQLite rebuilds the table)
        batch.drop_column("path")
