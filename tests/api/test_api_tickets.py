"""The REST API end to end on a small diagram: start, complete, wait for the requester, close."""
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture()
def desk(db, make):
    staff = make.staff()
    make.deploy({p.name: p.read_bytes() for p in sorted(DATA.glob("mini*"))}, staff["procadmin"])
    return staff


def open_stage(body, element_id):
    stages = [s for s in body["open_stages"] if s["element_id"] == element_id]
    assert stages, f"no open stage {element_id} in {[s['element_id'] for s in body['open_stages']]}"
    return stages[0]


def test_requests_without_a_valid_token_are_refused(client, desk):
    assert client.get("/api/v1/tasks").status_code == 401
    bad = client.get("/api/v1/tasks", headers={"Authorization": "Bearer sd_nope"})
    assert bad.status_code == 401
    assert bad.get_json()["message"]


def test_start_ticket_returns_number_and_painted_first_stage(api, desk):
    res = api.as_(desk["requester"]).post("/tickets", json={
        "process": "mini", "subject": "VPN does not connect", "description": "<p>Since <b>Monday</b><script>x()</script></p>"})
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["number"] == f"MIN-{body['id']}"
    assert body["status"] == "open"
    assert body["process"] == {"key": "mini", "version": 1}
    assert "<script>" not in body["description"] and "<b>Monday</b>" in body["description"]
    stage = open_stage(body, "triage")
    assert (stage["color"], stage["background"], stage["icon"], stage["state"], stage["lane"]) == (
        "#1E88E5", "#E3F2FD", "headset", "open", "Line 1")
    assert body["requester"] == "t_requester"


def test_unknown_process_and_missing_subject_are_field_errors(api, desk):
    res = api.as_(desk["requester"]).post("/tickets", json={"process": "nope", "subject": "x"})
    assert res.status_code == 422
    assert "process" in res.get_json()["errors"]
    res = api.as_(desk["requester"]).post("/tickets", json={"process": "mini"})
    assert res.status_code == 422
    assert "subject" in res.get_json()["errors"]


def test_requester_may_not_file_for_someone_else(api, desk):
    res = api.as_(desk["stranger"]).post("/tickets", json={"process": "mini", "subject": "x",
                                                           "requester": "t_requester"})
    assert res.status_code == 422
    assert "requester" in res.get_json()["errors"]


def test_task_detail_has_stage_and_form_and_form_errors_are_per_field(api, desk):
    body = api.as_(desk["requester"]).post("/tickets", json={"process": "mini", "subject": "Mail"}).get_json()
    task_id = open_stage(body, "triage")["task_id"]
    op = api.as_(desk["operator"])
    detail = op.get(f"/tasks/{task_id}").get_json()
    assert detail["stage"] == {"state": "open", "color": "#1E88E5", "background": "#E3F2FD", "icon": "headset"}
    assert detail["form"]["name"] == "mini_triage.json"
    assert set(detail["form"]["schema"]["properties"]) == {"priority", "category", "solve_at_line1"}
    bad = op.post(f"/tasks/{task_id}/complete", json={"data": {"priority": "P9"}})
    assert bad.status_code == 422
    errors = bad.get_json()["errors"]
    assert list(errors) == ["priority"] and errors["priority"]


def test_only_permitted_users_may_complete_and_see(api, desk):
    body = api.as_(desk["requester"]).post("/tickets", json={"process": "mini", "subject": "Mail"}).get_json()
    task_id = open_stage(body, "triage")["task_id"]
    data = {"data": {"priority": "P3", "solve_at_line1": False}}
    assert api.as_(desk["stranger"]).post(f"/tasks/{task_id}/complete", json=data).status_code == 403
    assert api.as_(desk["engineer"]).post(f"/tasks/{task_id}/complete", json=data).status_code == 403
    assert api.as_(desk["requester"]).post(f"/tasks/{task_id}/complete", json=data).status_code == 403
    assert api.as_(desk["stranger"]).get(f"/tickets/{body['id']}").status_code == 403
    assert api.as_(desk["operator"]).post(f"/tasks/{task_id}/complete", json=data).status_code == 200


def test_second_completion_is_a_conflict_naming_who_and_when(api, desk):
    body = api.as_(desk["requester"]).post("/tickets", json={"process": "mini", "subject": "Mail"}).get_json()
    task_id = open_stage(body, "triage")["task_id"]
    data = {"data": {"priority": "P3", "solve_at_line1": False}}
    assert api.as_(desk["operator"]).post(f"/tasks/{task_id}/complete", json=data).status_code == 200
    again = api.as_(desk["supervisor"]).post(f"/tasks/{task_id}/complete", json=data)
    assert again.status_code == 409
    conflict = again.get_json()
    assert conflict["completed_by"] == "t_operator" and conflict["completed_at"]
    assert "Олег" in conflict["message"] or "t_operator" in conflict["message"]


def test_full_flow_with_requester_question_and_reopen(api, desk):
    req, op, eng = api.as_(desk["requester"]), api.as_(desk["operator"]), api.as_(desk["engineer"])
    ticket = req.post("/tickets", json={"process": "mini", "subject": "Laptop is slow"}).get_json()
    tid = ticket["id"]
    assert op.post(f"/tasks/{open_stage(ticket, 'triage')['task_id']}/complete",
                   json={"data": {"priority": "P2", "solve_at_line1": False}}).status_code == 200
    ticket = eng.get(f"/tickets/{tid}").get_json()
    assert ticket["priority"] == "P2" and ticket["status"] == "in_progress"
    resolve = open_stage(ticket, "resolve")
    assert resolve["lane"] == "Line 2"
    # line 2 sees it in the group queue
    queue = eng.get("/tasks?scope=group").get_json()
    assert resolve["task_id"] in [t["id"] for t in queue["items"]]
    res = eng.post(f"/tasks/{resolve['task_id']}/complete", json={"data": {"question": "Which model?"}})
    assert res.status_code == 200, res.get_json()
    ticket = eng.get(f"/tickets/{tid}").get_json()
    assert ticket["status"] == "waiting"
    open_stage(ticket, "wait")
    # the requester answers: the waiting stage is cancelled by the message and work goes back to line 2
    msg = req.post(f"/tickets/{tid}/messages", json={"body": "A ThinkPad T14"})
    assert msg.status_code == 201, msg.get_json()
    ticket = eng.get(f"/tickets/{tid}").get_json()
    assert [s["status"] for s in ticket["stages"] if s["element_id"] == "wait"] == ["cancelled"]
    resolve = open_stage(ticket, "resolve")
    assert eng.post(f"/tasks/{resolve['task_id']}/complete",
                    json={"data": {"question": "", "resolution": "Replaced the disk"}}).status_code == 200
    ticket = req.get(f"/tickets/{tid}").get_json()
    confirm = open_stage(ticket, "confirm")
    assert confirm["assignee"] == "t_requester" and ticket["status"] == "resolved"
    # the requester reopens once, then confirms and rates
    assert req.post(f"/tasks/{confirm['task_id']}/complete", json={"data": {"confirmed": False}}).status_code == 200
    ticket = eng.get(f"/tickets/{tid}").get_json()
    resolve = open_stage(ticket, "resolve")
    assert eng.post(f"/tasks/{resolve['task_id']}/complete",
                    json={"data": {"question": "", "resolution": "Replaced the RAM too"}}).status_code == 200
    confirm = open_stage(req.get(f"/tickets/{tid}").get_json(), "confirm")
    done = req.post(f"/tasks/{confirm['task_id']}/complete", json={"data": {"confirmed": True, "rating": 5}})
    assert done.status_code == 200
    ticket = req.get(f"/tickets/{tid}").get_json()
    assert ticket["closed"] is True and ticket["status"] == "closed" and ticket["open_stages"] == []
    kinds = [h["kind"] for h in ticket["history"]]
    assert kinds[0] == "ticket.created" and "message.delivered" in kinds and kinds[-1] in (
        "instance.finished", "status.changed", "stage.completed")
    changes = [h["data"]["changes"] for h in ticket["history"] if h["kind"] == "fields.changed"]
    assert any(c.get("priority") == [None, "P2"] for c in changes)


def test_message_sent_before_the_process_waits_is_kept_and_delivered_later(api, desk):
    req, op, eng = api.as_(desk["requester"]), api.as_(desk["operator"]), api.as_(desk["engineer"])
    ticket = req.post("/tickets", json={"process": "mini", "subject": "Printer"}).get_json()
    tid = ticket["id"]
    # the requester writes early: nothing waits for it yet
    assert req.post(f"/tickets/{tid}/messages", json={"body": "It's the 3rd floor"}).status_code == 201
    op.post(f"/tasks/{open_stage(ticket, 'triage')['task_id']}/complete",
            json={"data": {"priority": "P3", "solve_at_line1": False}})
    resolve = open_stage(eng.get(f"/tickets/{tid}").get_json(), "resolve")
    eng.post(f"/tasks/{resolve['task_id']}/complete", json={"data": {"question": "Which floor?"}})
    ticket = eng.get(f"/tickets/{tid}").get_json()
    # the kept message woke the waiting stage at once
    assert [s["status"] for s in ticket["stages"] if s["element_id"] == "wait"] == ["cancelled"]
    open_stage(ticket, "resolve")


def test_staff_notes_are_hidden_from_the_requester(api, desk):
    req, eng = api.as_(desk["requester"]), api.as_(desk["supervisor"])
    tid = req.post("/tickets", json={"process": "mini", "subject": "Printer"}).get_json()["id"]
    assert eng.post(f"/tickets/{tid}/messages", json={"body": "internal", "internal": True}).status_code == 201
    assert eng.post(f"/tickets/{tid}/messages", json={"body": "<img src=x onerror=alert(1)>hello"}).status_code == 201
    mine = req.get(f"/tickets/{tid}/messages").get_json()
    assert [m["internal"] for m in mine] == [False]
    assert "onerror" not in mine[0]["body"]
    assert req.post(f"/tickets/{tid}/messages", json={"body": "x", "internal": True}).status_code == 403


def test_task_scopes_and_permissions(api, desk):
    req = api.as_(desk["requester"])
    req.post("/tickets", json={"process": "mini", "subject": "A"})
    assert api.as_(desk["operator"]).get("/tasks?scope=unassigned").get_json()["items"]
    assert api.as_(desk["requester"]).get("/tasks?scope=unassigned").status_code == 403
    assert api.as_(desk["requester"]).get("/tasks?scope=group").status_code == 403
    assert api.as_(desk["requester"]).get("/tasks?scope=mine").get_json() == {"items": [], "next": None}
    assert api.as_(desk["operator"]).get("/tasks?scope=bogus").status_code == 422


def test_keyset_pagination(api, desk):
    req = api.as_(desk["requester"])
    for n in range(5):
        req.post("/tickets", json={"process": "mini", "subject": f"T{n}"})
    op = api.as_(desk["operator"])
    first = op.get("/tasks?scope=group&limit=2").get_json()
    second = op.get(f"/tasks?scope=group&limit=2&cursor={first['next']}").get_json()
    third = op.get(f"/tasks?scope=group&limit=2&cursor={second['next']}").get_json()
    ids = [t["id"] for page in (first, second, third) for t in page["items"]]
    assert len(ids) == 5 == len(set(ids)) and ids == sorted(ids, reverse=True)
    assert third["next"] is None


def test_instances_monitoring(api, desk):
    tid = api.as_(desk["requester"]).post("/tickets", json={"process": "mini", "subject": "A"}).get_json()["id"]
    sup = api.as_(desk["supervisor"])
    listing = sup.get("/instances?status=running&process=mini").get_json()
    assert [i["ticket_id"] for i in listing["items"]] == [tid]
    detail = sup.get(f"/instances/{listing['items'][0]['id']}").get_json()
    assert detail["tokens"] == ["triage"]
    assert detail["history"][0]["kind"] == "ticket.created"
    assert api.as_(desk["requester"]).get("/instances").status_code == 403


def test_openapi_document_is_served(client):
    res = client.get("/api/v1/openapi.json")
    assert res.status_code == 200
    paths = res.get_json()["paths"]
    for path in ("/api/v1/process-definitions", "/api/v1/tickets", "/api/v1/tasks/{task_id}/complete",
                 "/api/v1/instances/{instance_id}", "/api/v1/tickets/{ticket_id}/messages"):
        assert path in paths


def test_process_fields_longer_than_their_columns_are_cut_not_a_500(api, desk):
    """A stage's form may allow longer text than the ticket column it feeds."""
    req, op = api.as_(desk["requester"]), api.as_(desk["operator"])
    ticket = req.post("/tickets", json={"process": "mini", "subject": "Long"}).get_json()
    from app.extensions import db
    from app.models import Ticket
    from app.services import steps

    row = db.session.get(Ticket, ticket["id"])
    steps._sync_ticket_fields(row, {"priority": (None, "P" * 40), "category": (None, "c" * 300)})
    db.session.flush()
    assert row.priority == "P" * 16 and row.category == "c" * 64
    assert op.get(f"/tickets/{ticket['id']}").status_code == 200
