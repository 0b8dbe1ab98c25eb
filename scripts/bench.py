"""Stagedesk benchmarks: the cost of one stage completion at each layer, and of history.

(a) bare SpiffWorkflow: deserialize (spec included), run the user task, engine steps, serialize;
(b) the service layer ``complete_stage`` + commit, on SQLite and on PostgreSQL;
(c) ``POST /api/v1/tasks/<id>/complete`` through the whole WSGI stack (auth, validation,
    projections, audit, outbox), on SQLite and on PostgreSQL;
(d) history: a completion at round 1,000 of a loop against one at the first rounds.
Each figure is printed as a ratio to its baseline from the same run; (b) and (c) alternate
with blocks of (a), so that a shared machine's drifting speed weighs on both sides alike.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "scripts" / "bench_data"
sys.path.insert(0, str(ROOT))


def line(name: str, value_ms: float, baseline: tuple[str, float] | None = None, goal: float | None = None,
         extra: str = "") -> None:
    out = f"BENCH {name:<32} value={value_ms:.3f} ms"
    if baseline:
        ratio = value_ms / baseline[1] if baseline[1] else float("inf")
        out += f"  baseline={baseline[0]} {baseline[1]:.3f} ms  ratio={ratio:.2f}"
        if goal is not None:
            out += f"  goal<={goal:g}  {'ok' if ratio <= goal else 'MISSED'}"
    if extra:
        out += f"  {extra}"
    print(out, flush=True)


# --- (a) bare SpiffWorkflow ------------------------------------------------------------

def bare_engine(rounds: int) -> list[float]:
    """Per-step times of plain SpiffWorkflow on the bench loop (its default engine: the
    diagram is ours and trusted; Stagedesk itself never runs diagrams that way)."""
    from lxml import etree
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState

    parser = SpiffBpmnParser()
    safe = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.add_bpmn_xml(etree.fromstring((DATA / "loop.bpmn").read_bytes(), parser=safe), "loop.bpmn")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    wf = BpmnWorkflow(parser.get_spec("bench_loop"))
    wf.do_engine_steps()
    state = serializer.serialize_json(wf)
    times = []
    for n in range(rounds):
        t0 = time.perf_counter()
        wf = serializer.deserialize_json(state)
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update({"answer": "ok", "round_no": n, "finished": False})
        task.run()
        wf.do_engine_steps()
        state = serializer.serialize_json(wf)
        times.append((time.perf_counter() - t0) * 1000)
    return times


# --- (b), (c), (d) through the app ------------------------------------------------------

def make_app(database_url: str, instance: Path):
    os.environ["STAGEDESK_INSTANCE"] = str(instance)
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench",
                      "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")})
    with app.app_context():
        upgrade()
    return app


def reset_postgres(admin_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def seed(app):
    from app.extensions import db
    from app.services.definitions import deploy_files
    from app.services.users import issue_token, save_user

    with app.app_context():
        save_user("bench_admin", roles=["process_admin"])
        engineer = save_user("bench_eng", roles=["engineer"], groups=["Line 2"])
        requester = save_user("bench_req", roles=["requester"])
        deploy_files({p.name: p.read_bytes() for p in DATA.iterdir() if p.suffix in (".bpmn", ".json")}, None)
        token = issue_token(engineer, "bench")
        db.session.commit()
        return engineer.id, requester.id, token


def new_ticket(app, requester_id: int) -> int:
    from app.extensions import db
    from app.models import User
    from app.services.tickets import create_ticket

    with app.app_context():
        ticket = create_ticket(db.session.get(User, requester_id), process="bench_loop", subject="Bench")
        db.session.commit()
        return ticket.id


def open_item(app, ticket_id: int) -> int:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import WorkItem

    with app.app_context():
        return db.session.execute(select(WorkItem.id).where(
            WorkItem.ticket_id == ticket_id, WorkItem.status == "open")).scalar_one()


def service_steps(app, engineer_id: int, ticket_id: int, rounds: int, start: int = 0) -> list[float]:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User, WorkItem
    from app.services.tickets import complete_stage

    times = []
    for n in range(start, start + rounds):
        with app.app_context():
            item_id = db.session.execute(select(WorkItem.id).where(
                WorkItem.ticket_id == ticket_id, WorkItem.status == "open")).scalar_one()
            actor = db.session.get(User, engineer_id)
            t0 = time.perf_counter()
            complete_stage(actor, item_id, {"answer": "ok", "round_no": n, "finished": False})
            db.session.commit()
            times.append((time.perf_counter() - t0) * 1000)
    return times


def http_steps(app, token: str, ticket_id: int, rounds: int) -> list[float]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    for n in range(rounds):
        item_id = open_item(app, ticket_id)
        t0 = time.perf_counter()
        res = client.post(f"/api/v1/tasks/{item_id}/complete", headers=headers,
                          json={"data": {"answer": "ok", "round_no": n, "finished": False}})
        times.append((time.perf_counter() - t0) * 1000)
        if res.status_code != 200:
            raise SystemExit(f"bench: HTTP completion failed: {res.status_code} {res.get_data(as_text=True)}")
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def paired_ratio(measure, baseline_block, repeats: int) -> tuple[float, float, float]:
    """Alternate blocks of the measured step and of bare SpiffWorkflow, so that a shared
    machine's drifting speed weighs on both alike.  Returns (value ms, baseline ms, ratio) of
    the pair whose ratio is the median (``repeats`` is odd)."""
    pairs = []
    for _ in range(repeats):
        bare = baseline_block()
        value = median(measure())
        pairs.append((value / bare, value, bare))
    ratio, value, bare = sorted(pairs)[len(pairs) // 2]
    return value, bare, ratio


def run_backend(label: str, database_url: str, instance: Path, rounds: int, history: int,
                baseline_block, repeats: int) -> None:
    app = make_app(database_url, instance)
    engineer_id, requester_id, token = seed(app)
    warm = 5
    value, bare, _ = paired_ratio(
        lambda: service_steps(app, engineer_id, new_ticket(app, requester_id), rounds + warm)[warm:],
        baseline_block, repeats)
    line(f"complete_stage_{label}", value, ("bare_engine_step", bare))
    value, bare, _ = paired_ratio(
        lambda: http_steps(app, token, new_ticket(app, requester_id), rounds + warm)[warm:], baseline_block, repeats)
    line(f"complete_task_http_{label}", value, ("bare_engine_step", bare), goal=3)
    ticket = new_ticket(app, requester_id)
    early = service_steps(app, engineer_id, ticket, 20)
    service_steps(app, engineer_id, ticket, history - 40, start=20)
    late = service_steps(app, engineer_id, ticket, 20, start=history - 20)
    line(f"history_round_{history}_{label}", median(late), (f"rounds_1-20_{label}", median(early[2:])), goal=1.5,
         extra=f"state={_state_size(app, ticket)} bytes")


def _state_size(app, ticket_id: int) -> int:
    from app.extensions import db
    from app.models import Ticket

    with app.app_context():
        return len(json.dumps(db.session.get(Ticket, ticket_id).instance.state))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under two minutes")
    parser.add_argument("--pg-admin-url", default=os.environ.get(
        "BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL figures")
    args = parser.parse_args()
    rounds = 30 if args.quick else 200
    history = 200 if args.quick else 1000

    repeats = 5
    # bare SpiffWorkflow grows with history: its baseline is taken where it is cheapest, on
    # a fresh instance (rounds 5-35), the same depth our own figures start from
    window = 30

    def baseline_block() -> float:
        return median(bare_engine(window + 5)[5:])

    bare = bare_engine(205)
    line("bare_engine_step", min(baseline_block() for _ in range(repeats)))
    line("bare_engine_growth_200", median(bare[190:200]), ("bare_rounds_1-10", median(bare[0:10])),
         extra="(plain SpiffWorkflow keeps every finished task)")
    with tempfile.TemporaryDirectory() as tmp:
        run_backend("sqlite", f"sqlite:///{tmp}/bench.db", Path(tmp), rounds, history, baseline_block, repeats)
        if not args.no_pg:
            url = reset_postgres(args.pg_admin_url, "stagedesk_bench")
            run_backend("pg", url, Path(tmp), rounds, history, baseline_block, repeats)
    if not args.no_pg:  # the desk inbox at 100,000 open work items (issue 3, point 11)
        import bench_inbox
        bench_inbox.main(["--pg-admin-url", args.pg_admin_url] + (["--quick"] if args.quick else []))
    return 0


if __name__ == "__main__":
    sys.exit(main())
