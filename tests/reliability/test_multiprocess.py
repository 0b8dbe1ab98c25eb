"""The multi-machine shape: two gunicorn processes and two RQ workers on one database and one Redis."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from app.models import Event, OutboxMessage, Ticket, Timer, WorkItem
from factories import Factories

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
BIN = Path(sys.executable).parent
TIMED_TICKETS = 8
CLIENTS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture()
def cluster(backend, live_db, tmp_path):
    env = {**os.environ, "DATABASE_URL": backend["database_url"], "REDIS_URL": backend["redis_url"],
           "STAGEDESK_INSTANCE": str(backend["instance"]), "SECRET_KEY": "test-secret", "PYTHONUNBUFFERED": "1"}
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = []

    def spawn(name, args):
        out = open(logs / f"{name}.log", "wb")
        procs.append((name, subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                             start_new_session=True), out))

    spawn("web", [str(BIN / "gunicorn"), "-w", "2", "--threads", "8", "-b", f"127.0.0.1:{port}", "app:create_app()"])
    for n in (1, 2):
        spawn(f"worker{n}", [str(BIN / "flask"), "--app", "app", "worker", "--sweep-every", "2"])
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{base}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(up, 30, "gunicorn")
        yield {"base": base, "logs": logs}
    finally:
        for _name, proc, _out in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc, out in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            out.close()


@pytest.mark.slow
def test_two_web_processes_and_two_workers_share_one_database(cluster, live_db):
    make = Factories(live_db)
    make.deploy({p.name: p.read_bytes() for p in sorted(DATA.glob("mini*"))})
    make.deploy({"timed.bpmn": (DATA / "timed.bpmn").read_bytes()})
    requester = make.user("req", roles=("requester",))
    operators = [make.user(f"op{i}", roles=("operator",), groups=("Line 1",)) for i in range(CLIENTS)]
    tokens = [make.token(u) for u in operators]
    race = make.ticket(requester, process="mini", subject="Race")
    item_id = live_db.session.execute(select(WorkItem.id).where(WorkItem.ticket_id == race.id)).scalar_one()
    timed_ids = [make.ticket(requester, process="timed", subject=f"Timed {n}").id for n in range(TIMED_TICKETS)]
    live_db.session.commit()  # after commit: the timers are handed to RQ (enqueue_at)
    live_db.session.remove()  # hold no transaction (on SQLite: no write lock) while the cluster works

    # 20 clients at once, spread over both gunicorn processes
    barrier = threading.Barrier(CLIENTS)
    codes: list[int] = []

    def attempt(token):
        barrier.wait()
        res = requests.post(f"{cluster['base']}/api/v1/tasks/{item_id}/complete", timeout=60,
                            headers={"Authorization": f"Bearer {token}"},
                            json={"data": {"priority": "P2", "solve_at_line1": False}})
        codes.append(res.status_code)

    threads = [threading.Thread(target=attempt, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert sorted(codes) == [200] + [409] * (CLIENTS - 1)

    def scalar(query):
        """Read and let go at once: on SQLite an open transaction would hold the write lock."""
        try:
            return live_db.session.execute(query).scalar()
        finally:
            live_db.session.remove()

    # the two workers fire every timer exactly once
    def all_fired():
        return scalar(select(func.count()).select_from(Timer).where(Timer.status == "fired")) == TIMED_TICKETS

    wait_until(all_fired, 60, "the timers to fire")
    fired_events = live_db.session.execute(select(func.count()).select_from(Event).where(
        Event.kind == "timer.fired")).scalar()
    assert fired_events == TIMED_TICKETS
    for tid in timed_ids:
        stages = live_db.session.execute(select(WorkItem.element_id, WorkItem.status).where(
            WorkItem.ticket_id == tid).order_by(WorkItem.id)).all()
        assert stages == [("work", "cancelled"), ("escalated", "open")]
        assert live_db.session.get(Ticket, tid).status == "in_progress"
    live_db.session.remove()

    # notifications written by the escalations are delivered once each
    def outbox_drained():
        return scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")) == 0

    try:
        wait_until(outbox_drained, 30, "the outbox to drain")
    except AssertionError:
        pending = live_db.session.execute(select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.status,
                                                 OutboxMessage.attempts).where(OutboxMessage.status != "sent")).all()
        raise AssertionError(f"outbox rows not sent: {pending}") from None
    rows = live_db.session.execute(select(OutboxMessage.attempts)).scalars().all()
    live_db.session.remove()
    assert len(rows) >= TIMED_TICKETS and set(rows) == {1}
