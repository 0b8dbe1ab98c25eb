"""ProcessRunner against real .bpmn files: stages, gateways, timers, messages, call
activities, failures.  Every step's state goes through JSON (save and reload) before the
next one."""
from __future__ import annotations

import copy
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import workflows.sandbox  # noqa: E402,F401  (the runner runs every diagram in it)
sys.path.insert(0, str(Path(__file__).parent))

from compile_helper import compile_for_test, kinds, of_type, reload  # noqa: E402

from workflows.runner import ProcessRunner, StepResult  # noqa: E402
from workflows.types import (  # noqa: E402
    DataChanged,
    InstanceFinished,
    MessageAwaited,
    MessageSent,
    NotWaitingForMessage,
    ScriptFailed,
    StageClosed,
    StageMeta,
    StageOpened,
    StateInvalid,
    TaskNotReady,
    TimerArmed,
    TimerDisarmed,
)

NOW = datetime.now(timezone.utc)


@pytest.fixture
def runner():
    return ProcessRunner()


def only(items):
    assert len(items) == 1, items
    return items[0]


def stage(result: StepResult, element_id: str) -> StageOpened:
    return only([s for s in result.open_tasks if s.element_id == element_id])


def step(fn, process, result, *args, **kwargs) -> StepResult:
    """Run a step on the reloaded state, checking the input state is left untouched."""
    state = reload(result.state)
    pristine = copy.deepcopy(state)
    new = fn(process, state, *args, **kwargs)
    assert state == pristine
    assert reload(new.state) == new.state
    return new


# --- linear stages ----------------------------------------------------------------


def test_linear_stages_effects_and_data(runner):
    process = compile_for_test("linear")["linear"]
    started = runner.start(process, {"requester_manager": "boss", "engineer": "ivan"})

    assert kinds(started.effects) == ["StageOpened"]
    triage = only(started.open_tasks)
    assert started.effects == [triage]
    assert triage.element_id == "triage" and triage.name == "Triage"
    assert triage.process_id == "linear" and triage.lane == "Line 1"
    assert triage.stage == StageMeta(color="#1E88E5", background="#E3F2FD", icon="headset",
                                     state="new", form="triage.json")
    assert triage.assignee == "boss" and triage.assignee_error is None
    assert triage.properties["assignee"] == "requester_manager"
    assert started.finished is False
    assert started.data == {"requester_manager": "boss", "engineer": "ivan"}
    assert "spec" not in started.state and "subprocess_specs" not in started.state

    second = step(runner.complete_task, process, started, triage.task_id, {"category": "network"})
    assert kinds(second.effects) == ["StageClosed", "DataChanged", "StageOpened"]
    assert second.effects[0] == StageClosed(triage.task_id, "triage", "done")
    assert second.effects[1] == DataChanged({"category": (None, "network")})
    resolve = stage(second, "resolve")
    assert resolve.lane == "Line 2" and resolve.assignee == "IVAN"
    assert resolve.stage.state == "in_progress" and resolve.stage.form == "resolve.json"

    done = step(runner.complete_task, process, second, resolve.task_id, {"resolution": "fixed"})
    assert kinds(done.effects) == ["StageClosed", "DataChanged", "InstanceFinished"]
    assert done.effects[-1] == InstanceFinished("completed")
    assert done.finished and done.open_tasks == []
    assert done.data == {"requester_manager": "boss", "engineer": "ivan",
                         "category": "network", "resolution": "fixed"}


def test_failing_assignee_expression_opens_the_stage_unassigned(runner):
    process = compile_for_test("linear")["linear"]
    started = runner.start(process, {"requester_manager": "boss"})
    second = step(runner.complete_task, process, started, started.open_tasks[0].task_id, {})
    resolve = stage(second, "resolve")  # ``engineer.upper()``: engineer is not defined
    assert resolve.assignee is None
    assert "engineer" in resolve.assignee_error
    assert runner.describe(process, second.state)["open_tasks"][0]["assignee_error"]


def test_completing_a_task_that_is_not_ready(runner):
    process = compile_for_test("linear")["linear"]
    started = runner.start(process, {"requester_manager": "x", "engineer": "y"})
    triage = started.open_tasks[0].task_id
    second = step(runner.complete_task, process, started, triage, {})
    with pytest.raises(TaskNotReady):  # already completed
        runner.complete_task(process, reload(second.state), triage, {})
    with pytest.raises(TaskNotReady):  # unknown id
        runner.complete_task(process, reload(second.state), "5a0e9d7e-8d5c-4a1f-9a55-0a1c2f1e2d3c", {})
    with pytest.raises(TaskNotReady):  # not an id at all
        runner.complete_task(process, reload(second.state), "not-a-task", {})
    root = second.state["root"]  # a task that exists but is no stage
    with pytest.raises(TaskNotReady):
        runner.complete_task(process, reload(second.state), root, {})


def test_state_of_another_process_is_refused(runner):
    processes = compile_for_test("linear", "gateway")
    started = runner.start(processes["linear"], {"requester_manager": "x", "engineer": "y"})
    with pytest.raises(StateInvalid):
        runner.describe(processes["gateway"], reload(started.state))


# --- exclusive gateway with sandboxed conditions -----------------------------------


@pytest.mark.parametrize("priority, expected", [("high", "urgent"), ("low", "normal")])
def test_exclusive_gateway_conditions(runner, priority, expected):
    process = compile_for_test("gateway")["gateway"]
    started = runner.start(process, {"subject": "VPN down", "priority": priority})
    classify = stage(started, "classify")
    routed = step(runner.complete_task, process, started, classify.task_id, {"checked": True})
    assert [s.element_id for s in routed.open_tasks] == [expected]
    changes = only(of_type(routed.effects, DataChanged)).changes
    assert changes["score"] == (None, 16)
    assert changes["urgent_flag"] == (None, priority == "high")
    if expected == "urgent":
        assert stage(routed, "urgent").stage.color == "#E53935"


# --- boundary timers ----------------------------------------------------------------


def _timers(result):
    return {t.element_id: t for t in of_type(result.effects, TimerArmed)}


def test_boundary_timers_are_armed_with_due_times(runner):
    process = compile_for_test("timers")["timers"]
    before = datetime.now(timezone.utc)
    started = runner.start(process, {"due": "2030-01-01T09:00:00+03:00", "ticket": 7})
    after = datetime.now(timezone.utc)
    assert kinds(started.effects) == ["StageOpened", "TimerArmed", "TimerArmed"]
    timers = _timers(started)
    remind, breach = timers["remind"], timers["breach"]
    assert remind.interrupting is False and remind.attached_to == "work" and remind.name == "Reminder"
    assert before + timedelta(minutes=30) <= remind.due_at <= after + timedelta(minutes=30)
    assert remind.due_at.tzinfo == timezone.utc
    assert breach.interrupting is True and breach.attached_to == "work"
    assert breach.due_at == datetime(2030, 1, 1, 6, 0, tzinfo=timezone.utc)
    assert breach.due_at.tzinfo == timezone.utc

    described = runner.describe(process, reload(started.state))
    assert {t["element_id"]: t["due_at"] for t in described["timers"]} == {
        "remind": remind.due_at, "breach": breach.due_at}


def test_completing_the_stage_disarms_its_timers(runner):
    process = compile_for_test("timers")["timers"]
    started = runner.start(process, {"due": "2030-01-01T00:00:00Z", "ticket": 7})
    timers = _timers(started)
    done = step(runner.complete_task, process, started, started.open_tasks[0].task_id, {})
    assert kinds(done.effects) == ["StageClosed", "TimerDisarmed", "TimerDisarmed", "InstanceFinished"]
    assert {e.task_id for e in of_type(done.effects, TimerDisarmed)} == {
        timers["remind"].task_id, timers["breach"].task_id}
    with pytest.raises(TaskNotReady):
        runner.fire_timer(process, reload(done.state), timers["breach"].task_id, NOW)


def test_non_interrupting_timer_fires_and_the_stage_stays_open(runner):
    process = compile_for_test("timers")["timers"]
    started = runner.start(process, {"due": "2030-01-01T00:00:00Z", "ticket": 7})
    work = started.open_tasks[0]
    timers = _timers(started)
    # the app's timer row says it is due: fire it even though the engine's clock disagrees
    reminded = step(runner.fire_timer, process, started, timers["remind"].task_id, NOW)
    assert reminded.effects == [MessageSent("reminder", {"ticket": 7})]
    assert [s.task_id for s in reminded.open_tasks] == [work.task_id]
    with pytest.raises(TaskNotReady):  # a fired timer does not fire twice
        runner.fire_timer(process, reload(reminded.state), timers["remind"].task_id, NOW)

    escalated = step(runner.fire_timer, process, reminded, timers["breach"].task_id, NOW)
    assert kinds(escalated.effects) == ["StageClosed", "StageOpened"]
    assert escalated.effects[0] == StageClosed(work.task_id, "work", "cancelled")
    assert stage(escalated, "escalated").stage.color == "#E53935"


def test_interrupting_timer_cancels_the_stage_and_disarms_the_others(runner):
    process = compile_for_test("timers")["timers"]
    started = runner.start(process, {"due": "2030-01-01T00:00:00Z", "ticket": 7})
    timers = _timers(started)
    escalated = step(runner.fire_timer, process, started, timers["breach"].task_id, NOW)
    assert kinds(escalated.effects) == ["StageClosed", "TimerDisarmed", "StageOpened"]
    assert only(of_type(escalated.effects, TimerDisarmed)).task_id == timers["remind"].task_id
    finished = step(runner.complete_task, process, escalated, escalated.open_tasks[0].task_id, {})
    assert finished.finished and finished.effects[-1] == InstanceFinished("completed")


def test_fire_timer_refuses_what_is_not_a_waiting_timer(runner):
    process = compile_for_test("timers")["timers"]
    started = runner.start(process, {"due": "2030-01-01T00:00:00Z", "ticket": 7})
    with pytest.raises(TaskNotReady):
        runner.fire_timer(process, reload(started.state), started.open_tasks[0].task_id, NOW)
    with pytest.raises(ValueError):
        runner.fire_timer(process, reload(started.state), _timers(started)["breach"].task_id,
                          datetime(2030, 1, 1))


def test_intermediate_timer_event(runner):
    process = compile_for_test("intermediate_timer")["intermediate_timer"]
    started = runner.start(process, {})
    timer = only(started.effects)
    assert isinstance(timer, TimerArmed)
    assert timer.element_id == "cooldown" and timer.attached_to is None
    assert started.open_tasks == []
    assert runner.describe(process, reload(started.state))["active_element_ids"] == ["cooldown"]
    woken = step(runner.fire_timer, process, started, timer.task_id, NOW)
    assert kinds(woken.effects) == ["StageOpened"]
    assert woken.open_tasks[0].element_id == "check"


def test_repeating_timer_fires_once_per_call_and_rearms(runner):
    process = compile_for_test("cycle_timer")["cycle_timer"]
    started = runner.start(process, {})
    armed = only(of_type(started.effects, TimerArmed))
    result = started
    for n in (1, 2):
        result = step(runner.fire_timer, process, result, armed.task_id, NOW)
        rearmed = only(of_type(result.effects, TimerArmed))
        assert kinds(result.effects) == ["MessageSent", "TimerArmed"]
        assert rearmed.task_id == armed.task_id
        assert rearmed.due_at == armed.due_at + timedelta(hours=n)
        assert len(result.open_tasks) == 1
    last = step(runner.fire_timer, process, result, armed.task_id, NOW)  # R3: the third is the last
    assert last.effects == [MessageSent("reminder", {})]
    assert runner.describe(process, reload(last.state))["timers"] == []
    done = step(runner.complete_task, process, last, last.open_tasks[0].task_id, {})
    assert kinds(done.effects) == ["StageClosed", "InstanceFinished"]


def test_repeating_timer_skips_missed_occurrences(runner):
    process = compile_for_test("cycle_timer")["cycle_timer"]
    started = runner.start(process, {})
    armed = only(of_type(started.effects, TimerArmed))
    late = armed.due_at + timedelta(hours=1, minutes=30)  # the worker was down for a while
    result = step(runner.fire_timer, process, started, armed.task_id, late)
    assert only(of_type(result.effects, TimerArmed)).due_at == armed.due_at + timedelta(hours=2)
    done = step(runner.complete_task, process, result, result.open_tasks[0].task_id, {})
    assert kinds(done.effects) == ["StageClosed", "TimerDisarmed", "InstanceFinished"]


# --- messages -------------------------------------------------------------------------


def test_waiting_for_the_requester(runner):
    process = compile_for_test("requester")["requester"]
    started = runner.start(process, {})
    ask = stage(started, "ask")
    with pytest.raises(NotWaitingForMessage):  # too early: the app keeps it in its inbox
        runner.deliver_message(process, reload(started.state), "requester_reply", {"text": "hi"})

    waiting = step(runner.complete_task, process, started, ask.task_id, {"question": "Which VPN?"})
    assert kinds(waiting.effects) == ["StageClosed", "DataChanged", "MessageSent", "StageOpened",
                                      "MessageAwaited"]
    assert only(of_type(waiting.effects, MessageSent)) == MessageSent(
        "question_to_requester", {"question": "Which VPN?"})
    wait_stage = stage(waiting, "waiting")
    assert wait_stage.stage.state == "waiting" and wait_stage.stage.icon == "hourglass"
    awaited = only(of_type(waiting.effects, MessageAwaited))
    assert awaited.name == "requester_reply" and awaited.element_id == "reply"
    described = runner.describe(process, reload(waiting.state))
    assert [m["name"] for m in described["messages"]] == ["requester_reply"]
    with pytest.raises(NotWaitingForMessage):
        runner.deliver_message(process, reload(waiting.state), "something_else", {})

    replied = step(runner.deliver_message, process, waiting, "requester_reply", {"text": "Office"})
    assert kinds(replied.effects) == ["StageClosed", "DataChanged", "StageOpened"]
    assert replied.effects[0] == StageClosed(wait_stage.task_id, "waiting", "cancelled")
    assert replied.data["reply"] == {"text": "Office"}
    review = stage(replied, "review")
    with pytest.raises(NotWaitingForMessage):  # nothing waits any more
        runner.deliver_message(process, reload(replied.state), "requester_reply", {"text": "again"})
    done = step(runner.complete_task, process, replied, review.task_id, {})
    assert done.finished


def test_event_based_gateway_reply_or_timeout(runner):
    process = compile_for_test("event_gateway")["event_gateway"]
    started = runner.start(process, {"done": False})
    assert kinds(started.effects) == ["TimerArmed", "MessageAwaited"]
    timer = only(of_type(started.effects, TimerArmed))
    assert timer.element_id == "timeout"
    assert only(of_type(started.effects, MessageAwaited)).element_id == "got_reply"

    replied = step(runner.deliver_message, process, started, "requester_reply", {"text": "hi"})
    assert kinds(replied.effects) == ["TimerDisarmed", "DataChanged", "StageOpened"]
    looped = step(runner.complete_task, process, replied, replied.open_tasks[0].task_id, {})
    timer = only(of_type(looped.effects, TimerArmed))
    timed_out = step(runner.fire_timer, process, looped, timer.task_id, NOW)
    assert kinds(timed_out.effects) == ["InstanceFinished"]


# --- call activities ----------------------------------------------------------------


def test_call_activity_stages_count_like_any_other(runner):
    processes = compile_for_test("call_parent", "diagnose")
    process = processes["call_parent"]
    assert process.calls == ("diagnose",)
    started = runner.start(process, {})
    intake = stage(started, "intake")
    called = step(runner.complete_task, process, started, intake.task_id, {"cause": "cable"})
    diag = stage(called, "diag")
    assert diag.process_id == "diagnose" and diag.lane == "Line 2"
    assert diag.stage.icon == "tools"
    assert any(t["element_id"] == "call_diag" for t in runner.describe(process, reload(called.state))["tokens"])

    back = step(runner.complete_task, process, called, diag.task_id, {"cause": "switch"})
    assert kinds(back.effects) == ["StageClosed", "DataChanged", "StageOpened"]
    assert back.effects[0] == StageClosed(diag.task_id, "diag", "done")
    assert back.data["diagnosis"] == "cause: switch"
    assert only(of_type(back.effects, DataChanged)).changes["cause"] == ("cable", "switch")
    assert back.state["subprocesses"] == {}  # the finished call's subworkflow is gone
    close = stage(back, "close")
    done = step(runner.complete_task, process, back, close.task_id, {})
    assert done.finished


# --- failures ---------------------------------------------------------------------------


def test_script_failure_names_the_element_and_leaves_the_state(runner):
    process = compile_for_test("script_fail")["script_fail"]
    started = runner.start(process, {"count": 0})
    fill = stage(started, "fill")
    state = reload(started.state)
    pristine = copy.deepcopy(state)
    with pytest.raises(ScriptFailed) as failed:
        runner.complete_task(process, state, fill.task_id, {})
    assert state == pristine
    assert failed.value.element_id == "compute"
    assert failed.value.element_name == "Compute ratio"
    assert failed.value.line == 2
    assert "division" in str(failed.value)


def test_sandbox_refusal_becomes_script_failed(runner):
    process = compile_for_test("script_fail")["script_fail"]
    started = runner.start(process, {"count": 5})
    with pytest.raises(ScriptFailed) as failed:
        runner.complete_task(process, reload(started.state), started.open_tasks[0].task_id, {})
    assert failed.value.element_id == "escape"
    assert "import" in str(failed.value).lower()


def test_script_failure_at_start_and_undefined_names(runner):
    process = compile_for_test("start_script")["start_script"]
    with pytest.raises(ScriptFailed) as failed:
        runner.start(process, {})
    assert failed.value.element_id == "greet" and "name" in str(failed.value)
    started = runner.start(process, {"name": "Ann"})
    assert started.data["greeting"] == "Hello Ann"
    assert only(of_type(started.effects, DataChanged)).changes == {"greeting": (None, "Hello Ann")}


# --- cancel and describe --------------------------------------------------------------


def test_cancel_closes_stages_and_disarms_timers(runner):
    process = compile_for_test("timers")["timers"]
    started = runner.start(process, {"due": "2030-01-01T00:00:00Z", "ticket": 1})
    cancelled = step(runner.cancel, process, started)
    assert kinds(cancelled.effects) == ["StageClosed", "TimerDisarmed", "TimerDisarmed",
                                        "InstanceFinished"]
    assert cancelled.effects[0].status == "cancelled"
    assert cancelled.effects[-1] == InstanceFinished("cancelled")
    assert cancelled.finished and cancelled.open_tasks == []
    assert runner.describe(process, reload(cancelled.state))["status"] == "cancelled"
    again = step(runner.cancel, process, cancelled)
    assert again.effects == []


def test_describe_reports_tokens_timers_and_stages(runner):
    process = compile_for_test("timers")["timers"]
    started = runner.start(process, {"due": "2030-01-01T00:00:00Z", "ticket": 1})
    described = runner.describe(process, reload(started.state))
    assert described["status"] == "running" and described["finished"] is False
    assert described["active_element_ids"] == ["breach", "remind", "work"]
    assert [s["element_id"] for s in described["open_tasks"]] == ["work"]
    assert {t["element_id"] for t in described["timers"]} == {"breach", "remind"}
    assert described["messages"] == []
    assert described["data"]["ticket"] == 1


def test_helpers_reach_scripts_and_expressions():
    process = compile_for_test("timers")["timers"]
    runner = ProcessRunner(helpers={"due": "2031-05-01T00:00:00Z"})
    started = runner.start(process, {"ticket": 1})
    assert _timers(started)["breach"].due_at == datetime(2031, 5, 1, tzinfo=timezone.utc)
    # per-call helpers win
    other = ProcessRunner().start(process, {"ticket": 1}, helpers={"due": "2032-05-01T00:00:00Z"})
    assert _timers(other)["breach"].due_at == datetime(2032, 5, 1, tzinfo=timezone.utc)


def test_timers_inside_a_call_activity(runner):
    process = compile_for_test("call_timers", "timers")["call_timers"]
    due = (datetime.now(timezone.utc) + timedelta(milliseconds=200)).isoformat()
    started = runner.start(process, {"due": due, "ticket": 3})
    assert kinds(started.effects) == ["StageOpened", "TimerArmed", "TimerArmed"]
    assert started.open_tasks[0].process_id == "timers"
    timers = _timers(started)
    time.sleep(0.3)  # "breach" is overdue, yet only the app fires it
    reminded = step(runner.fire_timer, process, started, timers["remind"].task_id, NOW)
    assert reminded.effects == [MessageSent("reminder", {"ticket": 3})]
    escalated = step(runner.fire_timer, process, reminded, timers["breach"].task_id, NOW)
    assert kinds(escalated.effects) == ["StageClosed", "StageOpened"]
    assert stage(escalated, "escalated").process_id == "timers"


def test_cancel_inside_a_call_activity(runner):
    process = compile_for_test("call_timers", "timers")["call_timers"]
    started = runner.start(process, {"due": "2030-01-01T00:00:00Z", "ticket": 3})
    cancelled = step(runner.cancel, process, started)
    assert kinds(cancelled.effects) == ["StageClosed", "TimerDisarmed", "TimerDisarmed",
                                        "InstanceFinished"]
    assert cancelled.effects[0].status == "cancelled"
    assert cancelled.state["subprocesses"] == {}
