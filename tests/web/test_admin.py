"""The admin pages: users, groups, roles, managers and ticket templates (only manage_users)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Event, Group, Role, TicketTemplate, User
from app.services.templates import list_templates
from app.services.users import ensure_builtin_roles, find_user


@pytest.fixture(autouse=True)
def english(db):
    """The desk's default language is Russian; these tests read English."""
    from sqlalchemy import event

    def _english(_mapper, _conn, target):
        target.locale = target.locale or "en"

    event.listen(User, "before_insert", _english)
    yield
    event.remove(User, "before_insert", _english)


def html(res) -> str:
    return res.get_data(as_text=True)


def role_id(name: str) -> int:
    return ensure_builtin_roles()[name].id


def user_form(login: str, **extra) -> dict:
    data = {"login": login, "name": extra.pop("name", login.title()), "email": f"{login}@example.test",
            "phone": "", "password": "", "active": "y", "roles": [role_id("requester")], "groups": [],
            "manager": "", "locale": "", "timezone": ""}
    data.update(extra)
    return data


def test_only_manage_users_opens_the_admin_pages(web, make):
    staff = make.staff()
    pages = ("/admin/", "/admin/users", "/admin/users/new", "/admin/groups", "/admin/roles", "/admin/templates",
             "/admin/templates/new")
    admin = web.as_(staff["admin"])
    for path in pages:
        assert admin.get(path).status_code == 200, path
    assert 'aria-current="page" href="/admin/users"' in html(admin.get("/admin/users"))
    for who in ("supervisor", "operator", "procadmin", "requester"):
        browser = web.as_(staff[who])
        for path in pages:
            assert browser.get(path).status_code == 403, (who, path)
        assert browser.post("/admin/users/new", user_form("w_sneaky")).status_code == 403
    assert find_user("w_sneaky") is None
    res = web.as_(None).get("/admin/users")
    assert res.status_code == 302 and res.headers["Location"].startswith("/login")


def test_create_and_edit_a_user_with_roles_groups_manager_locale_and_time_zone(db, web, make):
    staff = make.staff()
    admin = web.as_(staff["admin"])
    engineer = db.session.execute(select(Role).where(Role.name == "engineer")).scalar()
    new_page = html(admin.get("/admin/users/new"))
    assert 'list="manager-logins"' in new_page and '<option value="t_supervisor">' in new_page
    g2 = db.session.execute(select(Group).where(Group.name == "Line 2")).scalar()
    res = admin.post("/admin/users/new", user_form(
        "w_new", name="Пётр Сидоров", phone="+7 343 000 00 00", password="password-123",
        roles=[engineer.id, role_id("requester")], groups=[g2.id], manager="t_supervisor", locale="en",
        timezone="Asia/Yekaterinburg"))
    assert res.status_code == 302, html(res)
    user = find_user("w_new")
    assert (user.name, user.phone, user.locale, user.timezone, user.manager.login) == (
        "Пётр Сидоров", "+7 343 000 00 00", "en", "Asia/Yekaterinburg", "t_supervisor")
    assert sorted(r.name for r in user.roles) == ["engineer", "requester"] and [g.name for g in user.groups] == ["Line 2"]
    assert web.as_(user).get("/profile").status_code == 200  # signs in with the password set here
    events = db.session.execute(select(Event).where(Event.kind == "admin.user.created")).scalars().all()
    assert events[-1].data["login"] == "w_new" and events[-1].actor.login == "t_admin"
    # the manager's page says whom they manage
    boss = find_user("t_supervisor")
    page = html(admin.get(f"/admin/users/{boss.id}"))
    team = page.split('id="team-title"')[1]
    assert "Manages" in team and "Пётр Сидоров" in team and "t_operator" in team and "t_engineer" in team
    # deactivate
    res = admin.post(f"/admin/users/{user.id}", user_form("w_new", name="Пётр Сидоров", active=""))
    assert res.status_code == 302
    db.session.refresh(user)
    assert user.active is False and user.manager_id is None


def test_validation_errors_are_shown_inline_with_what_was_typed(web, make):
    staff = make.staff()
    res = web.as_(staff["admin"]).post("/admin/users/new", user_form(
        "t_operator", name="Typed Name Kept", email="not-an-email", password="short"))
    page = html(res)
    assert res.status_code == 422
    assert "is taken" in page and "name@example.com" in page and "at least 8 characters" in page
    assert 'value="Typed Name Kept"' in page and 'aria-invalid="true"' in page


def test_manager_cycles_are_refused(db, web, make):
    staff = make.staff()
    boss = staff["supervisor"]
    res = web.as_(staff["admin"]).post(f"/admin/users/{boss.id}", user_form(
        "t_supervisor", roles=[role_id("supervisor")], manager="t_operator"))
    assert res.status_code == 422 and "cannot manage themselves" in html(res)
    db.session.refresh(boss)
    assert boss.manager_id is None


def test_the_last_admin_is_protected(db, web, make):
    admin_user = make.user("w_admin", roles=("admin",))
    browser = web.as_(admin_user)
    for data in (user_form("w_admin", roles=[role_id("operator")]),
                 user_form("w_admin", roles=[role_id("admin")], active="")):
        res = browser.post(f"/admin/users/{admin_user.id}", data)
        assert res.status_code == 422 and "last active person who may manage users" in html(res)
    db.session.refresh(admin_user)
    assert admin_user.active and "manage_users" in admin_user.permissions


def test_custom_role_permissions_are_exactly_what_they_say(db, web, make):
    staff = make.staff()
    admin = web.as_(staff["admin"])
    res = admin.post("/admin/roles/new", {"name": "Sprint planners", "permissions": ["manage_sprints", "read_tasks"]})
    assert res.status_code == 302, html(res)
    role = db.session.execute(select(Role).where(Role.name == "Sprint planners")).scalar()
    assert sorted(role.permissions) == ["manage_sprints", "read_tasks"] and not role.builtin
    planner = make.user("w_planner", roles=())
    assert admin.post(f"/admin/users/{planner.id}", user_form("w_planner", roles=[role.id])).status_code == 302
    browser = web.as_(planner)
    assert browser.get("/desk/sprints").status_code == 200
    res = browser.post("/desk/sprints/new", {"name": "Planned", "starts_on": "2030-01-01", "ends_on": "2030-01-10",
                                             "capacity": "30", "goal": ""})
    assert res.status_code == 302
    assert browser.get("/admin/").status_code == 403
    assert browser.get("/portal/new").status_code in (403, 404)  # no "add tasks"
    # taking a permission away takes effect at once
    admin.post(f"/admin/roles/{role.id}", {"name": "Sprint planners", "permissions": ["read_tasks"]})
    assert browser.post("/desk/sprints/new", {"name": "x"}).status_code == 403
    assert browser.get("/desk/sprints").status_code == 200
    # deleting the role leaves the user without its permissions
    assert admin.post(f"/admin/roles/{role.id}/delete").status_code == 302
    assert browser.get("/desk/sprints").status_code == 403


def test_builtin_roles_are_read_only(db, web, make):
    staff = make.staff()
    admin = web.as_(staff["admin"])
    operator_role = role_id("operator")
    page = html(admin.get(f"/admin/roles/{operator_role}"))
    assert "A built-in role" in page and f'action="/admin/roles/{operator_role}"' not in page
    res = admin.post(f"/admin/roles/{operator_role}", {"name": "operator", "permissions": ["manage_users"]})
    assert res.status_code == 302
    assert "manage_users" not in ensure_builtin_roles()["operator"].permissions
    res = admin.post(f"/admin/roles/{operator_role}/delete")
    assert res.status_code == 302
    assert "cannot be changed" in html(admin.get("/admin/roles"))


def test_groups_create_rename_and_delete_refused_while_work_waits(db, web, make):
    staff = make.staff()
    make.deploy_shipped()
    make.ticket(staff["operator"])  # a stage in the Line 1 queue
    admin = web.as_(staff["admin"])
    page = html(admin.get("/admin/groups"))
    assert "lane" in page  # the page says that a group named like a lane feeds its queue
    assert admin.post("/admin/groups", {"name": "Line 4"}).status_code == 302
    res = admin.post("/admin/groups", {"name": "line 4"})
    assert res.status_code == 422 and "exists already" in html(res)
    group = db.session.execute(select(Group).where(Group.name == "Line 4")).scalar()
    res = admin.post(f"/admin/groups/{group.id}/rename", {"name": ""})
    assert res.status_code == 422 and "1–128" in html(res)
    assert admin.post(f"/admin/groups/{group.id}/rename", {"name": "Field service"}).status_code == 302
    db.session.refresh(group)
    assert group.name == "Field service"
    assert admin.post(f"/admin/groups/{group.id}/delete").status_code == 302
    assert db.session.get(Group, group.id) is None
    line1 = db.session.execute(select(Group).where(Group.name == "Line 1")).scalar()
    res = admin.post(f"/admin/groups/{line1.id}/delete")
    assert res.status_code == 302
    assert "open stages are in the queue of Line 1" in html(admin.get("/admin/groups"))
    assert db.session.get(Group, line1.id) is not None


def test_ticket_templates_crud_order_and_deactivation(db, web, make):
    staff = make.staff()
    make.deploy_shipped()
    admin = web.as_(staff["admin"])
    line1 = db.session.execute(select(Group).where(Group.name == "Line 1")).scalar()
    form = {"name": "Printer jam", "process_key": "incident", "subject": "The printer jams",
            "description": "<p>Which printer?</p><img src=x onerror=alert(1)>", "service": "Printing",
            "category": "incident", "priority": "P3", "group_id": str(line1.id), "for_requesters": "y",
            "position": "10", "active": "y"}
    assert admin.post("/admin/templates/new", form).status_code == 302
    tpl = db.session.execute(select(TicketTemplate).where(TicketTemplate.name == "Printer jam")).scalar()
    assert (tpl.process_key, tpl.service, tpl.priority, tpl.group_id, tpl.for_requesters) == (
        "incident", "Printing", "P3", line1.id, True)
    assert "onerror" not in tpl.description
    bad = admin.post("/admin/templates/new", {**form, "name": "Other", "process_key": "nope", "priority": "P9"})
    assert bad.status_code == 422 and html(bad).count("Not a valid choice") == 2
    bad = admin.post("/admin/templates/new", {**form, "subject": "Kept as typed"})
    assert bad.status_code == 422 and "exists already" in html(bad) and 'value="Kept as typed"' in html(bad)
    assert admin.post("/admin/templates/new", {**form, "name": "New laptop", "process_key": "service_request",
                                                "group_id": "None", "for_requesters": "", "position": "20"}
                      ).status_code == 302
    assert [t.name for t in list_templates(for_requesters=False)] == ["Printer jam", "New laptop"]
    assert [t.name for t in list_templates(for_requesters=True)] == ["Printer jam"]
    laptop = db.session.execute(select(TicketTemplate).where(TicketTemplate.name == "New laptop")).scalar()
    admin.post(f"/admin/templates/{laptop.id}/move", {"direction": "up"})
    db.session.expire_all()
    assert [t.name for t in list_templates(for_requesters=False)] == ["New laptop", "Printer jam"]
    res = admin.post(f"/admin/templates/{tpl.id}", {**form, "subject": "Printer jams again", "priority": "P2"})
    assert res.status_code == 302
    db.session.refresh(tpl)
    assert (tpl.subject, tpl.priority) == ("Printer jams again", "P2")
    admin.post(f"/admin/templates/{tpl.id}/active", {"active": "0"})
    db.session.expire_all()
    assert [t.name for t in list_templates(for_requesters=False)] == ["New laptop"]
    assert "Inactive" in html(admin.get("/admin/templates"))
    admin.post(f"/admin/templates/{tpl.id}/active", {"active": "1"})
    db.session.expire_all()
    assert "Printer jam" in [t.name for t in list_templates(for_requesters=True)]


def test_user_list_search_and_pages(web, make):
    admin_user = make.user("w_admin", roles=("admin",))
    for i in range(3):
        make.user(f"w_person{i}")
    browser = web.as_(admin_user)
    page = html(browser.get("/admin/users?q=w_person"))
    table = page.split("<tbody>")[1].split("</tbody>")[0]
    assert all(f"w_person{i}" in table for i in range(3)) and "w_admin" not in table
    assert "Next page" not in page
