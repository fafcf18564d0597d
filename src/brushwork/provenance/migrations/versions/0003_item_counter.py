"""gallery_counters: the highest item id ever given, so that ids are never reused.

SQLite gives a new row the largest id + 1, so deleting the newest item handed its id to the next one:
a studio page, a queued job or a script still holding the old id would then tag, reproduce or delete
another picture. PostgreSQL's sequences never go back; SQLite galleries now take the next id from this
counter (brushwork's Gallery.add).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    counters = op.create_table(
        "gallery_counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )
    top = op.get_bind().execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM gallery_items")).scalar()
    op.bulk_insert(counters, [{"name": "gallery_items", "value": int(top or 0)}])


def downgrade() -> None:
    op.drop_table("gallery_counters")
