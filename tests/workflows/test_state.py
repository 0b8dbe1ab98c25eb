"""The stored state: no spec inside, JSON-ready, checked on load, never modified, and
timers that only the app fires."""
from __future__ import annotations

import copy
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import workflows.sandbox  # noqa: E402,F401  (the runner runs every diagram in it)
sys.path.insert(0, str(Path(__file__).parent))

from compile_helper import compile_for_test, kinds, of_type, reload  # noqa: E402

from workflows.runner import ProcessRunner  # noqa: E402
from workflows.serialization import SERIALIZER, STATE_FORMAT  # noqa: E402
from workflows.state import RUNTIME_REGISTRY, SERIALIZER_VERSION, dump_state, load_state  # noqa: E402
from workflows.types import StateInvalid, TimerArmed  # noqa: E402

NOW = datetime.now(timezone.utc)


@pytest.fixture
def runner():
    return ProcessRunner()


def _engine(runner):
    return runner._engine(None)


def test_state_has_no_spec_and_is_tagged(runner):
    process = compile_for_test("linear")["linear"]
    state = runner.start(process, {"requester_manager": "a", "engineer": "b"}).state
    assert "spec" not in state and "subprocess_specs" not in state
    assert state["format"] == STATE_FORMAT
    assert state["digest"] == process.digest
    assert state["serializer_version"] == SERIALIZER_VERSION
    assert state["typename"] == "BpmnWorkflow"
    assert reload(state) == state


def test_state_plus_spec_is_a_plain_spiffworkflow_serialization(runner):
    """Handy for debugging and for benchmarks against bare SpiffWorkflow."""
    process = compile_for_test("call_parent", "diagnose")["call_parent"]
    result = runner.start(process, {})
    result = runner.complete_task(process, reload(result.state), result.open_tasks[0].task_id,
                                  {"cause": "fan"})
    full = {k: v for k, v in reload(result.state).items()
            if k not in ("format", "digest", "serializer_version")}
    full.update(copy.deepcopy(process.spec))
    workflow = SERIALIZER.from_dict(full)
    ready = [t.task_spec.bpmn_id for t in workflow.get_tasks(state=16, manual=True)]
    assert ready == ["diag"]


def test_datetimes_in_task_data_survive_json(runner):
    process = compile_for_test("linear")["linear"]
    moment = datetime(2025, 3, 1, 12, 30, tzinfo=timezone.utc)
    started = runner.start(process, {"requester_manager": "a", "engineer": "b", "opened": moment})
    json.dumps(started.state)
    second = runner.complete_task(process, reload(started.state), started.open_tasks[0].task_id,
                                  {"answered": moment + timedelta(hours=1)})
    json.dumps(second.state)
    assert second.data["opened"] == moment
    assert second.data["answered"] == moment + timedelta(hours=1)


def test_loading_checks_the_state(runner):
    processes = compile_for_test("linear", "gateway")
    linear = processes["linear"]
    state = reload(runner.start(linear, {"requester_manager": "a", "engineer": "b"}).state)
    engine = _engine(runner)
    assert load_state(linear, state, engine).script_engine is engine
    with pytest.raises(StateInvalid, match="process version"):
        load_state(processes["gateway"], state, engine)
    with pytest.raises(StateInvalid, match="format"):
        load_state(linear, {**state, "format": STATE_FORMAT + 1}, engine)
    with pytest.raises(StateInvalid, match="serializer"):
        load_state(linear, {**state, "serializer_version": "0.1"}, engine)
    with pytest.raises(StateInvalid):
        load_state(linear, {"tasks": {}}, engine)
    with pytest.raises(StateInvalid, match="damaged"):
        load_state(linear, {**state, "tasks": {"x": {"typename": "Task"}}}, engine)


def test_input_state_is_never_modified(runner):
    processes = compile_for_test("call_parent", "diagnose", "timers", "requester")
    parent = processes["call_parent"]
    started = runner.start(parent, {})
    called = runner.complete_task(parent, reload(started.state), started.open_tasks[0].task_id, {})
    assert called.state["subprocesses"]  # a running call activity: nested dicts to pop from
    for call in (
        lambda s: runner.complete_task(parent, s, called.open_tasks[0].task_id, {"cause": "x"}),
        lambda s: runner.describe(parent, s),
        lambda s: runner.cancel(parent, s),
    ):
        state = reload(called.state)
        pristine = copy.deepcopy(state)
        call(state)
        assert state == pristine
    timers = processes["timers"]
    armed = runner.start(timers, {"due": "2030-01-01T00:00:00Z", "ticket": 1})
    state = reload(armed.state)
    pristine = copy.deepcopy(state)
    runner.fire_timer(timers, state, of_type(armed.effects, TimerArmed)[0].task_id, NOW)
    assert state == pristine


def test_the_engine_clock_never_fires_a_timer(runner):
    """The app's timer rows are the truth: an overdue timer waits for ``fire_timer``."""
    process = compile_for_test("timers")["timers"]
    due = (datetime.now(timezone.utc) + timedelta(milliseconds=300)).isoformat()
    started = runner.start(process, {"due": due, "ticket": 1})
    timers = {t.element_id: t for t in of_type(started.effects, TimerArmed)}
    time.sleep(0.4)  # "breach" is overdue now; firing "remind" runs engine steps
    reminded = runner.fire_timer(process, reload(started.state), timers["remind"].task_id, NOW)
    assert kinds(reminded.effects) == ["MessageSent"]
    assert [s.element_id for s in reminded.open_tasks] == ["work"]
    waiting = runner.describe(process, reload(reminded.state))["timers"]
    assert [t["element_id"] for t in waiting] == ["breach"]


def test_a_timer_already_due_when_reached_fires_at_once(runner):
    process = compile_for_test("timers")["timers"]
    started = runner.start(process, {"due": "2020-01-01T00:00:00Z", "ticket": 1})
    assert [s.element_id for s in started.open_tasks] == ["escalated"]
    assert kinds(started.effects) == ["StageOpened"]  # never armed, so never disarmed


def test_dump_and_load_are_inverse(runner):
    process = compile_for_test("loop_timer")["loop_timer"]
    state = reload(runner.start(process, {"done": False, "escalations": 0}).state)
    workflow = load_state(process, state, _engine(runner))
    assert reload(dump_state(workflow, process.digest)) == state
    assert RUNTIME_REGISTRY is not SERIALIZER.registry  # ours, the spec serializer untouched


def test_state_loads_whatever_the_key_order(runner):
    """A store may sort keys (PostgreSQL's JSONB does); task data are deltas on the parent,
    so the loader restores parents first."""
    process = compile_for_test("linear")["linear"]
    result = runner.start(process, {"requester_manager": "a", "engineer": "b", "note": "kept"})
    task_id = result.open_tasks[0].task_id
    result = runner.complete_task(process, result.state, task_id, {"answer": 42})
    shuffled = copy.deepcopy(result.state)
    shuffled["tasks"] = dict(reversed(list(shuffled["tasks"].items())))  # children first
    assert list(shuffled["tasks"]) != list(result.state["tasks"])
    described = runner.describe(process, shuffled)
    assert described["data"]["note"] == "kept" and described["data"]["answer"] == 42
    assert described["open_tasks"] == runner.describe(process, result.state)["open_tasks"]
