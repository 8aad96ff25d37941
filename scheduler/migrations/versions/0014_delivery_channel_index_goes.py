"""the delivery's own channel index goes: (channel, state, due) and (channel, finished) serve it

PostgreSQL chose it for the province's totals of a quarter and read every delivery of the channels,
filtering most away; without it the (channel, finished) index reads the quarter only.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:55:00
"""

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_channel_id')


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_channel_id', ['channel_id'], unique=False)
