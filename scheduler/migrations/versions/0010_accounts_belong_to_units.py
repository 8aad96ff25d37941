"""accounts belong to units: a commune account works on its commune, a province account reads its communes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing accounts get the default unit from ``cchc init`` (catalog.sync): the schema does not know it.
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_user_unit_id'), ['unit_id'], unique=False)
        batch_op.create_foreign_key('fk_user_unit_id_unit', 'unit', ['unit_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint('fk_user_unit_id_unit', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_user_unit_id'))
        batch_op.drop_column('unit_id')
