"""Concurrency against the real database: exactly one completion wins, nothing is corrupted."""
import threading
from pathlib import Path

from sqlalchemy import func, select

from app.models import Event, WorkItem
from factories import Factories

DATA = Path(__file__).resolve().parent.parent / "data"
CLIENTS = 20


def setup_desk(db):
    make = Factories(db)
    make.user("pa", roles=("process_admin",))
    make.deploy({p.name: p.read_bytes() for p in sorted(DATA.glob("mini*"))})
    requester = make.user("req", roles=("requester",))
    operators = [make.user(f"op{i}", roles=("operator",), groups=("Line 1",)) for i in range(CLIENTS)]
    tokens = [make.token(u) for u in operators]
    ticket = make.ticket(requester, process="mini", subject="Race")
    item = db.session.execute(select(WorkItem).where(WorkItem.ticket_id == ticket.id)).scalar_one()
    ids = ticket.id, item.id
    db.session.commit()
    db.session.remove()  # hold no transaction (on SQLite: no write lock) while the clients run
    return *ids, tokens


def test_twenty_threads_complete_the_same_stage(app, live_db):
    ticket_id, item_id, tokens = setup_desk(live_db)
    barrier = threading.Barrier(CLIENTS)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def attempt(token: str) -> None:
        client = app.test_client()
        barrier.wait()
        res = client.post(f"/api/v1/tasks/{item_id}/complete", headers={"Authorization": f"Bearer {token}"},
                          json={"data": {"priority": "P2", "solve_at_line1": False}})
        with lock:
            results.append((res.status_code, res.get_json()))

    threads = [threading.Thread(target=attempt, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = sorted(code for code, _ in results)
    assert codes == [200] + [409] * (CLIENTS - 1), results
    live_db.session.remove()
    winner = live_db.session.get(WorkItem, item_id)
    assert winner.status == "done" and winner.completed_by is not None
    for code, body in results:
        if code == 409:
            assert body["completed_by"] == winner.completed_by.login
    # the instance moved exactly one step: one open 'resolve' stage, one completion recorded
    open_items = live_db.session.execute(select(WorkItem.element_id).where(
        WorkItem.ticket_id == ticket_id, WorkItem.status == "open")).scalars().all()
    assert open_items == ["resolve"]
    completions = live_db.session.execute(select(func.count()).select_from(Event).where(
        Event.ticket_id == ticket_id, Event.kind == "stage.completed")).scalar()
    assert completions == 1
