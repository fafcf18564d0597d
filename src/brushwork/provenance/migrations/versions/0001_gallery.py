"""The gallery: gallery_items (one per written image), their inputs, and tags.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gallery_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("operation", sa.String(64), nullable=False, index=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("recipe", sa.JSON, nullable=True),
        sa.Column("thumbnail", sa.LargeBinary, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=True),
    )
    op.create_table(
        "gallery_inputs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("gallery_items.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True, index=True),
    )
    op.create_table(
        "gallery_tags",
        sa.Column("item_id", sa.Integer, sa.ForeignKey("gallery_items.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True, index=True),
    )


def downgrade() -> None:
    op.drop_table("gallery_tags")
    op.drop_table("gallery_inputs")
    op.drop_table("gallery_items")
