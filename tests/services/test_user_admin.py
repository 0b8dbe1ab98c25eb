"""Users, groups and roles as the admin page changes them (services.user_admin)."""
from __future__ import annotations

import pytest

from app.errors import Conflict, ValidationFailed
from app.permissions import MANAGE_USERS
from app.services import user_admin
from app.services.user_admin import UserFields
from app.services.users import check_password, ensure_builtin_roles


def _role_ids(*names):
    roles = ensure_builtin_roles()
    return tuple(roles[n].id for n in names)


def test_create_user_with_roles_groups_manager_and_password(db, make):
    admin = make.user("a_admin", roles=("admin",))
    boss = make.user("a_boss", roles=("supervisor",))
    line1 = user_admin.save_group(admin, None, "Line 1")
    user = user_admin.save_user(admin, None, UserFields(
        login="a_new", name="Анна Новикова", email="anna@example.test", phone="+7 900 000-00-00",
        password="secret-pass-1", role_ids=_role_ids("operator"), group_ids=(line1.id,), manager="a_boss",
        locale="en", timezone="Asia/Yekaterinburg"))
    assert (user.name, user.email, user.phone, user.locale, user.timezone) == (
        "Анна Новикова", "anna@example.test", "+7 900 000-00-00", "en", "Asia/Yekaterinburg")
    assert [r.name for r in user.roles] == ["operator"] and [g.name for g in user.groups] == ["Line 1"]
    assert user.manager_id == boss.id
    assert check_password("a_new", "secret-pass-1") is user
    assert [u.login for u in user_admin.direct_subordinates(boss)] == ["a_new"]


def test_every_problem_is_reported_by_field(db, make):
    admin = make.user("a_admin", roles=("admin",))
    make.user("a_taken")
    with pytest.raises(ValidationFailed) as err:
        user_admin.save_user(admin, None, UserFields(login="A_TAKEN", email="not-an-address", password="short",
                                                    manager="nobody_here", locale="xx", timezone="Mars/Base"))
    assert set(err.value.errors) == {"login", "email", "password", "manager", "locale", "timezone"}


def test_password_left_empty_keeps_the_current_one(db, make):
    admin = make.user("a_admin", roles=("admin",))
    user = make.user("a_user")
    user_admin.save_user(admin, user, UserFields(login="a_user", name="Renamed", role_ids=_role_ids("requester")))
    assert check_password("a_user", "password-123") is user and user.name == "Renamed"


def test_manager_cycles_are_refused_directly_and_through_the_chain(db, make):
    admin = make.user("a_admin", roles=("admin",))
    top = make.user("a_top", roles=("supervisor",))
    mid = make.user("a_mid", roles=("supervisor",), manager="a_top")
    low = make.user("a_low", roles=("engineer",), manager="a_mid")
    for user, boss in ((top, "a_top"), (top, "a_low"), (mid, "a_low")):
        with pytest.raises(ValidationFailed) as err:
            user_admin.save_user(admin, user, UserFields(login=user.login, role_ids=_role_ids("supervisor"),
                                                        manager=boss))
        assert "manager" in err.value.errors
    assert user_admin.subordinate_ids(top) == {mid.id, low.id}
    # moving someone to another branch is fine
    user_admin.save_user(admin, low, UserFields(login="a_low", role_ids=_role_ids("engineer"), manager="a_top"))
    assert low.manager_id == top.id


def test_the_last_admin_keeps_manage_users_and_stays_active(db, make):
    admin = make.user("a_only_admin", roles=("admin",))
    for fields in (UserFields(login="a_only_admin", role_ids=_role_ids("operator")),
                   UserFields(login="a_only_admin", role_ids=_role_ids("admin"), active=False)):
        with pytest.raises(ValidationFailed) as err:
            user_admin.save_user(admin, admin, fields)
        assert "manage users" in err.value.errors["_form"][0]
    # with a second admin the first may step down
    make.user("a_second_admin", roles=("admin",))
    user_admin.save_user(admin, admin, UserFields(login="a_only_admin", role_ids=_role_ids("operator")))
    assert MANAGE_USERS not in admin.permissions


def test_the_last_admin_cannot_lose_manage_users_through_a_custom_role(db, make):
    from app.models import Role

    keeper = make.user("a_keeper", roles=("requester",))
    role = Role(name="User keepers", builtin=False, permissions=[MANAGE_USERS, "read_tasks"])
    db.session.add(role)
    keeper.roles = [role]
    db.session.flush()
    with pytest.raises(ValidationFailed):
        user_admin.save_role(keeper, role, "User keepers", ["read_tasks"])
    with pytest.raises(ValidationFailed):
        user_admin.delete_role(keeper, role)
    user_admin.save_role(keeper, role, "User keepers", [MANAGE_USERS])
    assert sorted(role.permissions) == [MANAGE_USERS]


def test_builtin_roles_are_read_only_and_custom_roles_are_checked(db, make):
    admin = make.user("a_admin", roles=("admin",))
    builtin = ensure_builtin_roles()["operator"]
    with pytest.raises(Conflict):
        user_admin.save_role(admin, builtin, "operator", ["read_tasks"])
    with pytest.raises(Conflict):
        user_admin.delete_role(admin, builtin)
    with pytest.raises(ValidationFailed) as err:
        user_admin.save_role(admin, None, "Operator", ["fly"])
    assert set(err.value.errors) == {"name", "permissions"}
    role = user_admin.save_role(admin, None, "Night shift", ["read_tasks", "execute_tasks"])
    assert role.builtin is False
    user_admin.delete_role(admin, role)
    assert all(r.name != "Night shift" for r in user_admin.list_roles())


def test_groups_create_rename_and_delete_only_when_their_queue_is_empty(db, make):
    staff = make.staff()
    make.deploy_shipped()
    admin = staff["admin"]
    make.ticket(staff["operator"], subject="Mail is down")  # opens "Registration" in the Line 1 queue
    rows = {r.group.name: r for r in user_admin.list_groups()}
    assert rows["Line 1"].open_items == 1 and rows["Line 1"].members == 2
    with pytest.raises(Conflict) as err:
        user_admin.delete_group(admin, rows["Line 1"].group)
    assert "open stages" in str(err.value.message)
    with pytest.raises(ValidationFailed):
        user_admin.save_group(admin, None, "line 2")  # names are unique, whatever the case
    spare = user_admin.save_group(admin, None, "Line 5")
    user_admin.save_group(admin, spare, "Line 6")
    assert spare.name == "Line 6"
    user_admin.delete_group(admin, spare)
    assert "Line 6" not in {r.group.name for r in user_admin.list_groups()}


def test_user_search_and_keyset_pages(db, make):
    for i in range(5):
        make.user(f"a_page{i}", roles=("requester",))
    first, cursor = user_admin.list_users(q="a_page", limit=2)
    assert [u.login for u in first] == ["a_page0", "a_page1"] and cursor == "a_page1"
    second, cursor = user_admin.list_users(q="a_page", after=cursor, limit=2)
    assert [u.login for u in second] == ["a_page2", "a_page3"]
    last, cursor = user_admin.list_users(q="a_page", after=cursor, limit=2)
    assert [u.login for u in last] == ["a_page4"] and cursor is None
    found, _ = user_admin.list_users(q="A_PAGE3@EXAMPLE")
    assert [u.login for u in found] == ["a_page3"]


def fields(user, **changes) -> UserFields:
    """The admin form as it would come back for ``user``, with ``changes``."""
    base = dict(login=user.login, name=user.name, role_ids=tuple(r.id for r in user.roles),
                group_ids=tuple(g.id for g in user.groups))
    return UserFields(**{**base, **changes})


def test_nobody_hands_out_permissions_they_do_not_hold(db, make):
    """A custom role with "manage users" only cannot promote itself, create a stronger role,
    or change the account of someone who holds more (e.g. reset a full admin's password)."""
    from app.errors import Forbidden as NotAllowed
    from app.models import Role
    from app.permissions import MANAGE_USERS, VIEW_REPORTS

    from sqlalchemy import select

    keeper_role = Role(name="User keeper", builtin=False, permissions=[MANAGE_USERS])
    db.session.add(keeper_role)
    db.session.flush()
    keeper = make.user("k_keeper", roles=())
    keeper.roles = [keeper_role]
    full_admin = make.user("k_admin", roles=("admin",))
    db.session.commit()
    admin_role = db.session.execute(select(Role).where(Role.name == "admin")).scalar_one()

    with pytest.raises(ValidationFailed) as err:
        user_admin.save_role(keeper, None, "Everything", [MANAGE_USERS, VIEW_REPORTS])
    assert "view_reports" in str(err.value.errors["permissions"])
    with pytest.raises(ValidationFailed) as err:
        user_admin.save_user(keeper, keeper, fields(keeper, role_ids=[admin_role.id, keeper_role.id]))
    assert "roles" in err.value.errors
    with pytest.raises(NotAllowed):
        user_admin.save_user(keeper, full_admin, fields(full_admin, password="new-password-1"))
    # within what they hold, they may: a role of their own permissions, a plain account
    assert user_admin.save_role(keeper, None, "Keepers too", [MANAGE_USERS]).permissions == [MANAGE_USERS]
