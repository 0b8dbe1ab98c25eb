"""The script sandbox at the app level: escapes are refused at deploy; runaway scripts are
stopped within the limit with a clear 422 naming the element, and leave the instance as it was.

(The engine-level corpus is tests/workflows/test_sandbox.py; here the same attempts go through
the API, the CLI, a stage completion and a timer.)
"""
from __future__ import annotations

import io
import time
from datetime import timedelta
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import func, select

#: every step that runs a runaway script must answer well within this (wall clock)
MAX_SECONDS = 10.0
#: a lower CPU limit for the tests that do not measure the default one
FAST_CPU_SECONDS = 0.25


# --- diagrams ------------------------------------------------------------------------------------

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Defs_{pid}" targetNamespace="http://stagedesk.test/sandbox">
  <bpmn:process id="{pid}" name="Sandbox {pid}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{pid}">
      <bpmn:lane id="Lane_{pid}" name="Line 1">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>prepare</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>after</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="prepare" name="Prepare">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="stage.state" value="open"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
"""
_TAIL = """    <bpmn:userTask id="after" name="After the script">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="stage.state" value="in_progress"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="prepare"/>
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def script_diagram(pid: str, script: str) -> bytes:
    """start → Prepare (stage) → script task ``crunch`` running ``script`` → After (stage) → end."""
    body = f"""    <bpmn:scriptTask id="crunch" name="Crunch the numbers" scriptFormat="python">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="crunch"/>
    <bpmn:sequenceFlow id="f3" sourceRef="crunch" targetRef="after"/>
"""
    return (_HEAD.format(pid=pid) + body + _TAIL).encode()


def gateway_diagram(pid: str, condition: str) -> bytes:
    """start → Prepare → gateway ``decide`` whose flow ``f3`` has ``condition`` → After; default → end."""
    body = f"""    <bpmn:exclusiveGateway id="decide" name="Decide" default="f_default">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f_default</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end2"><bpmn:incoming>f_default</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="decide"/>
    <bpmn:sequenceFlow id="f3" name="Looping condition" sourceRef="decide" targetRef="after">
      <bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_default" sourceRef="decide" targetRef="end2"/>
"""
    return (_HEAD.format(pid=pid) + body + _TAIL).encode()


def start_script_diagram(pid: str, script: str) -> bytes:
    """start → script task ``boom`` running ``script`` → Prepare (stage) → end."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="Defs_{pid}" targetNamespace="http://stagedesk.test/sandbox">
  <bpmn:process id="{pid}" name="Script at start" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="boom" name="Boom at start" scriptFormat="python">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="prepare" name="Prepare"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="boom"/>
    <bpmn:sequenceFlow id="f2" sourceRef="boom" targetRef="prepare"/>
    <bpmn:sequenceFlow id="f3" sourceRef="prepare" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()


def timer_diagram(pid: str, script: str) -> bytes:
    """Work (stage) with a boundary timer ``late`` (PT1S) → script task ``escalate`` → Escalated."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Defs_{pid}" targetNamespace="http://stagedesk.test/sandbox">
  <bpmn:process id="{pid}" name="Timed failure" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{pid}">
      <bpmn:lane id="Lane_{pid}" name="Line 1">
        <bpmn:flowNodeRef>t_start</bpmn:flowNodeRef><bpmn:flowNodeRef>work</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>escalated</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="t_start"><bpmn:outgoing>t1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="work" name="Work at line 1">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="stage.state" value="open"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>t1</bpmn:incoming><bpmn:outgoing>t2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="late" name="Too late" attachedToRef="work" cancelActivity="true">
      <bpmn:outgoing>t3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1S"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="escalate" name="Escalate" scriptFormat="python">
      <bpmn:incoming>t3</bpmn:incoming><bpmn:outgoing>t4</bpmn:outgoing>
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="escalated" name="Escalated">
      <bpmn:incoming>t4</bpmn:incoming><bpmn:outgoing>t5</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="t_end"><bpmn:incoming>t2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="t_end2"><bpmn:incoming>t5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="t1" sourceRef="t_start" targetRef="work"/>
    <bpmn:sequenceFlow id="t2" sourceRef="work" targetRef="t_end"/>
    <bpmn:sequenceFlow id="t3" sourceRef="late" targetRef="escalate"/>
    <bpmn:sequenceFlow id="t4" sourceRef="escalate" targetRef="escalated"/>
    <bpmn:sequenceFlow id="t5" sourceRef="escalated" targetRef="t_end2"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()


# --- fixtures and helpers ------------------------------------------------------------------------

def light_user(login: str, roles: tuple[str, ...], groups: tuple[str, ...] = ()):
    """A user without a password (API tokens only): no slow password hashing."""
    from app.services.users import save_user

    return save_user(login, roles=list(roles), groups=list(groups), email=f"{login}@example.test")


@pytest.fixture()
def cast(db, api):
    people = {"procadmin": light_user("s_procadmin", ("process_admin",)),
              "supervisor": light_user("s_supervisor", ("supervisor",), ("Line 1",)),
              "operator": light_user("s_operator", ("operator",), ("Line 1",)),
              "requester": light_user("s_requester", ("requester",))}
    for user in people.values():
        api.as_(user)  # issues the API token
    db.session.commit()  # (inside the test's outer transaction) so that end_request keeps them
    return people


def _use_cpu_limit(app, seconds: float | None):
    """Set SCRIPT_CPU_SECONDS and drop the cached runner; returns the old value."""
    old = app.config["SCRIPT_CPU_SECONDS"]
    if seconds is not None:
        app.config["SCRIPT_CPU_SECONDS"] = seconds
    app.extensions.pop("stagedesk_runner", None)
    return old


@pytest.fixture()
def fast_limits(app):
    """A lower CPU limit, so that the runaway scripts stop quickly."""
    old = _use_cpu_limit(app, FAST_CPU_SECONDS)
    yield FAST_CPU_SECONDS
    _use_cpu_limit(app, old)


@pytest.fixture()
def default_limits(app):
    """The configured CPU limit (1 s unless STAGEDESK_SCRIPT_CPU_SECONDS says otherwise)."""
    old = _use_cpu_limit(app, None)
    yield app.config["SCRIPT_CPU_SECONDS"]
    _use_cpu_limit(app, old)


def end_request(db) -> None:
    """What the end of a real request does: Flask-SQLAlchemy's teardown throws away whatever
    the request did not commit.  The test's app context outlives each request (one session for
    the whole test), so a failed request's flushed rows would otherwise linger in it."""
    db.session.rollback()


def deploy_via_api(api, user, files: dict[str, bytes]):
    return api.as_(user).post("/process-definitions", headers={"Accept-Language": "en"},
                              data={"files": [(io.BytesIO(c), n) for n, c in files.items()]},
                              content_type="multipart/form-data")


def counts(db) -> dict[str, int]:
    from app.models import Deployment, ProcessDefinition

    return {m.__name__: db.session.execute(select(func.count()).select_from(m)).scalar()
            for m in (ProcessDefinition, Deployment)}


def snapshot(db, ticket_id: int) -> dict:
    """Everything a failed step must leave as it was, read fresh from the database."""
    from app.models import Event, Instance, Ticket, Timer, WorkItem

    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    instance = db.session.get(Instance, ticket.instance_id)
    return {
        "ticket_status": ticket.status,
        "instance": (instance.version, instance.status, instance.state, instance.data),
        "work_items": [(w.element_id, w.status) for w in db.session.execute(
            select(WorkItem).where(WorkItem.ticket_id == ticket_id).order_by(WorkItem.id)).scalars()],
        "events": [(e.kind, e.element_id) for e in db.session.execute(
            select(Event).where(Event.ticket_id == ticket_id).order_by(Event.id)).scalars()],
        "timers": [(t.element_id, t.status) for t in db.session.execute(
            select(Timer).where(Timer.instance_id == instance.id).order_by(Timer.id)).scalars()],
    }


def open_stage(body: dict, element_id: str) -> dict:
    stages = [s for s in body["open_stages"] if s["element_id"] == element_id]
    assert stages, f"no open stage {element_id} in {[s['element_id'] for s in body['open_stages']]}"
    return stages[0]


def assert_clean_422(res, element_id: str, element_name: str, says: tuple[str, ...]) -> dict:
    raw = res.get_data(as_text=True)
    assert res.status_code == 422, (res.status_code, raw[:2000])
    assert res.is_json and "Traceback" not in raw and "File \"" not in raw, raw[:2000]
    body = res.get_json()
    assert element_name in body["message"], body  # which element stopped ...
    problem = next(e for e in body["errors"] if e["element_id"] == element_id)
    assert problem["element_name"] == element_name and problem["file"], problem
    text = (body["message"] + " " + problem["message"]).lower()
    assert any(s.lower() in text for s in says), body  # ... and which limit stopped it
    return body


# --- (a) refused at deploy -----------------------------------------------------------------------

#: escape attempts a script task must not even be deployed with
STATIC_ESCAPES = {
    "subclasses": "().__class__.__base__.__subclasses__()",
    "mro walk": "x = [].__class__.__mro__[1].__subclasses__()",
    "helper globals": "g = now.__globals__",
    "helper self": "s = now.__self__",
    "datetime walk": "g = timedelta.__init__.__globals__",
    "class dict": "d = datetime.__dict__",
    "dunder import": "os = __import__('os')",
    "import": "import os",
    "import from": "from os import system",
    "getattr": "c = getattr(1, '__class__')",
    "format attribute walk": "s = '{0.__class__.__base__}'.format(1)",
    "format_map": "s = '{x.__class__}'.format_map({'x': 1})",
    "format via str": "s = str.format('{0.__class__}', 1)",
    "generator frame": "f = (x for x in [1]).gi_frame.f_back.f_globals",
    "generator code": "c = (x for x in [1]).gi_code",
    "lambda code": "c = (lambda: 0).__code__",
    "function globals": "def f():\n    pass\ng = f.__globals__",
    "traceback frame": "try:\n    1/0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame",
    "exec": "exec('x = 1')",
    "eval": "x = eval('1')",
    "compile": "c = compile('1', 'x', 'eval')",
    "open": "t = open('/etc/passwd').read()",
    "type": "t = type(1)",
    "vars": "v = vars()",
    "globals": "g = globals()",
    "dir": "d = dir()",
    "breakpoint": "breakpoint()",
    "builtins": "b = __builtins__",
    "class with __getattr__": "class A:\n    def __getattr__(self, name):\n        return 1\na = A()",
    "metaclass": "class M(type):\n    pass",
    "catch BaseException": "try:\n    pass\nexcept BaseException:\n    pass",
    "bare except": "try:\n    pass\nexcept:\n    pass",
    "generator function": "def g():\n    yield 1",
    "mro method": "m = int.mro()",
    "print": "print('x')",
}


@pytest.mark.parametrize("script", STATIC_ESCAPES.values(), ids=STATIC_ESCAPES.keys())
def test_escape_in_a_script_task_is_refused_at_deploy(api, db, cast, script):
    before = counts(db)
    res = deploy_via_api(api, cast["procadmin"], {"escape.bpmn": script_diagram("sandbox_escape", script)})
    raw = res.get_data(as_text=True)
    assert res.status_code == 422, raw[:2000]
    assert "Traceback" not in raw
    problems = [e for e in res.get_json()["errors"] if e["element_id"] == "crunch"]
    assert problems, res.get_json()
    assert problems[0]["file"] == "escape.bpmn" and problems[0]["line"], problems
    assert "Crunch the numbers" in problems[0]["message"]
    assert counts(db) == before


@pytest.mark.parametrize("condition", [
    "().__class__.__base__.__subclasses__()",
    "'{0.__class__}'.format(1) != ''",
    "__import__('os') is not None",
    "(x for x in [1]).gi_frame is not None",
], ids=["subclasses", "format walk", "dunder import", "generator frame"])
def test_escape_in_a_gateway_condition_is_refused_at_deploy(api, db, cast, condition):
    before = counts(db)
    res = deploy_via_api(api, cast["procadmin"], {"cond.bpmn": gateway_diagram("sandbox_cond", condition)})
    assert res.status_code == 422, res.get_data(as_text=True)[:2000]
    problems = [e for e in res.get_json()["errors"] if e["element_id"] == "f3"]
    assert problems and problems[0]["file"] == "cond.bpmn" and problems[0]["line"], res.get_json()
    assert counts(db) == before


def test_escape_is_refused_by_the_cli_too(app, db, tmp_path):
    path = tmp_path / "escape.bpmn"
    path.write_bytes(script_diagram("sandbox_cli", "s = '{0.__class__.__base__}'.format(1)"))
    before = counts(db)
    result = app.test_cli_runner().invoke(args=["deploy", str(path)])
    assert result.exit_code == 1, result.output
    assert "escape.bpmn" in result.output and "Crunch the numbers" in result.output
    assert "Traceback" not in result.output
    assert counts(db) == before


# --- (b) stopped at run time ---------------------------------------------------------------------

#: runaway scripts: (script, words of the limit that must stop them)
RUNAWAY = {
    "while true": ("while True: pass", ("CPU time",)),
    "string repeat": ("x = 'x' * 10**10", ("string of 10,000,000,000",)),
    "list repeat": ("x = [0] * 10**10", ("list of 10,000,000,000",)),
    "huge power": ("x = 2 ** 10**10", ("bits",)),
    "append forever": ("l = []\nwhile True:\n    l.append(1)", ("CPU time", "MB of memory")),
    "doubling string": ("a = 'x'\nwhile True:\n    a += a", ("string of", "text longer", "MB of memory")),
    "memory hog": ("l = [str(i) * 100000 for i in range(100000)]", ("MB of memory", "CPU time")),
    "recursion fan-out": ("def f(n):\n    return f(n + 1) + f(n + 1) if n < 60 else 1\nx = f(0)",
                          ("CPU time", "recursion")),
    "catching the timeout": ("while True:\n    try:\n        while True: pass\n    except Exception:\n"
                             "        pass", ("CPU time",)),
    "loop in finally": ("try:\n    while True: pass\nfinally:\n    while True: pass", ("CPU time",)),
}


def _start(api, cast, process: str) -> dict:
    res = api.as_(cast["requester"]).post("/tickets", json={"process": process, "subject": "Runaway"})
    assert res.status_code == 201, res.get_json()
    return res.get_json()


def _complete_timed(api, db, user, task_id: int):
    """Complete a stage through the API; the response and the wall-clock seconds it took."""
    started = time.monotonic()
    res = api.as_(user).post(f"/tasks/{task_id}/complete", json={"data": {}}, headers={"Accept-Language": "en"})
    took = time.monotonic() - started
    end_request(db)
    return res, took


def _assert_stopped_and_unchanged(api, db, cast, ticket: dict, element_id: str, element_name: str,
                                  says: tuple[str, ...]) -> float:
    """Complete Prepare twice: both 422 naming the element and the limit, nothing changed."""
    task_id = open_stage(ticket, "prepare")["task_id"]
    before = snapshot(db, ticket["id"])
    res, took = _complete_timed(api, db, cast["operator"], task_id)
    first = assert_clean_422(res, element_id, element_name, says)
    assert took < MAX_SECONDS, f"the step took {took:.1f} s"
    assert snapshot(db, ticket["id"]) == before  # no state, stage, timer or audit change
    # the ticket stays usable: the same clear answer again, the stage still open
    again, took_again = _complete_timed(api, db, cast["operator"], task_id)
    assert assert_clean_422(again, element_id, element_name, says)["message"] == first["message"]
    assert took_again < MAX_SECONDS
    assert snapshot(db, ticket["id"]) == before
    detail = api.as_(cast["supervisor"]).get(f"/tickets/{ticket['id']}").get_json()
    assert [s["element_id"] for s in detail["open_stages"]] == ["prepare"]
    instance = api.as_(cast["supervisor"]).get(f"/instances/{_instance_id(db, ticket['id'])}").get_json()
    assert instance["status"] == "running" and instance["tokens"] == ["prepare"], instance
    return took


def _instance_id(db, ticket_id: int) -> int:
    from app.models import Ticket

    return db.session.get(Ticket, ticket_id).instance_id


def _other_tickets_work(api, cast, process: str) -> None:
    """A ticket of a healthy process still runs while the runaway one waits."""
    healthy = script_diagram("sandbox_healthy", "total = 6 * 7")
    res = deploy_via_api(api, cast["procadmin"], {"healthy.bpmn": healthy})
    assert res.status_code in (200, 201), res.get_json()
    ticket = _start(api, cast, "sandbox_healthy")
    done = api.as_(cast["operator"]).post(f"/tasks/{open_stage(ticket, 'prepare')['task_id']}/complete",
                                          json={"data": {}})
    assert done.status_code == 200, done.get_json()
    detail = api.as_(cast["supervisor"]).get(f"/tickets/{ticket['id']}").get_json()
    assert [s["element_id"] for s in detail["open_stages"]] == ["after"]
    assert detail["data"]["total"] == 42
    # and another ticket of the runaway process can still be started
    _start(api, cast, process)


def test_while_true_is_stopped_by_the_default_cpu_limit(api, db, cast, default_limits):
    res = deploy_via_api(api, cast["procadmin"], {"runaway.bpmn": script_diagram("sandbox_loop", "while True: pass")})
    assert res.status_code == 201, res.get_json()
    ticket = _start(api, cast, "sandbox_loop")
    took = _assert_stopped_and_unchanged(api, db, cast, ticket, "crunch", "Crunch the numbers",
                                         (f"ran longer than {default_limits:g} s of CPU time",))
    assert took >= default_limits * 0.5  # it did run until the limit, not refused up front
    _other_tickets_work(api, cast, "sandbox_loop")


@pytest.mark.parametrize("name", RUNAWAY, ids=list(RUNAWAY))
def test_runaway_script_is_stopped_with_a_clear_error(api, db, cast, fast_limits, name):
    script, says = RUNAWAY[name]
    res = deploy_via_api(api, cast["procadmin"], {"runaway.bpmn": script_diagram("sandbox_runaway", script)})
    assert res.status_code == 201, res.get_json()  # only the run can tell
    ticket = _start(api, cast, "sandbox_runaway")
    _assert_stopped_and_unchanged(api, db, cast, ticket, "crunch", "Crunch the numbers", says)


@pytest.mark.parametrize("condition", [
    "any(False for a in range(100000) for b in range(100000))",
    "len([a for a in range(100000) for b in range(100000)]) > 0",
    "len('x' * 10**10) > 0",
], ids=["generator bomb", "comprehension bomb", "string bomb"])
def test_looping_gateway_condition_is_stopped_with_a_clear_error(api, db, cast, fast_limits, condition):
    res = deploy_via_api(api, cast["procadmin"], {"cond.bpmn": gateway_diagram("sandbox_gate", condition)})
    assert res.status_code == 201, res.get_json()
    ticket = _start(api, cast, "sandbox_gate")
    task_id = open_stage(ticket, "prepare")["task_id"]
    before = snapshot(db, ticket["id"])
    res, took = _complete_timed(api, db, cast["operator"], task_id)
    assert took < MAX_SECONDS
    raw = res.get_data(as_text=True)
    assert res.status_code == 422 and res.is_json and "Traceback" not in raw, raw[:2000]
    body = res.get_json()
    problem = body["errors"][0]
    assert problem["element_id"] in ("decide", "f3"), body  # the gateway or its flow ...
    assert problem["file"] == "cond.bpmn" and ("Decide" in body["message"] or "Looping" in body["message"])
    assert any(s in raw for s in ("CPU time", "MB of memory", "string of")), body
    assert snapshot(db, ticket["id"]) == before


def test_failing_script_at_start_refuses_the_ticket_and_writes_nothing(api, db, cast, fast_limits):
    from app.models import Instance, Ticket

    res = deploy_via_api(api, cast["procadmin"], {"start.bpmn": start_script_diagram("sandbox_at_start",
                                                                                    "while True: pass")})
    assert res.status_code == 201, res.get_json()
    tickets_before = db.session.execute(select(func.count()).select_from(Ticket)).scalar()
    instances_before = db.session.execute(select(func.count()).select_from(Instance)).scalar()
    started = time.monotonic()
    res = api.as_(cast["requester"]).post("/tickets", json={"process": "sandbox_at_start", "subject": "Boom"},
                                          headers={"Accept-Language": "en"})
    assert time.monotonic() - started < MAX_SECONDS
    end_request(db)
    assert_clean_422(res, "boom", "Boom at start", ("CPU time",))
    assert db.session.execute(select(func.count()).select_from(Ticket)).scalar() == tickets_before
    assert db.session.execute(select(func.count()).select_from(Instance)).scalar() == instances_before


# --- a timer-fired script that fails -------------------------------------------------------------

@pytest.mark.parametrize("script, says", [
    ("x = 'x' * 10**10", "string of 10,000,000,000"),
    ("while True: pass", "CPU time"),
], ids=["string bomb", "while true"])
def test_failing_timer_script_retries_then_marks_the_instance_error(api, db, make, cast, fast_limits,
                                                                    script, says):
    from app.models import Instance, Ticket, Timer, WorkItem
    from app.models.base import utcnow
    from app.services import timers

    make.deploy({"timed_fail.bpmn": timer_diagram("timed_fail", script)}, cast["procadmin"])
    ticket = make.ticket(cast["requester"], process="timed_fail", subject="Slow")
    db.session.commit()  # as the request that started it would; fire_timer rolls back on failure
    ticket_id, instance_id = ticket.id, ticket.instance_id
    timer_id = db.session.execute(select(Timer.id).where(Timer.instance_id == instance_id,
                                                         Timer.element_id == "late")).scalar()
    assert timer_id is not None
    before = snapshot(db, ticket_id)

    for attempt in range(1, timers.MAX_ATTEMPTS + 1):
        started = time.monotonic()
        fired = timers.fire_timer(timer_id, now=utcnow() + timedelta(days=attempt))
        took = time.monotonic() - started
        db.session.commit()  # as the job does
        assert fired is False and took < MAX_SECONDS
        db.session.expire_all()
        timer = db.session.get(Timer, timer_id)
        instance = db.session.get(Instance, instance_id)
        assert timer.attempts == attempt
        assert "Escalate" in timer.last_error and says in timer.last_error, timer.last_error
        assert "Traceback" not in timer.last_error
        if attempt < timers.MAX_ATTEMPTS:
            assert timer.status == "armed" and timer.due_at > utcnow()  # retried later, with backoff
            assert instance.status == "running"
            now = snapshot(db, ticket_id)
            assert now["instance"] == before["instance"] and now["work_items"] == before["work_items"]
            assert now["events"] == before["events"]
    # after the last attempt: the timer gave up and the instance says why
    assert timer.status == "failed"
    assert instance.status == "error" and "Escalate" in instance.error and says in instance.error
    assert instance.state == before["instance"][2]  # the state is what it was before the timer
    items = list(db.session.execute(select(WorkItem).where(WorkItem.ticket_id == ticket_id)).scalars())
    assert [(w.element_id, w.status) for w in items] == [("work", "open")]
    assert db.session.get(Ticket, ticket_id).closed is False
    # visible to a supervisor
    body = api.as_(cast["supervisor"]).get(f"/instances/{instance_id}").get_json()
    assert body["status"] == "error" and "Escalate" in body["error"] and says in body["error"], body
    assert [t["status"] for t in body["timers"] if t.get("element_id") == "late"] == ["failed"]
    listing = api.as_(cast["supervisor"]).get("/instances?status=error").get_json()
    assert instance_id in [i["id"] for i in listing["items"]]
    # a duplicate wake-up of the failed timer is a no-op
    assert timers.fire_timer(timer_id, now=utcnow() + timedelta(days=30)) is False
