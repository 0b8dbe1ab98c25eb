"""Ids typed or forged in URLs and forms never crash a page: Unicode digits ("²"), numbers far
beyond an INTEGER column, forged page cursors — each is an unknown id (404), an ignored filter
or a clear 400/422, never a 500."""
from __future__ import annotations

import base64
import json

import pytest

HUGE = "9" * 30
WEIRD = ("²", HUGE, "-1", "1e3", "0x10")


def cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.fixture()
def people(db, make):
    staff = make.staff()
    make.deploy_shipped()
    return staff


def test_unknown_ids_in_routes_are_404(web, people):
    admin = web.as_(people["admin"])
    for path in (f"/desk/tickets/{HUGE}", f"/files/{HUGE}", f"/portal/tickets/{HUGE}", f"/api/v1/tickets/{HUGE}"):
        assert admin.get(path).status_code in (401, 404), path


@pytest.mark.parametrize("value", WEIRD)
def test_weird_ids_in_query_strings_and_forms(web, people, value):
    supervisor = web.as_(people["supervisor"])
    requester = web.as_(people["requester"])
    admin = web.as_(people["admin"])
    answers = [
        requester.get(f"/portal/?before={value}"),
        requester.get(f"/portal/new?template={value}"),
        requester.post("/portal/new", {"template_id": value, "subject": "x"}),
        supervisor.get(f"/desk/register?template={value}"),
        supervisor.get(f"/desk/?tab=others&group={value}"),
        supervisor.get(f"/desk/?tab=others&q={value}"),
        supervisor.post("/desk/assign", {"item": value, "assignee": "-"}),
        admin.post("/admin/users/new", {"login": "x_user", "roles": value, "groups": value}),
    ]
    from datetime import date

    from app.services.sprints import save_sprint

    ticket = web.make.ticket(people["requester"])
    sprint = save_sprint(people["supervisor"], None, name="S1", starts_on=date(2030, 1, 1), ends_on=date(2030, 1, 14),
                         capacity=40)
    answers.append(supervisor.get(f"/desk/tickets/{ticket.id}?history_before={value}"))
    answers.append(supervisor.post(f"/desk/sprints/{sprint.id}/tickets", {"ticket": value, "estimate": "4"}))
    for res in answers:
        assert res.status_code < 500, res.request.path


def test_forged_page_cursors_are_400(web, people):
    supervisor = web.as_(people["supervisor"])
    for values in (["newest", 10**30], ["newest", True], ["oldest", -5], ["newest", "1"]):
        res = supervisor.get(f"/desk/?tab=others&after={cursor(values)}")
        assert res.status_code == 400, values
