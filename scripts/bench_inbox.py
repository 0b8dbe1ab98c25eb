"""The desk inbox at scale (issue 3, point 11): server time per inbox page with 100,000 open
work items and 1,000,000 audit events on PostgreSQL, against the same pages with 100 items.

Two databases are built side by side (``stagedesk_bench_inbox`` and ``…_small``, dropped at
the end unless ``--keep``): the same people, groups and diagrams, and 100,000 (or 100) open
work items spread over as many tickets, groups and assignees, plus as many closed stages and
1,000,000 (or 1,000) events.  Rows are written by ``INSERT … SELECT generate_series`` (a few
seconds), then ANALYZEd.  Each page is fetched through the whole Flask stack (the test
client, signed in as a supervisor of one group who manages ten engineers); blocks of
requests alternate between the two databases so that a shared machine's drift weighs on
both alike, and each figure is the block pair whose ratio is the median.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench import line, make_app, reset_postgres  # noqa: E402

DB_NAME = "stagedesk_bench_inbox"
GROUPS = [f"Line {n}" for n in range(1, 4)] + [f"Team {n}" for n in range(4, 11)]
STAFF = 200
REQUESTERS = 500
STAGES = [("register", "Registration", "new"), ("classify", "Classification and prioritisation", "open"),
          ("assess", "Initial assessment", "open"), ("resolve_l1", "Resolution at line 1", "in_progress"),
          ("assign", "Assignment of an engineer", "open"), ("identify", "Identification (diagnosis)", "in_progress"),
          ("resolve", "Resolution", "in_progress"), ("wait_identify", "Waiting for the requester", "waiting")]
EVENT_KINDS = ["stage.opened", "stage.closed", "stage.completed", "fields.changed", "status.changed",
               "stage.assigned", "message.posted"]


def seed_people(app) -> dict:
    """People, groups and the shipped diagrams (identical in both databases)."""
    from app.extensions import db
    from app.services.definitions import deploy_files
    from app.services.users import save_user

    with app.app_context():
        deploy_files({p.name: p.read_bytes() for d in ("bpmn", "forms") for p in sorted((ROOT / d).iterdir())
                      if p.suffix in (".bpmn", ".json")}, None)
        lead = save_user("bench_lead", password="bench-password-1", roles=["supervisor"], groups=["Line 2"])
        staff = [lead]
        for n in range(1, STAFF):
            staff.append(save_user(f"bench_eng{n}", roles=["engineer"], groups=[GROUPS[n % len(GROUPS)]],
                                   manager="bench_lead" if n <= 10 else None, name=f"Engineer {n}"))
        requesters = [save_user(f"bench_req{n}", roles=["requester"], name=f"Requester {n}") for n in range(REQUESTERS)]
        db.session.commit()
        from sqlalchemy import select

        from app.models import Group, ProcessDefinition
        groups = {g.name: g.id for g in db.session.execute(select(Group)).scalars()}
        definition = db.session.execute(select(ProcessDefinition.id).where(
            ProcessDefinition.key == "incident", ProcessDefinition.active.is_(True))).scalar_one()
        return {"lead": lead.id, "staff": [u.id for u in staff], "requesters": [u.id for u in requesters],
                "groups": [groups[name] for name in GROUPS], "my_group": groups["Line 2"], "definition": definition}


def seed_queue(app, people: dict, items: int, events: int, small: bool) -> None:
    """``items`` tickets, each with one open stage and one closed one, and ``events`` audit
    events.  The small set is shaped so that the measured pages have rows there too: half of
    its stages are unassigned, a quarter are the lead's and a quarter the lead's subordinates',
    all in the lead's group (the big set spreads them over 200 people and ten groups)."""
    from app.extensions import db

    ints = lambda values: "ARRAY[" + ",".join(str(v) for v in values) + "]::int[]"  # noqa: E731
    texts = lambda values: "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"  # noqa: E731
    staff, groups, reqs = ints(people["staff"]), ints(people["groups"]), ints(people["requesters"])
    elements, names, states = (texts([s[i] for s in STAGES]) for i in range(3))
    h = lambda salt: f"(hashtext(g::text || '{salt}') & 2147483647)"  # noqa: E731  (a stable pseudo-random spread)
    if small:  # a quarter the lead's, a quarter the subordinates', half unassigned; all in the lead's group
        subordinates = ints(people["staff"][1:11])
        assignee = f"CASE g % 4 WHEN 0 THEN {people['lead']} WHEN 1 THEN ({subordinates})[1 + {h('a')} % 10] END"
        group = str(people["my_group"])
    else:  # 40 % unassigned, the rest spread over 200 people; ten groups
        assignee = f"CASE WHEN {h('u')} % 5 < 2 THEN NULL ELSE ({staff})[1 + {h('a')} % {len(people['staff'])}] END"
        group = f"({groups})[1 + {h('g')} % {len(people['groups'])}]"
    stage = f"1 + {h('s')} % {len(STAGES)}"
    statements = [
        f"""INSERT INTO instances (id, definition_id, state, data, version, status, created_at, updated_at)
            SELECT g, {people['definition']}, '{{}}'::json, '{{}}'::jsonb, 1, 'running', now(), now()
            FROM generate_series(1000, 999 + {items}) g""",
        f"""INSERT INTO tickets (id, number, subject, description, requester_id, created_by_id, priority, channel,
                                 status, closed, process_key, instance_id, created_at, updated_at)
            SELECT g, 'INC-' || g, 'Bench ticket ' || g || ' ' || (ARRAY['printer','mail','vpn','laptop','phone'])[1 + g % 5],
                   '', ({reqs})[1 + (g * 7) % {len(people['requesters'])}], NULL,
                   CASE WHEN {h('p')} % 5 = 0 THEN NULL ELSE 'P' || (1 + {h('p')} % 4) END, 'portal', 'open', false, 'incident', g,
                   now() - (({items} + 1000 - g) * interval '1 minute'), now()
            FROM generate_series(1000, 999 + {items}) g""",
        f"""INSERT INTO work_items (ticket_id, instance_id, engine_task_id, element_id, process_id, name, lane, group_id,
                                    assignee_id, status, state, color, background, icon, due_at, created_at, completed_at)
            SELECT g, g, md5(g::text || 'done'), 'register', 'incident', 'Registration', 'Line 1', {group}, NULL,
                   'done', 'new', '#1E88E5', '#E3F2FD', 'inbox', NULL,
                   now() - (({items} + 1000 - g) * interval '1 minute'), now()
            FROM generate_series(1000, 999 + {items}) g""",
        f"""INSERT INTO work_items (ticket_id, instance_id, engine_task_id, element_id, process_id, name, lane, group_id,
                                    assignee_id, status, state, color, background, icon, due_at, created_at)
            SELECT g, g, md5(g::text), ({elements})[{stage}], 'incident', ({names})[{stage}],
                   'Line 2', {group}, {assignee}, 'open', ({states})[{stage}], '#BF360C', '#FBE9E7',
                   'search', CASE WHEN {h('d')} % 3 = 0 THEN now() + (({h('d')} % 200) - 100) * interval '1 hour' END,
                   now() - (({items} + 1000 - g) * interval '30 second')
            FROM generate_series(1000, 999 + {items}) g""",
        f"""INSERT INTO events (ticket_id, instance_id, actor_id, kind, element_id, data, created_at)
            SELECT t, t, ({staff})[1 + (g * 13) % {len(people['staff'])}], ({texts(EVENT_KINDS)})[1 + g % {len(EVENT_KINDS)}],
                   'register', jsonb_build_object('n', g), now() - (g * interval '1 second')
            FROM (SELECT g, 1000 + (g::bigint * 7919) % {items} AS t FROM generate_series(1, {events}) g) s""",
        "SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))",
        "SELECT setval(pg_get_serial_sequence('instances', 'id'), (SELECT max(id) FROM instances))",
    ]
    with app.app_context():
        with db.engine.begin() as conn:
            with conn.connection.dbapi_connection.cursor() as cursor:  # psycopg: no parameters, '%' is modulo
                for sql in statements:
                    cursor.execute(sql)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def signed_in_client(app):
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    res = client.post("/login", data={"login": "bench_lead", "password": "bench-password-1"})
    if res.status_code != 302:
        raise SystemExit(f"bench_inbox: signing in failed: {res.status_code}")
    return client


def fetch(client, url: str) -> str:
    res = client.get(url)
    if res.status_code != 200:
        raise SystemExit(f"bench_inbox: GET {url} answered {res.status_code}")
    return res.get_data(as_text=True)


def deep_url(client, url: str, pages: int) -> tuple[str, int]:
    """The address of page ``pages`` (or the last one), by following the next links."""
    depth = 1
    while depth < pages:
        found = re.search(r'rel="next" href="([^"]+)"', fetch(client, url))
        if not found:
            break
        url, depth = unescape(found.group(1)), depth + 1
    return url, depth


def timed(client, url: str, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fetch(client, url)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def rows(client, url: str) -> int:
    return fetch(client, url).count("<tr data-queue-row>")


def measure(big, small, big_url: str, small_url: str, n: int, repeats: int) -> tuple[float, float, float]:
    for _ in range(3):  # warm both (plans, caches, templates)
        fetch(big, big_url), fetch(small, small_url)
    pairs = []
    for _ in range(repeats):
        base = timed(small, small_url, n)
        value = timed(big, big_url, n)
        pairs.append((value / base, value, base))
    ratio, value, base = sorted(pairs)[len(pairs) // 2]
    return value, base, ratio


def run(admin_url: str, items: int, events: int, n: int, repeats: int, keep: bool) -> None:
    big_url, small_url = reset_postgres(admin_url, DB_NAME), reset_postgres(admin_url, DB_NAME + "_small")
    with tempfile.TemporaryDirectory() as tmp:
        big_app, small_app = make_app(big_url, Path(tmp)), make_app(small_url, Path(tmp))
        t0 = time.perf_counter()
        for app, size, ev, small in ((big_app, items, events, False), (small_app, 100, 1000, True)):
            seed_queue(app, seed_people(app), size, ev, small)
        print(f"# seeded {items:,} open work items, {events:,} events (and 100 / 1,000) "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
        big, small = signed_in_client(big_app), signed_in_client(small_app)
        with big_app.app_context():
            from sqlalchemy import select

            from app.models import Group
            from app.extensions import db
            group = db.session.execute(select(Group.id).where(Group.name == "Line 2")).scalar_one()
        pages = [
            ("inbox_mine", "/desk/?tab=mine"),
            ("inbox_group", "/desk/?tab=group"),
            ("inbox_undistributed", "/desk/?tab=undistributed"),
            ("inbox_subordinates", "/desk/?tab=subordinates"),
            ("inbox_others", "/desk/?tab=others"),
            ("inbox_undistributed_filtered", f"/desk/?tab=undistributed&group={group}&state=in_progress"),
            ("inbox_group_by_due", "/desk/?tab=group&sort=due"),
            ("inbox_group_oldest", "/desk/?tab=group&sort=oldest"),
        ]
        for name, url in pages:
            value, base, ratio = measure(big, small, url, url, n, repeats)
            line(name, value, (f"{name}_100", base), goal=2, extra=f"rows={rows(big, url)}/{rows(small, url)}")
        deep_big, depth_big = deep_url(big, "/desk/?tab=undistributed", 40)
        deep_small, depth_small = deep_url(small, "/desk/?tab=group", 2)
        value, base, ratio = measure(big, small, deep_big, deep_small, n, repeats)
        line("inbox_deep_page", value, ("inbox_page_2_100", base), goal=2,
             extra=f"page={depth_big}/{depth_small} rows={rows(big, deep_big)}/{rows(small, deep_small)}")
        for name, url in (("inbox_undistributed_by_priority", "/desk/?tab=undistributed&sort=priority"),
                          ("inbox_text_search", "/desk/?tab=others&text=printer")):
            value, base, ratio = measure(big, small, url, url, n, repeats)
            line(name, value, (f"{name}_100", base), goal=2, extra=f"rows={rows(big, url)}/{rows(small, url)}")
        value, base, ratio = measure(big, small, "/desk/counter", "/desk/counter", n, repeats)
        line("desk_counter", value, ("desk_counter_100", base), goal=2)
        for app in (big_app, small_app):
            with app.app_context():
                from app.extensions import db
                db.engine.dispose()
    if not keep:
        from sqlalchemy import create_engine, text

        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in (DB_NAME, DB_NAME + "_small"):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 items and 100,000 events")
    parser.add_argument("--pg-admin-url", default=os.environ.get(
        "BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--keep", action="store_true", help="keep the two databases afterwards")
    args = parser.parse_args(argv)
    items, events = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    run(args.pg_admin_url, items, events, n=5 if args.quick else 9, repeats=5, keep=args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
