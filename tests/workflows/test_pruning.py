"""The task tree stays bounded: loops run for ever at a flat size, the data survives, and
what the engine still needs (open joins, boundary events, subprocesses, multi-instance
parents, event-based gateways) is left alone.  Every step's state is saved and reloaded."""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID

import pytest

import workflows.sandbox  # noqa: E402,F401  (the runner runs every diagram in it)
sys.path.insert(0, str(Path(__file__).parent))

from compile_helper import compile_for_test, kinds, of_type, reload  # noqa: E402

from workflows.pruning import count_tasks, prune  # noqa: E402
from workflows.runner import ProcessRunner  # noqa: E402
from workflows.state import load_state  # noqa: E402
from workflows.types import StageClosed, TimerArmed, TimerDisarmed  # noqa: E402

NOW = datetime.now(timezone.utc)


def task_count(state: dict) -> int:
    return len(state["tasks"]) + sum(len(sp["tasks"]) for sp in state["subprocesses"].values())


def size(state: dict) -> int:
    return len(json.dumps(state))


def open_ids(result) -> list[str]:
    return sorted(s.element_id for s in result.open_tasks)


def task_of(result, element_id: str) -> str:
    return next(s.task_id for s in result.open_tasks if s.element_id == element_id)


class Recorder:
    """State size, task count and step time at chosen rounds."""

    def __init__(self, *rounds: int):
        self.rounds = set(rounds)
        self.seen: dict[int, tuple[int, int, float]] = {}

    def note(self, n: int, result, seconds: float) -> None:
        if n in self.rounds:
            self.seen[n] = (size(result.state), task_count(result.state), seconds)

    def assert_flat(self, early: int, late: int, factor: float = 1.5) -> None:
        (s1, t1, _), (s2, t2, _) = self.seen[early], self.seen[late]
        assert s2 <= s1 * factor, (early, s1, late, s2)
        assert t2 <= t1 * factor, (early, t1, late, t2)

    def report(self, name: str) -> str:
        return name + ": " + ", ".join(f"round {n}: {s} B, {t} tasks, {ms * 1000:.2f} ms/step"
                                       for n, (s, t, ms) in sorted(self.seen.items()))


def test_loop_runs_1500_rounds_flat_with_its_data():
    process = compile_for_test("loop")["loop"]
    runner = ProcessRunner()
    result = runner.start(process, {"done": False, "rounds": 0, "history": []})
    recorder = Recorder(10, 1000, 1499)
    rounds = 1500
    for n in range(rounds):
        state = reload(result.state)
        began = time.perf_counter()
        result = runner.complete_task(process, state, task_of(result, "A"),
                                      {"answer": n, "done": n == rounds - 1})
        recorder.note(n, result, time.perf_counter() - began)
        if n < rounds - 1:
            assert open_ids(result) == ["A"]
            assert result.data["rounds"] == n + 1
    recorder.assert_flat(10, 1000)
    print(recorder.report("loop"))
    assert result.finished
    assert result.data["rounds"] == rounds
    assert result.data["history"] == [rounds - 3, rounds - 2, rounds - 1]
    assert task_count(result.state) <= 3


def test_parallel_loop_stays_flat_and_joins_correctly():
    process = compile_for_test("loop_parallel")["loop_parallel"]
    runner = ProcessRunner()
    result = runner.start(process, {"done": False})
    recorder = Recorder(30, 150)
    rounds = 200
    for n in range(rounds):
        began = time.perf_counter()
        result = runner.complete_task(process, reload(result.state), task_of(result, "A"), {"plan": n})
        assert open_ids(result) == ["B", "C"]
        first, second = ("B", "C") if n % 2 else ("C", "B")
        marker = n if n < 20 else "late"  # per-round fields early, then a constant data size
        result = runner.complete_task(process, reload(result.state), task_of(result, first),
                                      {f"{first}{marker}": n})
        # the join waits for the other branch: SpiffWorkflow 3.2 alone lets a looping
        # parallel join fire early here, on a stale instance from an earlier round
        assert open_ids(result) == [second]
        result = runner.complete_task(process, reload(result.state), task_of(result, second),
                                      {f"{second}{marker}": n, "done": n == rounds - 1})
        recorder.note(n, result, (time.perf_counter() - began) / 3)
        # both branches' data reach the join.  (Only fields new in this round tell: each
        # branch carries all earlier data and SpiffWorkflow merges the arriving branch last,
        # so its stale copy of the other branch's older field wins.)
        assert result.data[f"{second}{marker}"] == n and result.data["plan"] == n
        if marker != "late":
            assert result.data[f"{first}{marker}"] == n
    recorder.assert_flat(30, 150)
    print(recorder.report("parallel loop"))
    assert result.finished


def test_open_join_keeps_the_branch_that_arrived():
    process = compile_for_test("loop_parallel")["loop_parallel"]
    runner = ProcessRunner()
    result = runner.start(process, {"done": True})
    result = runner.complete_task(process, reload(result.state), task_of(result, "A"), {})
    result = runner.complete_task(process, reload(result.state), task_of(result, "B"),
                                  {"from_b": "switch replaced"})
    workflow = load_state(process, reload(result.state), ProcessRunner()._engine(None))
    joins = [t for t in workflow.tasks.values() if t.task_spec.name == "join"]
    arrived = [t for t in joins if t.parent.task_spec.name == "B"]
    assert arrived and arrived[0].parent.state == 64  # COMPLETED, still there
    result = runner.complete_task(process, reload(result.state), task_of(result, "C"),
                                  {"from_c": "server patched"})
    assert result.finished
    assert result.data["from_b"] == "switch replaced" and result.data["from_c"] == "server patched"


def test_loop_with_a_boundary_timer_stays_flat():
    process = compile_for_test("loop_timer")["loop_timer"]
    runner = ProcessRunner()
    result = runner.start(process, {"done": False, "escalations": 0})
    timer = of_type(result.effects, TimerArmed)[0]
    recorder = Recorder(10, 250)
    rounds, escalations = 300, 0
    for n in range(rounds):
        began = time.perf_counter()
        if n % 3 == 0 and n < rounds - 1:  # the SLA timer fires: escalate, back to A
            result = runner.fire_timer(process, reload(result.state), timer.task_id, NOW)
            escalations += 1
            assert kinds(result.effects)[:1] == ["StageClosed"]
            assert of_type(result.effects, StageClosed)[0].status == "cancelled"
        else:
            result = runner.complete_task(process, reload(result.state), task_of(result, "A"),
                                          {"done": n == rounds - 1})
            if n < rounds - 1:
                assert len(of_type(result.effects, TimerDisarmed)) == 1
        recorder.note(n, result, time.perf_counter() - began)
        if n < rounds - 1:
            timer = of_type(result.effects, TimerArmed)[0]
            assert timer.attached_to == "A" and open_ids(result) == ["A"]
            assert result.data["escalations"] == escalations
    recorder.assert_flat(10, 250)
    print(recorder.report("boundary-timer loop"))
    assert result.finished


def test_loop_through_a_call_activity_stays_flat():
    process = compile_for_test("loop_call", "diagnose")["loop_call"]
    runner = ProcessRunner()
    result = runner.start(process, {"done": False})
    recorder = Recorder(10, 250)
    rounds = 300
    for n in range(rounds):
        began = time.perf_counter()
        result = runner.complete_task(process, reload(result.state), task_of(result, "diag"),
                                      {"cause": f"cause {n}", "done": n == rounds - 1})
        recorder.note(n, result, time.perf_counter() - began)
        assert len(result.state["subprocesses"]) <= 1
        assert result.data["diagnosis"] == f"cause: cause {n}"
    recorder.assert_flat(10, 250)
    print(recorder.report("call-activity loop"))
    assert result.finished and result.state["subprocesses"] == {}


def test_event_based_gateway_loop_stays_flat():
    process = compile_for_test("event_gateway")["event_gateway"]
    runner = ProcessRunner()
    result = runner.start(process, {"done": False})
    recorder = Recorder(10, 150)
    for n in range(200):
        result = runner.deliver_message(process, reload(result.state), "requester_reply", {"n": n})
        assert result.data["reply"] == {"n": n}
        result = runner.complete_task(process, reload(result.state), task_of(result, "read"), {})
        recorder.note(n, result, 0.0)
    recorder.assert_flat(10, 150)


def test_multi_instance_parent_keeps_its_finished_instances():
    process = compile_for_test("multi_instance")["multi_instance"]
    runner = ProcessRunner()
    result = runner.start(process, {"approvers": ["ann", "bob", "cid"]})
    assert [s.assignee for s in result.open_tasks] == ["ann", "bob", "cid"]
    ids = [s.task_id for s in result.open_tasks]
    for n, task_id in enumerate(ids[:2]):
        result = runner.complete_task(process, reload(result.state), task_id, {"decision": f"ok {n}"})
        assert len(result.open_tasks) == 2 - n
        workflow = load_state(process, reload(result.state), ProcessRunner()._engine(None))
        parent = next(t for t in workflow.tasks.values() if t.task_spec.name == "approve"
                      and t.state == 32)  # STARTED
        assert len(parent.internal_data["merged"]) == n + 1
        assert all(UUID(i) in workflow.tasks for i in parent.internal_data["merged"])
    result = runner.complete_task(process, reload(result.state), ids[2], {"decision": "no"})
    assert open_ids(result) == ["after"]
    assert result.data["decisions"] == ["ok 0", "ok 1", "no"]


def test_max_history():
    process = compile_for_test("loop")["loop"]
    counts = {}
    for history in (None, 1, 4):
        runner = ProcessRunner(max_history=history)
        result = runner.start(process, {"done": False, "rounds": 0, "history": []})
        seen = []
        for n in range(30):
            result = runner.complete_task(process, reload(result.state), task_of(result, "A"),
                                          {"answer": n})
            seen.append(task_count(result.state))
        counts[history] = seen
        assert result.data["rounds"] == 30
    assert counts[None][-1] >= counts[None][9] + 4 * 20  # unpruned: 4 more tasks every round
    assert counts[1][-1] == counts[1][9]  # flat
    assert counts[4][-1] == counts[4][9] > counts[1][-1]  # flat, with more history
    with pytest.raises(ValueError):
        ProcessRunner(max_history=0)


def test_prune_keeps_boundary_split_and_ancestry():
    """Unit level: after pruning, each live task still descends from what it did."""
    process = compile_for_test("loop_timer")["loop_timer"]
    runner = ProcessRunner(max_history=None)
    result = runner.start(process, {"done": False, "escalations": 0})
    for _ in range(5):
        result = runner.complete_task(process, reload(result.state), task_of(result, "A"), {})
    workflow = load_state(process, reload(result.state), runner._engine(None))
    live = [t for t in workflow.tasks.values() if t.state & (8 | 16)]  # WAITING, READY
    splits_before = {t.id: t.find_ancestor("A.BoundaryEventSplit").id for t in live}
    before = count_tasks(workflow)
    stats = prune(workflow)
    assert stats.tasks_before == before and stats.tasks_after == count_tasks(workflow) < before
    for task in live:
        assert workflow.tasks[task.id] is task
        assert task.find_ancestor("A.BoundaryEventSplit").id == splits_before[task.id]
        assert task.parent.state == 64  # the newest completed ancestor stays, for its data
    assert workflow.last_task.id in workflow.tasks
    order = list(workflow.tasks.values())
    assert all(order.index(t.parent) < order.index(t) for t in order if t.parent is not None)
    assert prune(workflow).tasks_after == stats.tasks_after  # idempotent


def test_finished_instance_shrinks_to_almost_nothing():
    process = compile_for_test("call_parent", "diagnose")["call_parent"]
    runner = ProcessRunner()
    result = runner.start(process, {})
    for element in ("intake", "diag", "close"):
        result = runner.complete_task(process, reload(result.state), task_of(result, element),
                                      {"cause": "x"})
    assert result.finished
    assert task_count(result.state) <= 3 and result.state["subprocesses"] == {}
    assert result.data["diagnosis"] == "cause: x"
    assert runner.describe(process, reload(result.state))["status"] == "completed"
