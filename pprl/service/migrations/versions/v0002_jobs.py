"""Verification jobs: one row per run of a campaign, its state and its result set.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("campaign", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=True),
        sa.Column("finished_at", sa.String(40), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("result_path", sa.String(1024), nullable=True),
        sa.Column("result_digest", sa.String(64), nullable=True),
    )
    op.create_index("jobs_campaign_state", "jobs", ["campaign_id", "state"])


def downgrade() -> None:
    op.drop_index("jobs_campaign_state", "jobs")
    op.drop_table("jobs")
