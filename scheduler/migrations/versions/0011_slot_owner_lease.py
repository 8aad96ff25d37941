"""a lease for the one service node that owns the loudspeaker slots

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 13:00:00
"""

import sqlalchemy as sa
from alembic import op

from scheduler.record.models import UTCDateTime

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'lease',
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('holder', sa.String(length=120), nullable=False),
        sa.Column('until', UTCDateTime(), nullable=False),
        sa.Column('since', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('lease')
