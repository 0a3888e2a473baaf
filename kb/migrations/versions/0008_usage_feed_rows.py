"""card_changes.kind: a change of content, or only a card's usage level (applied with the next content
change or by the index-feed job, not by a commit of its own)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('card_changes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=8), nullable=False, server_default='content'))
        batch_op.create_index('ix_card_changes_kind_seq', ['kind', 'seq'], unique=False)


def downgrade():
    with op.batch_alter_table('card_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_card_changes_kind_seq')
        batch_op.drop_column('kind')
