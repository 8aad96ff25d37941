"""the record tells the truth: writers, previewed deliveries, plan dates, excluded topics, slot items

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 08:00:00

- ``announcement.writers``: everyone who wrote what is approved (author, editors, translators), from
  the audit trail of the rows that exist;
- ``delivery.state = 'previewed'`` replaces ``delivered`` + ``preview = true``: a preview never counts;
- ``plan.issued`` / ``plan.effective``, ``target.exclude_topics``;
- ``as_run.items``: how many deliveries a slot held; an empty slot that "played" is ``skipped``.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _json_list(value) -> list:  # noqa: ANN001
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else list(value)


def upgrade() -> None:
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('writers', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exclude_topics', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issued', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('effective', sa.Date(), nullable=True))
    with op.batch_alter_table('as_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('items', sa.Integer(), nullable=False, server_default=sa.text("0")))

    bind = op.get_bind()
    writers: dict[int, list[str]] = {}
    for ann_id, author in bind.execute(sa.text("SELECT id, author FROM announcement")):
        writers[ann_id] = [author]
    for ann_id, translator in bind.execute(sa.text("SELECT announcement_id, translator FROM translation")):
        if translator not in writers.setdefault(ann_id, []):
            writers[ann_id].append(translator)
    for actor, subject in bind.execute(sa.text(
            "SELECT actor, subject FROM auditevent WHERE action IN ('edit', 'translate') ORDER BY id")):
        ann_id = int(subject.split(":", 1)[1])
        if ann_id in writers and actor not in writers[ann_id]:
            writers[ann_id].append(actor)
    for ann_id, names in writers.items():
        bind.execute(sa.text("UPDATE announcement SET writers = :w WHERE id = :id"),
                     {"w": json.dumps(names, ensure_ascii=False), "id": ann_id})

    bind.execute(sa.text("UPDATE delivery SET state = 'previewed' WHERE state = 'delivered' AND preview"))
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('preview')

    for row_id, status, parts, notes in bind.execute(sa.text("SELECT id, status, parts, notes FROM as_run")):
        parts, notes = _json_list(parts), _json_list(notes)
        items = len(parts) if parts else sum(1 for note in notes if note.startswith("lượt "))
        if status == "played" and not parts:
            status = "skipped"
        bind.execute(sa.text("UPDATE as_run SET items = :n, status = :s WHERE id = :id"),
                     {"n": items, "s": status, "id": row_id})


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preview', sa.Boolean(), nullable=False, server_default=sa.false()))
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE delivery SET state = 'delivered', preview = true WHERE state = 'previewed'"))
    bind.execute(sa.text("UPDATE as_run SET status = 'played' WHERE status = 'skipped'"))
    with op.batch_alter_table('as_run', schema=None) as batch_op:
        batch_op.drop_column('items')
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_column('effective')
        batch_op.drop_column('issued')
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.drop_column('exclude_topics')
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.drop_column('writers')
