"""The script sandbox: an escape corpus, limits, SpiffWorkflow semantics, a real BPMN run."""
from __future__ import annotations

import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from workflows.helpers import DEFAULT_HELPERS
from workflows.sandbox import SandboxedScriptEngine, SandboxLimits, check_source
from workflows.sandbox_policy import compile_sandboxed
from workflows.types import SandboxError

LIMITS = SandboxLimits(cpu_seconds=0.25)


@pytest.fixture(scope="module")
def env():
    return SandboxedScriptEngine(limits=LIMITS).environment


def run(env, source: str, data: dict | None = None):
    """Execute a script (or evaluate an expression when it compiles as one)."""
    data = {} if data is None else data
    if not check_source(source, "eval"):
        return env.evaluate(source, data)
    env.execute(source, data)
    return data


# -- the escape corpus: each is refused when compiled or stopped when run ----------------------

ESCAPES = {
    "subclasses": "().__class__.__base__.__subclasses__()",
    "mro": "[].__class__.__mro__[1].__subclasses__()",
    "helper globals": "now.__globals__",
    "helper self": "now.__self__",
    "datetime walk": "timedelta.__init__.__globals__",
    "class dict": "datetime.__dict__",
    "dunder import": "__import__('os')",
    "import": "import os",
    "import from": "from os import system",
    "getattr": "getattr(1, '__class__')",
    "format attribute walk": "'{0.__class__.__base__}'.format(1)",
    "format_map": "'{x.__class__}'.format_map({'x': 1})",
    "format via class": "str.format('{0.__class__}', 1)",
    "generator frame": "(x for x in [1]).gi_frame.f_back.f_globals",
    "generator code": "(x for x in [1]).gi_code",
    "lambda code": "(lambda: 0).__code__",
    "function globals": "def f():\n    pass\ng = f.__globals__",
    "exec": "exec('1')",
    "eval": "eval('1')",
    "compile": "compile('1', 'x', 'eval')",
    "open": "open('/etc/passwd')",
    "type": "type(1)",
    "vars": "vars()",
    "globals": "globals()",
    "locals": "locals()",
    "dir": "dir()",
    "help": "help",
    "breakpoint": "breakpoint()",
    "builtins": "__builtins__",
    "class getattr trick": "class A:\n    def __getattr__(self, name):\n        return 1\na = A()",
    "metaclass": "class M(type):\n    pass",
    "catch BaseException": "try:\n    pass\nexcept BaseException:\n    pass",
    "bare except": "try:\n    pass\nexcept:\n    pass",
    "with": "with x:\n    pass",
    "yield": "def g():\n    yield 1",
    "nonlocal": "def f():\n    x = 1\n    def g():\n        nonlocal x\n    return g",
    "print": "print('x')",
    "traceback frame": "try:\n    1/0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame",
    "string private attr": "'x'._formatter_parser",
    "mro method": "int.mro()",
    "to_bytes": "(1).to_bytes(10**10, 'big')",
    "str translate": "'a'.translate({97: 'b' * 10})",
    # stopped at run time
    "infinite loop": "while True: pass",
    "infinite loop on two lines": "while True:\n    pass",
    "string repeat": "'x' * 10**10",
    "list repeat": "[0] * 10**10",
    "tuple repeat": "(0,) * 10**10",
    "power": "2 ** 10**10",
    "pow builtin": "pow(10, 10**10)",
    "shift": "1 << 10**10",
    "ljust": "'x'.ljust(10**10)",
    "unbound ljust": "str.ljust('x', 10**10)",
    "zfill": "'1'.zfill(10**10)",
    "center": "'x'.center(10**10)",
    "replace": "('x' * 100000).replace('x', 'y' * 100000)",
    "expandtabs": "('\\t' * 100000).expandtabs(100000)",
    "join": "'-'.join(['x' * 100000] * 100000)",
    "range list": "list(range(10**10))",
    "range": "range(10**10)",
    "f-string width": "f'{1:>10000000000}'",
    "f-string nested width": "f'{1:>{10**10}}'",
    "percent width": "'%10000000000s' % 'a'",
    "percent star width": "'%*s' % (10**10, 'a')",
    "sum of lists": "sum([[0] * 100000] * 100000, [])",
    "repr of shared big strings": "s = 'x' * 1000000\nl = [s] * 100000\nt = str(l)",
    "f-string of shared big strings": "s = 'x' * 1000000\nl = [s] * 100000\nt = f'{l}'",
    "doubling": "a = [0]\nwhile True:\n    a.extend(a)",
    "doubling with +=": "a = 'x'\nwhile True:\n    a += a",
    "append forever": "l = []\nwhile True:\n    l.append(1)",
    "comprehension bomb": "x = [1 for a in range(100000) for b in range(100000) if False]",
    "genexp bomb": "x = any(False for a in range(100000) for b in range(100000))",
    "map of C function": "l = list(map(str.upper, ['x' * 1000000] * 100000))",
    "zip amplification": "l = list(zip(*[['x'] * 100000] * 100000))",
    "recursion fan-out": "def f(n):\n    return f(n + 1) + f(n + 1) if n < 60 else 1\nf(0)",
    "sorted key": "sorted(range(100000), key=lambda x: [y for y in range(100000)])",
    "catch the timeout": ("while True:\n    try:\n        while True: pass\n"
                          "    except Exception:\n        pass"),
    "catch via failing except clause": ("while True:\n    try:\n        try:\n            while True: pass\n"
                                        "        except undefined_name:\n            pass\n"
                                        "    except Exception:\n        pass"),
    "loop in finally": "try:\n    while True: pass\nfinally:\n    while True: pass",
    "return in finally": ("def f():\n    try:\n        while True: pass\n    finally:\n"
                          "        return 1\nwhile True:\n    f()"),
    "break in finally": ("while True:\n    try:\n        while True: pass\n    finally:\n"
                         "        continue"),
    "loop at the recursion limit": (
        "def depth(n):\n    try:\n        return depth(n + 1)\n    except Exception:\n        return n\n"
        "limit = depth(0)\n"
        "def at(n, k):\n    if n < limit - k:\n        return at(n + 1, k)\n    while True:\n"
        "        try:\n            while True:\n                pass\n        except Exception:\n"
        "            pass\n"
        "k = 0\nwhile True:\n    try:\n        at(0, k % 12)\n    except Exception:\n        pass\n"
        "    k = k + 1"),
    "catch a refusal": "try:\n    x = 'x' * 10**10\nexcept Exception:\n    x = 'caught'",
    "write to a function": "def f():\n    pass\nf.x = 1",
    "store a function in data": "d = {'f': lambda: 0}",
    "store a generator": "items = [(x for x in [1])]",
}


@pytest.mark.parametrize("source", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_is_refused_or_stopped(env, source):
    problems = check_source(source) and check_source(source, "eval")
    if problems:
        assert all(msg.startswith(f"Line {line}: ") for line, msg in problems if line)
        with pytest.raises(SandboxError, match="was refused"):
            env.execute(source, {})
        return
    started = time.thread_time()
    with pytest.raises(SandboxError) as caught:
        run(env, source)
    assert time.thread_time() - started < LIMITS.cpu_seconds * 4 + 1
    assert str(caught.value).startswith("The ") or "is not allowed" in str(caught.value)


@pytest.mark.parametrize("source, message", [
    ("x.__class__", "Line 1: Attributes starting with '_' are not allowed ('__class__')."),
    ("x = 1\ny = __import__('os')", "Line 2: Names starting with '_' are not allowed ('__import__'); rename it."),
    ("'{0}'.format(1)", "Line 1: Access to attribute 'format' is not allowed; use an f-string instead."),
    ("g.gi_frame", "Line 1: Access to attribute 'gi_frame' is not allowed."),
    ("import os", "Line 1: Import statements are not allowed"),
    ("eval('1')", "Line 1: 'eval' is not available in diagram scripts"),
    ("type(x)", "Line 1: 'type()' is not available in diagram scripts"),
    ("x =", "Line 1: Syntax error: invalid syntax"),
    ("d['k'] += 1", "Line 1: Augmented assignment to an item"),
])
def test_check_source_messages(source, message):
    problems = check_source(source)
    assert problems and problems[0][1].startswith(message)
    assert problems[0][0] == int(message.split()[1].rstrip(":"))


def test_check_source_reports_every_problem_and_accepts_good_code():
    assert [line for line, _ in check_source("a = x.__class__\nimport os\nb = eval('1')")] == [1, 2, 3]
    assert check_source("x = [i * 2 for i in range(3)]\ny = {'a': now()}") == []
    assert check_source("priority == 'P1' and amount > 10", "eval") == []
    assert check_source("\n   priority == 'P1'\n", "eval") == []  # XML whitespace
    assert check_source("x = 1", "eval")  # a statement is not an expression
    with pytest.raises(ValueError):
        check_source("1", "single")


@pytest.mark.parametrize("message, source", [
    ("ran longer than 0.25 s of CPU time", "while True: pass"),
    ("tried to build a string of 10,000,000,000 characters; the limit is 1,000,000", "'x' * 10**10"),
    ("tried to build a list of 10,000,000,000 items; the limit is 100,000", "[0] * 10**10"),
    ("tried to compute a number of about 10,000,000,001 bits", "2 ** 10**10"),
    ("tried to build a range of 10,000,000,000 items", "list(range(10**10))"),
    ("used more than 64 MB of memory", "l = [str(i) * 100000 for i in range(100000)]"),
    ("Access to attribute 'maketrans' of a str value is not allowed", "'x'.maketrans"),
    ("Access to attribute 'a' of a function value is not allowed", "def f():\n    pass\nf.a"),
    ("Changing a function value is not allowed", "def f():\n    pass\nf.x = 1"),
    ("stored a function in the task data", "d = {'f': lambda: 0}"),
])
def test_runtime_messages(env, message, source):
    with pytest.raises(SandboxError, match=message):
        run(env, source)


def test_the_stop_cannot_be_caught_and_the_sandbox_recovers(env):
    script = ("n = 0\nwhile True:\n    try:\n        while True:\n            n = n + 1\n"
              "    except Exception:\n        n = -1")
    data = {"n": 5}
    with pytest.raises(SandboxError, match="CPU time"):
        env.execute(script, data)
    assert data == {"n": 5}  # a failed script leaves the task data alone
    assert env.evaluate("1 + 1", {}) == 2  # the next run starts fresh


def test_runtime_errors_of_the_script_itself_are_catchable(env):
    data = {}
    env.execute("try:\n    x = 1 / 0\nexcept ZeroDivisionError as e:\n    x = str(e.args[0])", data)
    assert data == {"x": "division by zero"}
    with pytest.raises(AttributeError):  # a typo is an ordinary error, not a refusal
        env.evaluate("d.itmes()", {"d": {}})
    with pytest.raises(SandboxError, match="Only Exception"):
        env.execute("try:\n    1 / 0\nexcept str:\n    pass", {})


def test_huge_exception_arguments_are_shortened(env):
    with pytest.raises(ValueError) as caught:
        env.execute("s = 'x' * 1000000\nraise ValueError([s] * 1000)", {})
    assert len(str(caught.value)) < 1000


# -- semantics ----------------------------------------------------------------------------------

def test_script_updates_task_data_like_spiffworkflow(env):
    data = {"items": [{"n": 1}, {"n": 2}], "old": 1, "keep": "yes"}
    env.execute(
        "total = sum(i['n'] for i in items)\n"
        "items.append({'n': 3})\n"
        "items[0]['n'] = 10\n"
        "doubled = [i['n'] * 2 for i in items]\n"
        "by_n = {i['n']: i for i in items}\n"
        "def helper(x):\n    return x + 1\n"
        "bumped = helper(total)\n"
        "label = f'{len(items)} items, total {total:>5}'\n"
        "pct = '%d%%' % 50\n"
        "count = 0\nfor i in range(3):\n    count += i\n"
        "a, (b, c) = 1, (2, 3)\n"
        "del old\n", data)
    assert data["total"] == 3 and data["bumped"] == 4
    assert data["items"] == [{"n": 10}, {"n": 2}, {"n": 3}]
    assert data["doubled"] == [20, 4, 6] and sorted(data["by_n"]) == [2, 3, 10]
    assert data["label"] == "3 items, total     3" and data["pct"] == "50%"
    assert (data["count"], data["a"], data["b"], data["c"]) == (3, 1, 2, 3)
    assert "old" not in data and data["keep"] == "yes"
    assert "helper" not in data and "__builtins__" not in data and "now" not in data


def test_expressions(env):
    data = {"priority": "P1", "amount": 12, "tags": ["vip"], "due": "2024-05-01T10:00:00Z"}
    assert env.evaluate("priority == 'P1'", data) is True
    assert env.evaluate("amount > 10 and 'vip' in tags", data) is True
    assert env.evaluate("[t.upper() for t in tags if amount > threshold]", data,
                        external_context={"threshold": 5}) == ["VIP"]
    assert env.evaluate("isinstance(priority, str) and str(amount) == '12'", data) is True
    assert env.evaluate("str.upper(priority) + repr(amount)", data) == "P112"
    assert env.evaluate("parse_datetime(due).hour", data) == 10
    assert env.evaluate("math.floor(2.7) + max([1, 5], key=lambda v: -v)", data) == 3
    assert env.evaluate("sorted(zip([2, 1], 'ab'))", data) == [(1, "b"), (2, "a")]
    assert env.evaluate("list(map(str, filter(None, [0, 1, 2])))", data) == ["1", "2"]
    with pytest.raises(NameError):
        env.evaluate("missing == 1", data)


def test_dates_and_timer_values(env):
    data = {}
    env.execute("start = now()\nlater = add_days(start, 2)\nd = today() + timedelta(days=1)\n"
                "gap = (later - start).days\nstamp = iso(later)\nwait = iso_duration(hours=4)\n"
                "when = datetime(2024, 1, 1, tzinfo=UTC).isoformat()\n"
                "weekday = date(2024, 1, 1).weekday()", data)
    assert data["start"].tzinfo is not None and data["gap"] == 2
    assert isinstance(data["d"], date) and data["weekday"] == 0
    assert data["when"] == "2024-01-01T00:00:00+00:00"
    # what SpiffWorkflow's timers do with the values
    assert TimerEventDefinition.parse_time_or_duration(data["stamp"]) == data["later"]
    assert TimerEventDefinition.parse_iso_duration(data["wait"]) == {"seconds": 14400}
    assert TimerEventDefinition.parse_iso_duration(
        env.evaluate("iso_duration(days=1, seconds=1.5)", {})) == {"days": 1, "seconds": 1.5}
    cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(
        env.evaluate("'R3/' + iso_duration(days=1)", {}))
    assert cycles == 3 and duration == timedelta(days=1)
    assert datetime.now(timezone.utc) < start


def test_helpers_and_shadowing():
    calls = []
    engine = SandboxedScriptEngine(helpers={"sla_due": lambda kind: calls.append(kind) or "2030-01-01T00:00:00+00:00"})
    env = engine.environment
    assert env.evaluate("sla_due('resolution')", {}) == "2030-01-01T00:00:00+00:00"
    assert calls == ["resolution"] and "sla_due" not in DEFAULT_HELPERS
    # task data may shadow a helper, but never a guard
    assert env.evaluate("now", {"now": 5}) == 5
    assert env.evaluate("x.upper()", {"x": "a", "_getattr_": "evil", "__builtins__": {}}) == "A"
    with pytest.raises(ValueError):
        SandboxedScriptEngine(helpers={"_getattr_": getattr})


def test_compiled_code_is_cached(env):
    source = "priority == 'P9' and 1 < 2"
    env.evaluate(source, {"priority": "P9"})
    hits = compile_sandboxed.cache_info().hits
    env.evaluate(source, {"priority": "P9"})
    assert compile_sandboxed.cache_info().hits == hits + 1


def test_overhead_and_trace_function_untouched(env):
    tracer = sys.gettrace()
    data = {f"field{i}": i for i in range(20)} | {"priority": "P1"}
    env.evaluate("priority == 'P1'", data)
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        env.evaluate("priority == 'P1'", data)
    per_call = (time.perf_counter() - started) / rounds
    assert per_call < 500e-6, f"{per_call * 1e6:.1f} µs per evaluate"
    assert sys.gettrace() is tracer


def test_threads_have_their_own_clock(env):
    results = {}

    def spin():
        try:
            env.execute("while True: pass", {})
        except SandboxError as err:
            results["spin"] = str(err)

    thread = threading.Thread(target=spin)
    thread.start()
    for i in range(200):
        assert env.evaluate("sum(x for x in range(50))", {}) == 1225
    thread.join(10)
    assert "CPU time" in results["spin"]


def test_leaked_code_does_not_run_outside_the_sandbox(env):
    data = {}
    env.execute("items = [1, 2]\nf = lambda: 1", data)
    assert data == {"items": [1, 2]}  # functions never reach the task data
    leaked = env.evaluate("lambda: 1", {})
    with pytest.raises(SandboxError, match="only run inside the sandbox"):
        leaked()


# -- a real diagram -------------------------------------------------------------------------------

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://x">
  <bpmn:process id="triage" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="score" name="Score the ticket">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>SCRIPT</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:intermediateCatchEvent id="wait" name="Wait a moment">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:timerEventDefinition>
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">iso_duration(seconds=0)</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:exclusiveGateway id="route" default="to_low">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>to_high</bpmn:outgoing><bpmn:outgoing>to_low</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="score"/>
    <bpmn:sequenceFlow id="f2" sourceRef="score" targetRef="wait"/>
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="route"/>
    <bpmn:sequenceFlow id="to_high" sourceRef="route" targetRef="high">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">score &gt; 5 and priority == 'P1'</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_low" sourceRef="route" targetRef="low"/>
    <bpmn:endEvent id="high"><bpmn:incoming>to_high</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="low"><bpmn:incoming>to_low</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def _workflow(script: str, data: dict) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(BPMN.replace("SCRIPT", script).encode(), "triage.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("triage"), script_engine=SandboxedScriptEngine(limits=LIMITS))
    workflow.get_tasks(spec_name="start")[0].data.update(data)
    return workflow


def _finish(workflow: BpmnWorkflow) -> list[str]:
    workflow.do_engine_steps()
    for _ in range(50):
        if workflow.is_completed():
            break
        time.sleep(0.01)
        workflow.refresh_timers()
        workflow.do_engine_steps()
    assert workflow.is_completed()
    return [t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if t.task_spec.name in ("high", "low")]


@pytest.mark.parametrize("priority, words, end", [("P1", "a b c d e f", "high"), ("P3", "a b c d e f", "low"),
                                                  ("P1", "a b", "low")])
def test_bpmn_end_to_end(priority, words, end):
    workflow = _workflow("score = len(text.split())\nsummary = f'{priority}: {score}'",
                         {"priority": priority, "text": words})
    assert _finish(workflow) == [end]
    assert workflow.data["summary"] == f"{priority}: {len(words.split())}"


def test_bpmn_refused_and_failing_scripts():
    workflow = _workflow("x = 1\nscore = ().__class__", {"priority": "P1"})
    with pytest.raises(WorkflowTaskException) as caught:
        workflow.do_engine_steps()
    assert isinstance(caught.value.__context__, SandboxError)  # SpiffWorkflow chains the cause
    assert "Line 2: Attributes starting with '_'" in str(caught.value)

    workflow = _workflow("score = 1\nwhile True:\n    score = score + 1", {"priority": "P1"})
    with pytest.raises(WorkflowTaskException) as caught:
        workflow.do_engine_steps()
    assert "CPU time" in str(caught.value) and caught.value.error_type == "SandboxError"
    assert caught.value.line_number == 3

    workflow = _workflow("score = 1\nscore = score / 0", {"priority": "P1"})
    with pytest.raises(WorkflowTaskException) as caught:
        workflow.do_engine_steps()
    assert caught.value.line_number == 2 and caught.value.error_type == "ZeroDivisionError"
