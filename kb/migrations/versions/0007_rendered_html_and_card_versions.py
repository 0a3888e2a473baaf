"""revisions.answer_html (each answer rendered once, at save), cards.version (optimistic locking)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 15:00:00

"""
import sqlalchemy as sa
from alembic import op

from kb import markup

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BATCH = 500
# Existing rows get a shorter budget than a save: a row too costly to render stays NULL and is rendered
# (or refused with a notice) when someone reads it, instead of holding up the upgrade.
BUDGET_SECONDS = 0.5


def upgrade():
    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer_html', sa.Text(), nullable=True))
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))

    revisions = sa.table('revisions', sa.column('id', sa.Integer), sa.column('answer', sa.Text),
                         sa.column('answer_html', sa.Text))
    connection = op.get_bind()
    last_id = 0
    while True:  # keyset batches: memory stays flat however many revisions there are
        rows = connection.execute(sa.select(revisions.c.id, revisions.c.answer)
                                  .where(revisions.c.id > last_id).order_by(revisions.c.id).limit(BATCH)).all()
        if not rows:
            break
        rendered = []
        for row in rows:
            try:
                rendered.append({'row_id': row.id, 'html': str(markup.render(row.answer, budget=BUDGET_SECONDS))})
            except markup.TooComplex:
                pass
        if rendered:
            connection.execute(revisions.update().where(revisions.c.id == sa.bindparam('row_id'))
                               .values(answer_html=sa.bindparam('html')), rendered)
        last_id = rows[-1].id


def downgrade():
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_column('version')
    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.drop_column('answer_html')
