"""link keys for foreign ids, due-soon instants, job leases, search refs, notification links

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # Existing ids were limited to [A-Za-z0-9._:-]{1,100}, so each is already a safe link key: links
    # written as /cards/by-key/<id> keep working.
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_key', sa.String(length=100), nullable=True))
        batch_op.alter_column('external_id', existing_type=sa.String(length=100), type_=sa.String(length=255),
                              existing_nullable=False)
    op.execute("UPDATE cards SET link_key = external_id")
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.alter_column('link_key', existing_type=sa.String(length=100), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_cards_link_key'), ['link_key'])

    with op.batch_alter_table('card_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_soon_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_card_states_due_soon_at'), ['due_soon_at'], unique=False)

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('url', sa.String(length=500), nullable=False, server_default=''))

    with op.batch_alter_table('search_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ref', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_search_log_ref'), ['ref'], unique=False)

    op.create_table('job_runs',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('last_started_at', sa.DateTime(), nullable=True),
    sa.Column('last_finished_at', sa.DateTime(), nullable=True),
    sa.Column('last_result', sa.Text(), nullable=False, server_default=''),
    sa.Column('last_error', sa.Text(), nullable=False, server_default=''),
    sa.Column('runs', sa.Integer(), nullable=False, server_default='0'),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_runs'))
    )


def downgrade():
    op.drop_table('job_runs')
    with op.batch_alter_table('search_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_log_ref'))
        batch_op.drop_column('ref')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('url')
    with op.batch_alter_table('card_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_states_due_soon_at'))
        batch_op.drop_column('due_soon_at')
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_cards_link_key'), type_='unique')
        batch_op.drop_column('link_key')
        batch_op.alter_column('external_id', existing_type=sa.String(length=255), type_=sa.String(length=100),
                              existing_nullable=False)
