"""the activities register: conferences, the dialogue with businesses, contests, press and radio-TV

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 13:10:00
"""

import sqlalchemy as sa
from alembic import op

from scheduler.record.models import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'activity',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('held_on', sa.Date(), nullable=False),
        sa.Column('title', sa.String(), nullable=False),
        sa.Column('place', sa.String(), nullable=False),
        sa.Column('participants', sa.Integer(), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('evidence', sa.String(length=200), nullable=False),
        sa.Column('evidence_sha256', sa.String(length=64), nullable=False),
        sa.Column('recorded_by', sa.String(length=80), nullable=False),
        sa.Column('recorded_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_activity_unit_id', 'activity', ['unit_id'])
    op.create_index('ix_activity_held_on', 'activity', ['held_on'])


def downgrade() -> None:
    op.drop_table('activity')
