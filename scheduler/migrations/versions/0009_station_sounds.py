"""the station's own jingle, station ID and outro recordings

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 20:10:00
"""

import sqlalchemy as sa
from alembic import op

from scheduler.record.models import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'stationsound',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel_id', sa.String(length=60), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('lang', sa.String(length=10), nullable=False),
        sa.Column('file', sa.String(length=200), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('uploaded_by', sa.String(length=80), nullable=False),
        sa.Column('uploaded_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('channel_id', 'kind', 'lang'),
    )


def downgrade() -> None:
    op.drop_table('stationsound')
