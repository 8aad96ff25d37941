"""dispatch indexes: no query of a pass grows with the history

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:40:00

- ``attempt.attempt_id``: a rescue finds the interrupted attempt by it;
- ``delivery (state, expires_at)``: the expiry sweep;
- ``delivery (channel_id, state, due_at)``: a slot's items, a channel's queue;
- ``delivery (channel_id, finished_at)``: a channel's last success, compliance by channel.
"""

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_attempt_attempt_id", "attempt", ["attempt_id"]),
    ("ix_delivery_expiry", "delivery", ["state", "expires_at"]),
    ("ix_delivery_channel_queue", "delivery", ["channel_id", "state", "due_at"]),
    ("ix_delivery_channel_finished", "delivery", ["channel_id", "finished_at"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
