"""email notices: who was told what, and whether the mail went out

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 17:45:00
"""

import sqlalchemy as sa
from alembic import op

from scheduler.record.models import UTCDateTime

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('unit_id', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('recipient', sa.String(length=200), nullable=False),
        sa.Column('subject', sa.String(), nullable=False),
        sa.Column('body', sa.String(), nullable=False),
        sa.Column('link', sa.String(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTCDateTime(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('sent_at', UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.String(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key', 'recipient'),
    )
    op.create_index('ix_notice_unit_id', 'notice', ['unit_id'])
    op.create_index('ix_notice_status', 'notice', ['status'])


def downgrade() -> None:
    op.drop_index('ix_notice_status', table_name='notice')
    op.drop_index('ix_notice_unit_id', table_name='notice')
    op.drop_table('notice')
