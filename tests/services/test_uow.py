"""How an app context's transaction ends (app/services/uow.py).

A transaction that only read ends with COMMIT, so that PostgreSQL keeps the connection's
prepared statements (psycopg drops them all at every ROLLBACK); one that wrote anything
without committing it still rolls back, whatever the way it wrote.
"""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select, update


@pytest.fixture()
def endings(live_db):
    """The list of 'commit' / 'rollback' the engine performs during the test."""
    seen: list[str] = []

    def on_commit(_conn):
        seen.append("commit")

    def on_rollback(_conn):
        seen.append("rollback")

    engine = live_db.engine
    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_rollback)
    yield seen
    event.remove(engine, "commit", on_commit)
    event.remove(engine, "rollback", on_rollback)


@pytest.fixture()
def group_id(app, live_db):
    from app.models import Group

    with app.app_context():
        group = Group(name="Line 9")
        live_db.session.add(group)
        live_db.session.commit()
        return group.id


def group_name(app, db, group_id: int) -> str:
    from app.models import Group

    with app.app_context():
        return db.session.execute(select(Group.name).where(Group.id == group_id)).scalar_one()


def test_a_context_that_only_read_commits_and_keeps_prepared_statements(app, live_db, group_id, endings):
    from app.models import Group

    for _ in range(8):  # psycopg prepares a statement at its fifth execution on a connection
        with app.app_context():
            assert live_db.session.execute(select(Group.name).where(Group.id == group_id)).scalar_one() == "Line 9"
            connection = live_db.session.connection().connection.dbapi_connection
    assert endings == ["commit"] * 8
    if live_db.engine.dialect.name == "postgresql":
        # the point of committing: the statement survived the end of each transaction
        assert connection._prepared._names, "read-only transactions must not drop prepared statements"


def test_a_flushed_insert_left_uncommitted_rolls_back(app, live_db, endings):
    from app.models import Group

    with app.app_context():
        live_db.session.add(Group(name="Never committed"))
        live_db.session.flush()
    assert endings == ["rollback"]
    with app.app_context():
        assert live_db.session.execute(
            select(func.count()).select_from(Group).where(Group.name == "Never committed")).scalar() == 0


def test_an_unflushed_change_rolls_back(app, live_db, group_id, endings):
    from app.models import Group

    with app.app_context():
        live_db.session.get(Group, group_id).name = "Renamed"  # dirty, never flushed
    assert endings == ["rollback"]
    assert group_name(app, live_db, group_id) == "Line 9"


def test_a_bulk_update_left_uncommitted_rolls_back(app, live_db, group_id, endings):
    from app.models import Group

    with app.app_context():
        live_db.session.execute(update(Group).where(Group.id == group_id).values(name="Bulk"))
    assert endings == ["rollback"]
    assert group_name(app, live_db, group_id) == "Line 9"


def test_a_context_that_failed_rolls_back(app, live_db, group_id, endings):
    from app.models import Group

    with pytest.raises(RuntimeError):
        with app.app_context():
            live_db.session.execute(select(Group)).all()
            raise RuntimeError("the view failed")
    assert endings == ["rollback"]


def test_a_committed_write_then_reads_end_with_commit(app, live_db, group_id, endings):
    """After a commit the memo of the write is gone: the next reads end as reads."""
    from app.models import Group

    with app.app_context():
        live_db.session.get(Group, group_id).name = "Line 10"
        live_db.session.commit()
        live_db.session.execute(select(Group)).all()
    assert endings == ["commit", "commit"]
    assert group_name(app, live_db, group_id) == "Line 10"
