"""The shipped processes walked end to end (``bpmn/README.md``), as the app would drive them.

Each scenario runs on ``BpmnWorkflow`` with the project's sandboxed script engine and saves
and reloads the instance in the middle (``BpmnWorkflowSerializer`` with ``SPIFF_CONFIG``);
the last test goes through ``compile_bundle`` and ``ProcessRunner`` and checks the effects
the app sees.  The structure of the diagrams is checked in ``test_shipped_diagrams.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

ROOT = Path(__file__).resolve().parents[2]
DIAGRAMS = sorted((ROOT / "bpmn").glob("*.bpmn"))
FORMS = sorted((ROOT / "forms").glob("*.json"))
SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


@pytest.fixture(scope="module")
def parser():
    p = SpiffBpmnParser()
    xml_parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    for path in DIAGRAMS:
        p.add_bpmn_xml(etree.parse(str(path), xml_parser), filename=path.name)
    return p


@pytest.fixture
def engine():
    from workflows.sandbox import SandboxedScriptEngine

    return SandboxedScriptEngine()


class Walk:
    """Drives one instance like the app does, recording what it would observe."""

    def __init__(self, parser, engine, process_id, **data):
        self.engine = engine
        self.wf = BpmnWorkflow(parser.get_spec(process_id), parser.get_subprocess_specs(process_id),
                               script_engine=engine)
        self.wf.task_tree.data.update(data)
        self.notifications = []
        self.done = []
        self.step()

    def step(self):
        self.wf.do_engine_steps()
        for event in self.wf.get_events():
            assert event.event_definition.name == "notify_requester"
            self.notifications.append(event.payload)

    def ready(self):
        return [t for t in self.wf.get_tasks(state=TaskState.READY, manual=True)]

    def stage(self, element_id):
        tasks = self.ready()
        assert [t.task_spec.bpmn_id for t in tasks] == [element_id], "open stages"
        return tasks[0]

    def assignee(self, element_id):
        task = self.stage(element_id)
        expression = task.task_spec.extensions["properties"].get("assignee")
        return None if expression is None else self.engine.evaluate(task, expression)

    def complete(self, element_id, **data):
        task = self.stage(element_id)
        task.data.update(data)
        task.run()
        self.done.append(element_id)
        self.step()
        return task

    def reply(self, **payload):
        self.wf.send_event(BpmnEvent(MessageEventDefinition("requester_reply"), payload=payload))
        self.step()

    def waits_for(self):
        return sorted(e.name for e in self.wf.waiting_events())

    def data(self):
        return self.wf.last_task.data

    def save_and_reload(self):
        text = SERIALIZER.serialize_json(self.wf)
        self.wf = SERIALIZER.deserialize_json(text)
        self.wf.script_engine = self.engine

    def finished(self):
        return self.wf.is_completed() and not self.ready()


START = {"subject": "Принтер не печатает", "description": "Третий этаж, HP LaserJet",
         "requester": "ivanov", "channel": "portal"}


def _register_and_classify(walk, impact=2, urgency=2):
    walk.complete("register", **START, service="Печать")
    walk.complete("classify", category="incident", impact=impact, urgency=urgency)


@pytest.mark.parametrize("impact,urgency,priority", [
    (1, 1, "P1"), (1, 2, "P2"), (1, 3, "P3"), (2, 1, "P2"), (2, 2, "P3"),
    (2, 3, "P4"), (3, 1, "P3"), (3, 2, "P4"), (3, 3, "P4")])
def test_priority_matrix(parser, engine, impact, urgency, priority):
    walk = Walk(parser, engine, "incident", **START)
    _register_and_classify(walk, impact, urgency)
    assert walk.stage("assess")
    assert walk.data()["priority"] == priority
    assert walk.data()["line"] == 1


def test_incident_solved_at_line_1(parser, engine):
    walk = Walk(parser, engine, "incident", **START)
    assert walk.stage("register").task_spec.lane == "Line 1"
    _register_and_classify(walk)
    walk.complete("assess", solve_at_line1=True)
    walk.save_and_reload()
    walk.complete("resolve_l1", resolution="Перезапущена служба печати", next_step="resolved")
    assert walk.notifications == [{"template": "resolved", "resolution": "Перезапущена служба печати"}]
    assert walk.stage("confirm").task_spec.lane == "Requester"
    assert walk.assignee("confirm") == "ivanov"
    walk.complete("confirm", confirmed=True)
    walk.complete("rate", rating=5, rating_comment="Спасибо!")
    assert walk.finished()
    assert walk.done == ["register", "classify", "assess", "resolve_l1", "confirm", "rate"]
    assert walk.data()["rating"] == 5 and walk.data()["line"] == 1


def test_incident_line_2_with_questions_training_and_reopen(parser, engine):
    walk = Walk(parser, engine, "incident", **START)
    _register_and_classify(walk, impact=1, urgency=1)
    walk.complete("assess", solve_at_line1=False)
    assert walk.data()["line"] == 2
    assert walk.stage("assign").task_spec.lane == "Line 2"
    walk.complete("assign", engineer="petrov")
    assert walk.assignee("identify") == "petrov"

    walk.complete("identify", diagnosis="Не ясно, какой принтер", next_step="ask_requester",
                  question="Какой инвентарный номер у принтера?")
    wait = walk.stage("wait_identify")
    assert wait.task_spec.extensions["properties"]["stage.state"] == "waiting"
    assert walk.assignee("wait_identify") == "petrov"
    assert walk.waits_for() == ["requester_reply"]
    walk.reply(text="ИН-4711")
    assert walk.data()["reply"] == {"text": "ИН-4711"}
    walk.complete("identify", diagnosis="Замят барабан", next_step="resolve")

    walk.complete("resolve", next_step="ask_requester", question="Можно подойти в 15:00?",
                  needs_training=False)
    walk.stage("wait_resolve")
    walk.save_and_reload()                      # while waiting for the message
    assert walk.waits_for() == ["requester_reply"]
    walk.reply(text="Да")
    assert walk.assignee("resolve") == "petrov"
    walk.complete("resolve", next_step="resolved", resolution="Заменён барабан",
                  needs_training=True)
    assert walk.assignee("training") == "petrov"
    walk.complete("training", training_format="on_site", training_notes="Показал замену картриджа")
    walk.complete("confirm", confirmed=False, reopen_reason="Снова полосы на листе")
    walk.complete("resolve", next_step="resolved", resolution="Заменён фьюзер",
                  needs_training=False)
    walk.complete("confirm", confirmed=True)
    walk.complete("rate", rating=5, rating_comment="Отлично")
    assert walk.finished()
    assert [n["template"] for n in walk.notifications] == ["question", "question", "resolved",
                                                          "resolved"]
    assert walk.notifications[0]["question"] == "Какой инвентарный номер у принтера?"
    assert walk.notifications[-1]["resolution"] == "Заменён фьюзер"
    assert walk.done == ["register", "classify", "assess", "assign", "identify", "identify",
                         "resolve", "resolve", "training", "confirm", "resolve", "confirm", "rate"]
    assert walk.data()["rating"] == 5


def test_engineer_may_stop_waiting_and_a_late_reply_is_refused(parser, engine):
    walk = Walk(parser, engine, "incident", **START)
    _register_and_classify(walk)
    walk.complete("assess", solve_at_line1=False)
    walk.complete("assign", engineer="petrov")
    walk.complete("identify", diagnosis="?", next_step="resolve")
    walk.complete("resolve", next_step="ask_requester", question="Работает?")
    walk.complete("wait_resolve", wait_note="Дозвонился по телефону")
    walk.stage("resolve")
    assert walk.waits_for() == []
    with pytest.raises(WorkflowException):      # the app keeps it in the inbox
        walk.wf.send_event(BpmnEvent(MessageEventDefinition("requester_reply"), payload={}))


def test_incident_escalated_from_line_1_to_the_vendor_and_back(parser, engine):
    walk = Walk(parser, engine, "incident", **START)
    _register_and_classify(walk)
    walk.complete("assess", solve_at_line1=True)
    walk.complete("resolve_l1", next_step="escalate", escalation_reason="Нужен инженер")
    for element_id, lane, line in (("work_line2", "Line 2", 2), ("work_line3", "Line 3", 3)):
        task = walk.stage(element_id)
        assert task.task_spec.lane == lane and task.data["line"] == line
        assert walk.assignee(element_id) is None           # the lane's queue
        walk.complete(element_id, escalation_outcome="escalate", work_notes=f"line {line}")
        if line == 2:
            walk.save_and_reload()                          # inside the call activity
    vendor = walk.stage("work_vendor")
    assert vendor.task_spec.lane == "Vendor" and vendor.data["line"] == 4
    walk.complete("work_vendor", vendor_case="HP-123", escalation_outcome="solved",
                  resolution="Прошивка обновлена поставщиком", needs_training=False)
    assert walk.notifications == [{"template": "resolved",
                                   "resolution": "Прошивка обновлена поставщиком"}]
    data = walk.stage("confirm").data
    assert data["line"] == 1 and data["solved_by_line"] == 4 and data["escalated_from"] == 1
    walk.complete("confirm", confirmed=True)
    walk.complete("rate", rating=4)
    assert walk.finished()


def test_incident_escalation_from_line_2_returned_then_reopened(parser, engine):
    walk = Walk(parser, engine, "incident", **START)
    _register_and_classify(walk)
    walk.complete("assess", solve_at_line1=False)
    walk.complete("assign", engineer="petrov")
    walk.complete("identify", diagnosis="Сбой драйвера", next_step="escalate")
    assert walk.stage("work_line3").data["line"] == 3
    walk.complete("work_line3", escalation_outcome="return", work_notes="Не наш профиль")
    assert walk.data()["line"] == 2 and walk.data()["solved_by_line"] is None
    walk.complete("identify", diagnosis="Сбой драйвера", next_step="resolve")
    walk.complete("resolve", next_step="escalate", escalation_reason="Нужен поставщик")
    walk.complete("work_line3", escalation_outcome="escalate")
    walk.complete("work_vendor", escalation_outcome="solved", resolution="Новый драйвер",
                  needs_training=True)
    walk.complete("training", training_format="remote", training_notes="Объяснил настройки")
    walk.complete("confirm", confirmed=False, reopen_reason="Не помогло")
    assert walk.data()["line"] == 2
    walk.complete("resolve", next_step="resolved", resolution="Переустановлен драйвер",
                  needs_training=False)         # the app sends false for an unchecked box
    walk.complete("confirm", confirmed=True)
    walk.complete("rate", rating=3)
    assert walk.finished()


@pytest.mark.parametrize("approved", [True, False])
def test_service_request(parser, engine, approved):
    walk = Walk(parser, engine, "service_request", **START)
    walk.complete("register", **START)
    walk.complete("plan", fulfilment_plan="Выдать ноутбук", approver="sidorov")
    approve = walk.stage("approve")
    assert approve.task_spec.lane == "Approvers" and walk.assignee("approve") == "sidorov"
    walk.save_and_reload()
    walk.complete("approve", approved=approved, approval_comment="Ок" if approved else "Нет бюджета")
    if not approved:
        assert walk.finished()
        assert walk.notifications == [{"template": "rejected", "approval_comment": "Нет бюджета"}]
        return
    assert walk.stage("fulfil").task_spec.lane == "Line 2"
    walk.complete("fulfil", fulfilment_notes="Выдан ноутбук")
    walk.complete("confirm", confirmed=False, reopen_reason="Нет зарядки")
    walk.complete("fulfil", fulfilment_notes="Выдана зарядка")
    assert walk.assignee("confirm") == "ivanov"
    walk.complete("confirm", confirmed=True)
    assert walk.finished()
    assert walk.notifications == [{"template": "fulfilled", "fulfilment_notes": "Выдан ноутбук"},
                                  {"template": "fulfilled", "fulfilment_notes": "Выдана зарядка"}]


@pytest.mark.parametrize("review_required", [True, False])
def test_subtask(parser, engine, review_required):
    walk = Walk(parser, engine, "subtask", subject="Проверить кабель", assignee="kuznetsov",
                owner="petrov", review_required=review_required)
    assert walk.assignee("work") == "kuznetsov"
    walk.complete("work", result="Кабель заменён", time_spent_hours=0.5)
    if review_required:
        assert walk.assignee("review") == "petrov"
        walk.save_and_reload()
        walk.complete("review", accepted=False, review_comment="Нужна фотография")
        walk.complete("work", result="Фото приложено")
        walk.complete("review", accepted=True)
    assert walk.finished()


# --- what the app observes, through the project's runner --------------------------------


def test_the_app_sees_questions_replies_and_notifications(engine):
    """``incident`` through ``compile_bundle`` and ``ProcessRunner``: the effects the app
    turns into work items, notifications and inbox deliveries."""
    from workflows import bundle
    from workflows import runner as runner_module
    from workflows.types import MessageAwaited, MessageSent

    compiled = bundle.compile_bundle({p.name: p.read_bytes() for p in DIAGRAMS + FORMS})
    incident = compiled.processes["incident"]
    runner = runner_module.ProcessRunner()

    def opened(result, element_id):
        stages = [s for s in result.open_tasks if s.element_id == element_id]
        assert len(stages) == 1, [s.element_id for s in result.open_tasks]
        return stages[0]

    def complete(result, element_id, **data):
        task_id = opened(result, element_id).task_id
        state = json.loads(json.dumps(result.state))
        return runner.complete_task(incident, state, task_id, data)

    result = runner.start(incident, dict(START))
    register = opened(result, "register")
    assert (register.lane, register.stage.state, register.stage.form) == ("Line 1", "new",
                                                                            "register.json")
    result = complete(result, "register", **START)
    result = complete(result, "classify", category="incident", impact=1, urgency=2)
    assert result.data["priority"] == "P2"
    result = complete(result, "assess", solve_at_line1=False)
    result = complete(result, "assign", engineer="petrov")
    assert opened(result, "identify").assignee == "petrov"
    result = complete(result, "identify", diagnosis="?", next_step="ask_requester",
                      question="Какой принтер?")
    sent = [e for e in result.effects if isinstance(e, MessageSent)]
    assert [(e.name, e.payload) for e in sent] == [
        ("notify_requester", {"template": "question", "question": "Какой принтер?"})]
    assert [e.name for e in result.effects if isinstance(e, MessageAwaited)] == ["requester_reply"]
    wait = opened(result, "wait_identify")
    assert (wait.stage.state, wait.assignee, wait.lane) == ("waiting", "petrov", "Line 2")
    result = runner.deliver_message(incident, json.loads(json.dumps(result.state)),
                                    "requester_reply", {"text": "HP на 3 этаже"})
    assert opened(result, "identify").assignee == "petrov"
    assert result.data["reply"] == {"text": "HP на 3 этаже"}
