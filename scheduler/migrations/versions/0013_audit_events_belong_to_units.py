"""audit events belong to units: each unit's audit trail shows its own events

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 19:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# Earlier events get the unit of what they were about; the rest (a restore) stay the installation's.
BACKFILL = {
    "announcement:%": "SELECT a.unit_id FROM announcement a WHERE a.id = CAST(substr(auditevent.subject, 14) AS INTEGER)",
    "user:%": "SELECT u.unit_id FROM \"user\" u WHERE u.name = substr(auditevent.subject, 6)",
    "channel:%": "SELECT c.unit_id FROM channel c WHERE c.id = substr(auditevent.subject, 9)",
    "delivery:%": "SELECT c.unit_id FROM delivery d JOIN channel c ON c.id = d.channel_id "
                  "WHERE d.id = CAST(substr(auditevent.subject, 10) AS INTEGER)",
    "activity:%": "SELECT t.unit_id FROM activity t WHERE t.id = CAST(substr(auditevent.subject, 10) AS INTEGER)",
}


def upgrade() -> None:
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_auditevent_unit_id'), ['unit_id'], unique=False)
    bind = op.get_bind()
    for pattern, unit_of in BACKFILL.items():
        bind.execute(sa.text(f"UPDATE auditevent SET unit_id = ({unit_of}) WHERE subject LIKE :pattern"),
                     {"pattern": pattern})
    events = sa.table('auditevent', sa.column('id', sa.Integer), sa.column('unit_id', sa.String),
                      sa.column('action', sa.String), sa.column('detail', sa.JSON))
    for row in bind.execute(sa.select(events.c.id, events.c.detail).where(events.c.action == 'quota_warning')):
        unit = (row.detail or {}).get('unit')
        if isinstance(unit, str):
            bind.execute(events.update().where(events.c.id == row.id).values(unit_id=unit[:40]))


def downgrade() -> None:
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auditevent_unit_id'))
        batch_op.drop_column('unit_id')
