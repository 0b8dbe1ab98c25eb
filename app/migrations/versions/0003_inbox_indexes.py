"""desk inbox: indexes for its sorts and the new-work counter

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_tickets_priority_id', 'tickets', ['priority', 'id'], unique=False)
    op.create_index('ix_work_items_status_id', 'work_items', ['status', 'id'], unique=False)
    op.create_index('ix_work_items_status_due', 'work_items', ['status', 'due_at', 'id'], unique=False)
    op.create_index('ix_work_items_status_group_assignee', 'work_items', ['status', 'group_id', 'assignee_id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_work_items_status_group_assignee', table_name='work_items')
    op.drop_index('ix_work_items_status_due', table_name='work_items')
    op.drop_index('ix_work_items_status_id', table_name='work_items')
    op.drop_index('ix_tickets_priority_id', table_name='tickets')
