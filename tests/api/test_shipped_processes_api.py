"""The shipped processes (bpmn/ + forms/) walked through the REST API alone, on either database.

The only setup outside the API is the cast of users and the deployment (fixtures).  What a
stage must look like (colour, background, icon, state, lane, form, assignee expression) is
read from the diagrams themselves, and each stage's form fields from forms/*.json, so these
tests check the app against the shipped files, not against a copy of them.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
CALLS = {"incident": ("incident", "escalation"), "service_request": ("service_request", "approval"),
         "subtask": ("subtask",)}
#: who works a lane's group queue in the demo cast (tests/factories.py)
LANE_WORKER = {"Line 1": "operator", "Line 2": "engineer", "Line 3": "engineer3", "Vendor": "vendor",
               "Approvers": "approver"}


def _read_diagrams() -> dict[tuple[str, str], dict]:
    """(process id, element id) → what the diagram says of that user task."""
    stages = {}
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        for proc in ET.parse(path).getroot().iter(f"{BPMN}process"):
            lanes = {ref.text.strip(): lane.get("name") for lane in proc.iter(f"{BPMN}lane")
                     for ref in lane.iter(f"{BPMN}flowNodeRef")}
            for task in proc.iter(f"{BPMN}userTask"):
                props = {p.get("name"): p.get("value") for p in task.iter(f"{SPIFF}property")}
                stages[(proc.get("id"), task.get("id"))] = {
                    "name": task.get("name"), "lane": lanes.get(task.get("id")),
                    "state": props.get("stage.state"), "color": props.get("stage.color"),
                    "background": props.get("stage.background"), "icon": props.get("stage.icon"),
                    "form": props.get("form"), "assignee": props.get("assignee")}
    return stages


DIAGRAM = _read_diagrams()


def form_file(name: str) -> dict:
    return json.loads((ROOT / "forms" / name).read_text(encoding="utf-8"))


def diagram_stage(process: str, element_id: str) -> dict:
    found = [DIAGRAM[(p, element_id)] for p in CALLS[process] if (p, element_id) in DIAGRAM]
    assert found, f"{element_id} is no stage of {process} or the processes it calls"
    return found[0]


def ids(listing: dict) -> list[int]:
    return [t["id"] for t in listing["items"]]


def open_stage(ticket: dict, element_id: str) -> dict:
    stages = [s for s in ticket["open_stages"] if s["element_id"] == element_id]
    assert stages, f"no open stage {element_id} in {[s['element_id'] for s in ticket['open_stages']]}"
    return stages[0]


def stage_trail(ticket: dict) -> list[tuple]:
    """The stage events of the ticket's history: ("opened", element) / ("closed", element, status)."""
    trail = []
    for h in ticket["history"]:
        if h["kind"] == "stage.opened":
            trail.append(("opened", h["element_id"]))
        elif h["kind"] == "stage.closed":
            trail.append(("closed", h["element_id"], h["data"]["status"]))
    return trail


class Desk:
    """The demo cast talking to the REST API: ``desk.c["engineer"].get(...)``."""

    def __init__(self, api, staff):
        self.staff = staff
        self.c = {name: api.as_(user) for name, user in staff.items()}

    def start(self, process: str = "incident", by: str = "requester", **fields) -> dict:
        fields.setdefault("subject", "The printer on floor 3 jams")
        res = self.c[by].post("/tickets", json={"process": process, **fields})
        assert res.status_code == 201, res.get_json()
        return res.get_json()

    def ticket(self, tid: int, by: str = "supervisor") -> dict:
        res = self.c[by].get(f"/tickets/{tid}")
        assert res.status_code == 200, res.get_json()
        return res.get_json()

    def instance(self, tid: int) -> dict:
        sup = self.c["supervisor"]
        listing = sup.get("/instances?limit=200").get_json()
        [iid] = [i["id"] for i in listing["items"] if i["ticket_id"] == tid]
        res = sup.get(f"/instances/{iid}")
        assert res.status_code == 200, res.get_json()
        return res.get_json()

    def stage(self, tid: int, element_id: str, *, assignee: str | None = None,
              outsider: str | None = None) -> int:
        """Check the one open stage of the ticket against the diagram, its queue, its form and
        who may complete it; return its task id."""
        ticket = self.ticket(tid)
        assert [s["element_id"] for s in ticket["open_stages"]] == [element_id], ticket["open_stages"]
        stage = ticket["open_stages"][0]
        want = diagram_stage(ticket["process"]["key"], element_id)
        painted = {k: stage[k] for k in ("name", "state", "color", "background", "icon", "lane")}
        assert painted == {k: want[k] for k in painted}, f"{element_id}: API {painted} != diagram {want}"
        assert stage["status"] == "open"
        assert ticket["status"] == want["state"], f"ticket status at {element_id}"
        assert ticket["closed"] is False
        login = self.staff[assignee].login if assignee else None
        assert stage["assignee"] == login, f"{element_id} assignee"
        task_id = stage["task_id"]
        lane = want["lane"]
        worker = assignee or LANE_WORKER[lane]
        # the right queues
        if assignee:
            assert task_id in ids(self.c[assignee].get("/tasks?scope=mine").get_json()), f"{element_id} not mine"
        if lane in LANE_WORKER:
            queue = self.c[LANE_WORKER[lane]].get("/tasks?scope=group").get_json()
            assert task_id in ids(queue), f"{element_id} not in the {lane} queue"
        outsider = outsider or ("engineer" if lane == "Line 1" else "operator")
        for scope in ("mine", "group"):
            assert task_id not in ids(self.c[outsider].get(f"/tasks?scope={scope}").get_json()), (
                f"{element_id} in {outsider}'s {scope} queue")
        # the task: stage metadata and the form spec
        res = self.c[worker].get(f"/tasks/{task_id}")
        assert res.status_code == 200, res.get_json()
        task = res.get_json()
        assert (task["id"], task["ticket_id"], task["element_id"], task["status"]) == (task_id, tid, element_id, "open")
        assert task["stage"] == {k: want[k] for k in ("state", "color", "background", "icon")}
        assert (task["lane"], task["assignee"]) == (lane, login)
        if lane in LANE_WORKER:
            assert task["group"] == lane
        spec = form_file(want["form"])
        assert task["form"]["name"] == want["form"]
        assert set(task["form"]["schema"]["properties"]) == set(spec["schema"]["properties"])
        assert sorted(task["form"]["schema"]["required"]) == sorted(spec["schema"]["required"])
        assert [f["name"] for f in task["form"]["fields"]] == spec["ui"]["order"]
        # everyone else is refused
        assert self.c["stranger"].get(f"/tasks/{task_id}").status_code == 403
        others = ["stranger", outsider] + (["requester"] if lane != "Requester" else [])
        for other in others:
            res = self.c[other].post(f"/tasks/{task_id}/complete", json={"data": {}})
            assert res.status_code == 403, f"{other} completing {element_id}: {res.status_code} {res.get_json()}"
        return task_id

    def complete(self, task_id: int, by: str, data: dict, status: int = 200) -> dict:
        res = self.c[by].post(f"/tasks/{task_id}/complete", json={"data": data})
        assert res.status_code == status, f"complete {task_id} as {by}: {res.status_code} {res.get_json()}"
        if status == 200:
            assert (res.get_json()["id"], res.get_json()["status"]) == (task_id, "done")
        return res.get_json()

    def work(self, tid: int, element_id: str, by: str, data: dict, **kw) -> int:
        """Check the stage, then complete it as ``by``."""
        task_id = self.stage(tid, element_id, **kw)
        self.complete(task_id, by, data)
        return task_id

    def closed(self, tid: int) -> dict:
        ticket = self.ticket(tid)
        assert (ticket["closed"], ticket["status"], ticket["open_stages"]) == (True, "closed", [])
        assert ticket["closed_at"]
        assert all(s["status"] in ("done", "cancelled") for s in ticket["stages"])
        instance = self.instance(tid)
        assert instance["status"] == "completed" and instance["tokens"] == []
        return ticket


@pytest.fixture()
def desk(api, make):
    staff = make.staff()
    make.deploy_shipped(staff["procadmin"])
    return Desk(api, staff)


REGISTER = {"subject": "The printer on floor 3 jams", "description": "Every second page since Monday",
            "requester": "t_requester", "channel": "phone", "service": "Printing",
            "contact_phone": "+7 (495) 123-45-67"}


def register_and_classify(d: Desk, tid: int, impact: int, urgency: int) -> None:
    d.work(tid, "register", "operator", REGISTER)
    t = d.ticket(tid)
    assert (t["subject"], t["service"], t["data"]["channel"]) == (REGISTER["subject"], "Printing", "phone")
    d.work(tid, "classify", "operator", {"category": "incident", "impact": impact, "urgency": urgency,
                                         "classification_note": "One floor affected"})


def walk_incident(d: Desk) -> int:
    """An incident through every stage of incident.bpmn to closure, checking each stage."""
    ticket = d.start(description="Every second page")
    tid = ticket["id"]
    assert ticket["number"] == f"INC-{tid}" and ticket["process"] == {"key": "incident", "version": 1}
    assert (ticket["status"], ticket["priority"], ticket["closed"]) == ("new", None, False)
    register_and_classify(d, tid, impact=2, urgency=1)
    t = d.ticket(tid)
    assert (t["priority"], t["category"], t["data"]["line"]) == ("P2", "incident", 1)
    diffs = [h for h in t["history"] if h["kind"] == "fields.changed" and "priority" in h["data"]["changes"]]
    assert len(diffs) == 1 and diffs[0]["actor"] == "t_operator"
    changes = diffs[0]["data"]["changes"]
    assert changes["priority"] == [None, "P2"]
    assert (changes["impact"], changes["urgency"], changes["category"]) == ([None, 2], [None, 1], [None, "incident"])

    d.work(tid, "assess", "operator", {"solve_at_line1": False, "assessment": "Needs an engineer"})
    assert d.ticket(tid)["data"]["line"] == 2
    d.work(tid, "assign", "engineer", {"engineer": "t_engineer", "assignment_note": "Yours"})
    d.work(tid, "identify", "engineer", {"diagnosis": "Driver or paper?", "next_step": "ask_requester",
                                         "question": "Which paper do you use?"}, assignee="engineer")
    # waiting for the requester: the ticket is "waiting", the stage painted as the diagram says
    wait_id = d.stage(tid, "wait_identify", assignee="engineer")
    wait = open_stage(d.ticket(tid, by="requester"), "wait_identify")
    assert (wait["state"], wait["color"], wait["background"], wait["icon"]) == (
        "waiting", "#5D4037", "#EFEBE9", "hourglass-split")
    assert d.ticket(tid, by="requester")["status"] == "waiting"
    engine = d.instance(tid)
    assert "wait_identify" in engine["tokens"]
    assert "requester_reply" in [m["name"] for m in engine["engine"]["messages"]]
    res = d.c["requester"].post(f"/tickets/{tid}/messages", json={"body": "Recycled A4, 80 g"})
    assert res.status_code == 201, res.get_json()
    t = d.ticket(tid)
    assert [s["status"] for s in t["stages"] if s["element_id"] == "wait_identify"] == ["cancelled"]
    assert "Recycled A4" in json.dumps(t["data"]["reply"])
    late = d.complete(wait_id, "engineer", {"wait_note": "too late"}, status=409)  # the reply closed it
    assert late["status"] == "cancelled"

    d.work(tid, "identify", "engineer", {"diagnosis": "Recycled paper", "next_step": "resolve"},
           assignee="engineer")
    # asking again from the resolution; this time the engineer stops waiting by hand
    d.work(tid, "resolve", "engineer", {"next_step": "ask_requester", "question": "Is 90 g paper OK?"},
           assignee="engineer")
    assert d.ticket(tid, by="requester")["status"] == "waiting"
    d.work(tid, "wait_resolve", "engineer", {"wait_note": "They said yes on the phone"}, assignee="engineer")
    d.work(tid, "resolve", "engineer", {"resolution": "Use 90 g paper", "next_step": "resolved",
                                        "needs_training": True}, assignee="engineer")
    d.work(tid, "training", "engineer", {"training_format": "remote", "training_notes": "Paper trays",
                                         "training_date": "2030-01-15"}, assignee="engineer")
    # the requester's own task: reopen once, then confirm
    d.work(tid, "confirm", "requester", {"confirmed": False, "reopen_reason": "Still jams"},
           assignee="requester", outsider="engineer")
    d.work(tid, "resolve", "engineer", {"resolution": "Replaced the fuser", "next_step": "resolved",
                                        "needs_training": False}, assignee="engineer")
    d.work(tid, "confirm", "requester", {"confirmed": True}, assignee="requester", outsider="engineer")
    d.work(tid, "rate", "requester", {"rating": 5, "rating_comment": "Quick and polite"},
           assignee="requester", outsider="engineer")
    return tid


def test_incident_through_every_stage_to_closure(desk):
    tid = walk_incident(desk)
    ticket = desk.closed(tid)
    assert (ticket["data"]["rating"], ticket["data"]["rating_comment"]) == (5, "Quick and polite")
    assert (ticket["rating"], ticket["rating_comment"]) == (5, "Quick and polite")  # on the ticket, for reports
    assert ticket["data"]["confirmed"] is True and ticket["priority"] == "P2"
    assert desk.ticket(tid, by="requester")["closed"] is True
    kinds = [h["kind"] for h in ticket["history"]]
    assert kinds[0] == "ticket.created" and "message.delivered" in kinds and "instance.finished" in kinds
    # every stage of incident.bpmn but resolve_l1 (see the line 1 test) was walked
    visited = {s["element_id"] for s in ticket["stages"]}
    assert visited == {e for p, e in DIAGRAM if p == "incident"} - {"resolve_l1"}


def test_incident_history_has_every_stage_opened_and_closed_in_order(desk):
    ticket = desk.ticket(walk_incident(desk))

    def step(element, status="done"):
        return [("opened", element), ("closed", element, status)]

    expected = [*step("register"), *step("classify"), *step("assess"), *step("assign"), *step("identify"),
                *step("wait_identify", "cancelled"), *step("identify"), *step("resolve"), *step("wait_resolve"),
                *step("resolve"), *step("training"),
                *step("confirm"), *step("resolve"), *step("confirm"), *step("rate")]
    assert stage_trail(ticket) == expected
    by_element = [(s["element_id"], s["status"], s["completed_by"]) for s in ticket["stages"]]
    assert by_element == [
        ("register", "done", "t_operator"), ("classify", "done", "t_operator"), ("assess", "done", "t_operator"),
        ("assign", "done", "t_engineer"), ("identify", "done", "t_engineer"), ("wait_identify", "cancelled", None),
        ("identify", "done", "t_engineer"), ("resolve", "done", "t_engineer"), ("wait_resolve", "done", "t_engineer"),
        ("resolve", "done", "t_engineer"), ("training", "done", "t_engineer"),
        ("confirm", "done", "t_requester"), ("resolve", "done", "t_engineer"), ("confirm", "done", "t_requester"),
        ("rate", "done", "t_requester")]
    statuses = [h["data"]["changes"]["status"] for h in ticket["history"] if h["kind"] == "status.changed"]
    assert [new for _old, new in statuses] == ["open", "in_progress", "waiting", "in_progress", "waiting",
                                               "in_progress", "resolved", "in_progress", "resolved", "closed"]


def test_incident_solved_at_line_1_and_reopened_there(desk):
    tid = desk.start()["id"]
    register_and_classify(desk, tid, impact=3, urgency=3)
    assert desk.ticket(tid)["priority"] == "P4"
    desk.work(tid, "assess", "operator", {"solve_at_line1": True, "assessment": "Known issue"})
    desk.work(tid, "resolve_l1", "operator", {"resolution": "Cleared the paper path", "next_step": "resolved"})
    desk.work(tid, "confirm", "requester", {"confirmed": False, "reopen_reason": "Jammed again"},
              assignee="requester", outsider="engineer")
    # reopened: back to line 1, not to line 2
    desk.work(tid, "resolve_l1", "operator", {"resolution": "Replaced the roller", "next_step": "resolved"})
    desk.work(tid, "confirm", "requester", {"confirmed": True}, assignee="requester", outsider="engineer")
    desk.work(tid, "rate", "requester", {"rating": 4}, assignee="requester", outsider="engineer")
    ticket = desk.closed(tid)
    assert [s["element_id"] for s in ticket["stages"]] == [
        "register", "classify", "assess", "resolve_l1", "confirm", "resolve_l1", "confirm", "rate"]
    assert ticket["data"]["line"] == 1 and ticket["data"]["resolution"] == "Replaced the roller"


def test_escalation_from_line_1_to_the_vendor_and_back(desk):
    tid = desk.start()["id"]
    register_and_classify(desk, tid, impact=1, urgency=1)
    assert desk.ticket(tid)["priority"] == "P1"
    desk.work(tid, "assess", "operator", {"solve_at_line1": True})
    desk.work(tid, "resolve_l1", "operator", {"next_step": "escalate", "escalation_reason": "Beyond us"})
    # the escalation call activity's stages are stages of the same ticket, in their lanes' queues
    desk.work(tid, "work_line2", "engineer", {"escalation_outcome": "escalate", "escalation_reason": "Firmware"})
    tokens = desk.instance(tid)["tokens"]
    assert {"call_escalate_l1", "work_line3"} <= set(tokens), tokens
    desk.work(tid, "work_line3", "engineer3", {"escalation_outcome": "escalate", "work_notes": "Board fault"},
              outsider="engineer")
    desk.work(tid, "work_vendor", "vendor", {"escalation_outcome": "return", "vendor_case": "HP-4711",
                                             "work_notes": "Under warranty: ship it"}, outsider="engineer3")
    # back at line 1, with the escalation's data
    ticket = desk.ticket(tid)
    data = ticket["data"]
    assert (data["line"], data["escalated_from"], data["solved_by_line"]) == (1, 1, None)
    assert (data["vendor_case"], data["escalation_outcome"]) == ("HP-4711", "return")
    desk.work(tid, "resolve_l1", "operator", {"next_step": "escalate", "escalation_reason": "Try line 2"})
    desk.work(tid, "work_line2", "engineer", {"escalation_outcome": "solved", "resolution": "Reflashed"})
    assert desk.ticket(tid)["data"]["solved_by_line"] == 2
    desk.work(tid, "confirm", "requester", {"confirmed": True}, assignee="requester", outsider="engineer")
    desk.work(tid, "rate", "requester", {"rating": 5}, assignee="requester", outsider="engineer")
    ticket = desk.closed(tid)
    lanes = [(s["element_id"], s["lane"]) for s in ticket["stages"]]
    assert lanes == [("register", "Line 1"), ("classify", "Line 1"), ("assess", "Line 1"), ("resolve_l1", "Line 1"),
                     ("work_line2", "Line 2"), ("work_line3", "Line 3"), ("work_vendor", "Vendor"),
                     ("resolve_l1", "Line 1"), ("work_line2", "Line 2"), ("confirm", "Requester"),
                     ("rate", "Requester")]


def test_escalation_from_line_2_starts_at_line_3(desk):
    tid = desk.start()["id"]
    register_and_classify(desk, tid, impact=2, urgency=2)
    desk.work(tid, "assess", "operator", {})  # the box left unchecked: to line 2
    desk.work(tid, "assign", "engineer", {"engineer": "t_engineer"})
    desk.work(tid, "identify", "engineer", {"diagnosis": "Mainboard", "next_step": "escalate",
                                            "escalation_reason": "Hardware"}, assignee="engineer")
    desk.work(tid, "work_line3", "engineer3", {"escalation_outcome": "return", "work_notes": "Not hardware"},
              outsider="engineer")
    # returned: back at identification, with the same engineer
    desk.work(tid, "identify", "engineer", {"diagnosis": "Driver", "next_step": "escalate",
                                            "escalation_reason": "Still failing"}, assignee="engineer")
    desk.work(tid, "work_line3", "engineer3", {"escalation_outcome": "solved", "resolution": "New driver",
                                               "needs_training": True}, outsider="engineer")
    data = desk.ticket(tid)["data"]
    assert (data["line"], data["escalated_from"], data["solved_by_line"]) == (2, 2, 3)
    desk.work(tid, "training", "engineer", {"training_format": "materials", "training_notes": "Sent a PDF"},
              assignee="engineer")
    desk.stage(tid, "confirm", assignee="requester", outsider="engineer")


def start_request(d: Desk, approver: str = "t_approver") -> int:
    ticket = d.start("service_request", subject="A second monitor")
    tid = ticket["id"]
    assert ticket["number"] == f"REQ-{tid}"
    d.work(tid, "register", "operator", {**REGISTER, "subject": "A second monitor", "channel": "portal"})
    d.work(tid, "plan", "operator", {"fulfilment_plan": "Order a 27\" monitor", "approver": approver,
                                     "planned_date": "2030-02-01", "estimated_cost": 249.9})
    return tid


def test_service_request_approved_fulfilled_and_confirmed(desk):
    tid = start_request(desk)
    desk.work(tid, "approve", "approver", {"approved": True, "approval_comment": "OK within budget"},
              assignee="approver", outsider="engineer")
    assert desk.ticket(tid)["data"]["approved"] is True
    desk.work(tid, "fulfil", "engineer", {"fulfilment_notes": "Delivered and connected"})
    desk.work(tid, "confirm", "requester", {"confirmed": False, "reopen_reason": "Wrong cable"},
              assignee="requester", outsider="engineer")
    desk.work(tid, "fulfil", "engineer", {"fulfilment_notes": "Swapped the cable"})
    desk.work(tid, "confirm", "requester", {"confirmed": True}, assignee="requester", outsider="engineer")
    ticket = desk.closed(tid)
    assert [s["element_id"] for s in ticket["stages"]] == [
        "register", "plan", "approve", "fulfil", "confirm", "fulfil", "confirm"]
    assert [s["lane"] for s in ticket["stages"]][:4] == ["Line 1", "Line 1", "Approvers", "Line 2"]


def test_service_request_rejected_closes_without_fulfilment(desk):
    tid = start_request(desk)
    desk.work(tid, "approve", "approver", {"approved": False, "approval_comment": "No budget this year"},
              assignee="approver", outsider="engineer")
    ticket = desk.closed(tid)
    assert [s["element_id"] for s in ticket["stages"]] == ["register", "plan", "approve"]
    assert (ticket["data"]["approved"], ticket["data"]["approval_comment"]) == (False, "No budget this year")


def test_subtask_with_review_sent_back_once(desk):
    ticket = desk.start("subtask", by="operator", subject="Check the toner stock",
                        data={"assignee": "t_engineer", "owner": "t_operator", "review_required": True})
    tid = ticket["id"]
    assert ticket["number"] == f"SUB-{tid}"
    desk.work(tid, "work", "engineer", {"result": "3 left", "time_spent_hours": 0.5}, assignee="engineer")
    # the owner reviews, even from another group; line 2 colleagues may not
    desk.work(tid, "review", "operator", {"accepted": False, "review_comment": "Which colours?"},
              assignee="operator", outsider="engineer3")
    desk.work(tid, "work", "engineer", {"result": "Black 2, cyan 1"}, assignee="engineer")
    desk.work(tid, "review", "operator", {"accepted": True}, assignee="operator", outsider="engineer3")
    ticket = desk.closed(tid)
    assert [s["element_id"] for s in ticket["stages"]] == ["work", "review", "work", "review"]
    assert (ticket["data"]["result"], ticket["data"]["time_spent_hours"]) == ("Black 2, cyan 1", 0.5)


def test_subtask_without_review_closes_after_the_work(desk):
    tid = desk.start("subtask", by="operator", subject="Check the toner stock",
                     data={"assignee": "t_engineer", "owner": "t_operator", "review_required": False})["id"]
    desk.work(tid, "work", "engineer", {"result": "Done"}, assignee="engineer")
    ticket = desk.closed(tid)
    assert [s["element_id"] for s in ticket["stages"]] == ["work"]


def test_shipped_forms_report_field_errors_and_keep_the_stage_open(desk):
    tid = desk.start()["id"]
    register = desk.stage(tid, "register")
    bad = desk.complete(register, "operator", {"subject": "ab", "channel": "fax", "contact_phone": "call me",
                                               "requester": "nobody"}, status=422)
    assert set(bad["errors"]) == {"subject", "description", "channel", "contact_phone", "requester"}
    assert all(isinstance(m, list) and m and all(isinstance(x, str) and x for x in m) for m in bad["errors"].values())
    desk.complete(register, "operator", REGISTER)
    classify = desk.stage(tid, "classify")
    bad = desk.complete(classify, "operator", {"category": "rumour", "impact": 7, "urgency": "high"}, status=422)
    assert set(bad["errors"]) == {"category", "impact", "urgency"}
    missing = desk.complete(classify, "operator", {"classification_note": "?"}, status=422)
    assert set(missing["errors"]) == {"category", "impact", "urgency"}
    ticket = desk.ticket(tid)
    assert ticket["priority"] is None and [s["element_id"] for s in ticket["open_stages"]] == ["classify"]
    assert [h["element_id"] for h in ticket["history"] if h["kind"] == "stage.completed"] == ["register"]
    desk.complete(classify, "operator", {"category": "incident", "impact": 1, "urgency": 2})
    assert desk.ticket(tid)["priority"] == "P2"
    assess = desk.stage(tid, "assess")
    desk.complete(assess, "operator", {"solve_at_line1": False})
    assign = desk.stage(tid, "assign")
    bad = desk.complete(assign, "engineer", {"engineer": "nobody"}, status=422)
    assert list(bad["errors"]) == ["engineer"]
    assert list(desk.complete(assign, "engineer", {}, status=422)["errors"]) == ["engineer"]


def test_completing_a_stage_twice_is_a_conflict(desk):
    tid = desk.start()["id"]
    register = desk.stage(tid, "register")
    desk.complete(register, "operator", REGISTER)
    again = desk.complete(register, "supervisor", REGISTER, status=409)
    assert again["completed_by"] == "t_operator" and again["completed_at"] and again["message"]
    again = desk.complete(register, "operator", REGISTER, status=409)
    assert again["completed_by"] == "t_operator"
    ticket = desk.ticket(tid)
    assert [(s["element_id"], s["status"]) for s in ticket["stages"]] == [("register", "done"), ("classify", "open")]
    assert [h["element_id"] for h in ticket["history"] if h["kind"] == "stage.completed"] == ["register"]


def test_registration_on_behalf_of_the_requester_updates_the_ticket(desk):
    """A phone call: the operator files the ticket and names the requester at registration;
    the ticket then belongs to that requester, who can read it and answer the engineer."""
    tid = desk.start(by="operator", subject="Phone call: printer")["id"]
    register_and_classify(desk, tid, impact=2, urgency=2)
    ticket = desk.ticket(tid)
    assert (ticket["requester"], ticket["description"], ticket["channel"]) == (
        "t_requester", REGISTER["description"], "phone")
    desk.work(tid, "assess", "operator", {})
    desk.work(tid, "assign", "engineer", {"engineer": "t_engineer"})
    desk.work(tid, "identify", "engineer", {"diagnosis": "?", "next_step": "ask_requester", "question": "Which one?"},
              assignee="engineer")
    assert desk.c["requester"].get(f"/tickets/{tid}").status_code == 200
    res = desk.c["requester"].post(f"/tickets/{tid}/messages", json={"body": "The HP on floor 3"})
    assert res.status_code == 201, res.get_json()
    assert res.get_json()["from_requester"] is True
    desk.stage(tid, "identify", assignee="engineer")


def test_history_field_diff_lists_only_fields_that_changed(desk):
    tid = desk.start()["id"]
    register_and_classify(desk, tid, impact=1, urgency=3)
    diffs = [h["data"]["changes"] for h in desk.ticket(tid)["history"] if h["kind"] == "fields.changed"]
    assert diffs and all(diffs)
    unchanged = {name: change for d in diffs for name, change in d.items() if change[0] == change[1]}
    assert unchanged == {}
