"""onboarding: paths, reads, check questions, pushes; cohort imports, set-password links, SSO subjects,
e-mail keys, membership dates, material or minor changes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:45:00

"""
import sqlalchemy as sa
from alembic import op

from kb.accounts.emails import email_key

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('password_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_links_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_links')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_password_links_secret_hash'))
    )
    with op.batch_alter_table('password_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_links_user_id'), ['user_id'], unique=False)

    op.create_table('paths',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_paths_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_paths_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paths')),
    sa.UniqueConstraint('name', name=op.f('uq_paths_name'))
    )
    with op.batch_alter_table('paths', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paths_team_id'), ['team_id'], unique=False)

    op.create_table('user_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('created_count', sa.Integer(), nullable=False),
    sa.Column('updated_count', sa.Integer(), nullable=False),
    sa.Column('links_csv', sa.Text(), nullable=True),
    sa.Column('downloaded_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_user_imports_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_user_imports_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_imports'))
    )
    op.create_table('path_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('due_days', sa.Integer(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(team_id IS NULL) <> (user_id IS NULL)', name=op.f('ck_path_assignments_team_or_user')),
    sa.CheckConstraint('due_days IS NULL OR due_days > 0', name=op.f('ck_path_assignments_due_days_positive')),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_path_assignments_assigned_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['path_id'], ['paths.id'], name=op.f('fk_path_assignments_path_id_paths'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_path_assignments_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_path_assignments_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_path_assignments')),
    sa.UniqueConstraint('path_id', 'team_id', name='uq_path_assignments_path_team'),
    sa.UniqueConstraint('path_id', 'user_id', name='uq_path_assignments_path_user')
    )
    with op.batch_alter_table('path_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_path_assignments_path_id'), ['path_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_path_assignments_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_path_assignments_user_id'), ['user_id'], unique=False)

    op.create_table('path_completions',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('path_id', sa.Integer(), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['path_id'], ['paths.id'], name=op.f('fk_path_completions_path_id_paths'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_path_completions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'path_id', name=op.f('pk_path_completions'))
    )
    with op.batch_alter_table('path_completions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_path_completions_path_id'), ['path_id'], unique=False)

    op.create_table('path_sections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['path_id'], ['paths.id'], name=op.f('fk_path_sections_path_id_paths'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_path_sections'))
    )
    with op.batch_alter_table('path_sections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_path_sections_path_id'), ['path_id'], unique=False)

    op.create_table('card_reads',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=False),
    sa.Column('acknowledged_revision', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_card_reads_card_id_cards'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_card_reads_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'card_id', name=op.f('pk_card_reads'))
    )
    with op.batch_alter_table('card_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_reads_card_id'), ['card_id'], unique=False)

    op.create_table('check_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('prompt', sa.String(length=500), nullable=False),
    sa.Column('choices_json', sa.Text(), nullable=False),
    sa.Column('correct', sa.Integer(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_check_questions_card_id_cards'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_check_questions_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_questions'))
    )
    with op.batch_alter_table('check_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_check_questions_card_id'), ['card_id'], unique=False)

    op.create_table('path_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('must_acknowledge', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_path_items_card_id_cards'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['path_id'], ['paths.id'], name=op.f('fk_path_items_path_id_paths'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['path_sections.id'], name=op.f('fk_path_items_section_id_path_sections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_path_items')),
    sa.UniqueConstraint('path_id', 'card_id', name=op.f('uq_path_items_path_id'))
    )
    with op.batch_alter_table('path_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_path_items_card_id'), ['card_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_path_items_path_id'), ['path_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_path_items_section_id'), ['section_id'], unique=False)

    op.create_table('pushes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('team_names', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_pushes_card_id_cards'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_pushes_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pushes'))
    )
    with op.batch_alter_table('pushes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pushes_card_id'), ['card_id'], unique=False)

    op.create_table('push_receipts',
    sa.Column('push_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.Column('acknowledged_revision', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['push_id'], ['pushes.id'], name=op.f('fk_push_receipts_push_id_pushes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_push_receipts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('push_id', 'user_id', name=op.f('pk_push_receipts'))
    )
    with op.batch_alter_table('push_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_receipts_user_id'), ['user_id'], unique=False)

    op.create_table('question_answers',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('first_correct', sa.Boolean(), nullable=False),
    sa.Column('correct', sa.Boolean(), nullable=False),
    sa.Column('choice', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['check_questions.id'], name=op.f('fk_question_answers_question_id_check_questions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_question_answers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'question_id', name=op.f('pk_question_answers'))
    )
    with op.batch_alter_table('question_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_question_answers_question_id'), ['question_id'], unique=False)

    # Existing members joined "now" as far as due dates go: a path assigned later counts from its assignment.
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('joined_at', sa.DateTime(), nullable=True))
    op.execute(sa.text("UPDATE memberships SET joined_at = CURRENT_TIMESTAMP"))
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.alter_column('joined_at', existing_type=sa.DateTime(), nullable=False)

    # Each address's comparison key, computed by the same function the app uses. Two existing accounts whose
    # addresses differ only in case or Unicode form would clash here: the migration stops and names them.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_key', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('sso_subject', sa.String(length=400), nullable=True))
    connection = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('email', sa.String),
                     sa.column('email_key', sa.String))
    seen = {}
    for user_id, email in connection.execute(sa.select(users.c.id, users.c.email)).all():
        key = email_key(email)
        if key in seen:
            raise RuntimeError(f"users {seen[key]} and {user_id} have the same e-mail address written two ways "
                               f"({email!r}); merge or rename one, then upgrade again")
        seen[key] = user_id
        connection.execute(users.update().where(users.c.id == user_id).values(email_key=key))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('email_key', existing_type=sa.String(length=254), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_users_email_key'), ['email_key'])
        batch_op.create_unique_constraint(batch_op.f('uq_users_sso_subject'), ['sso_subject'])

    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change_kind', sa.String(length=8), nullable=True))



def downgrade():
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.drop_column('change_kind')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_sso_subject'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_users_email_key'), type_='unique')
        batch_op.drop_column('sso_subject')
        batch_op.drop_column('email_key')

    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('joined_at')

    with op.batch_alter_table('question_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_question_answers_question_id'))

    op.drop_table('question_answers')
    with op.batch_alter_table('push_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_receipts_user_id'))

    op.drop_table('push_receipts')
    with op.batch_alter_table('pushes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pushes_card_id'))

    op.drop_table('pushes')
    with op.batch_alter_table('path_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_path_items_section_id'))
        batch_op.drop_index(batch_op.f('ix_path_items_path_id'))
        batch_op.drop_index(batch_op.f('ix_path_items_card_id'))

    op.drop_table('path_items')
    with op.batch_alter_table('check_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_questions_card_id'))

    op.drop_table('check_questions')
    with op.batch_alter_table('card_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_reads_card_id'))

    op.drop_table('card_reads')
    with op.batch_alter_table('path_sections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_path_sections_path_id'))

    op.drop_table('path_sections')
    with op.batch_alter_table('path_completions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_path_completions_path_id'))

    op.drop_table('path_completions')
    with op.batch_alter_table('path_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_path_assignments_user_id'))
        batch_op.drop_index(batch_op.f('ix_path_assignments_team_id'))
        batch_op.drop_index(batch_op.f('ix_path_assignments_path_id'))

    op.drop_table('path_assignments')
    op.drop_table('user_imports')
    with op.batch_alter_table('paths', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paths_team_id'))

    op.drop_table('paths')
    with op.batch_alter_table('password_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_links_user_id'))

    op.drop_table('password_links')
