"""Factories for test data, and a small REST API client."""
from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_seq = itertools.count(1)


class Factories:
    """Test data, committed as it is made (inside the test's outer transaction, which is still
    rolled back afterwards): a refused request rolls its own work back, never the setup."""

    def __init__(self, db):
        self.db = db

    def _saved(self, obj):
        self.db.session.commit()
        return obj

    def user(self, login: str | None = None, *, roles: tuple[str, ...] = ("requester",),
             groups: tuple[str, ...] = (), manager: str | None = None, password: str = "password-123"):
        from app.services.users import save_user

        login = login or f"user{next(_seq)}"
        return self._saved(save_user(login, password=password, roles=list(roles), groups=list(groups),
                                     manager=manager, email=f"{login}@example.test"))

    def staff(self):
        """The demo cast: one user per role, in the groups the shipped diagrams use."""
        return {
            "admin": self.user("t_admin", roles=("admin",)),
            "procadmin": self.user("t_procadmin", roles=("process_admin",)),
            "supervisor": self.user("t_supervisor", roles=("supervisor",), groups=("Line 1", "Line 2", "Line 3")),
            "operator": self.user("t_operator", roles=("operator",), groups=("Line 1",), manager="t_supervisor"),
            "engineer": self.user("t_engineer", roles=("engineer",), groups=("Line 2",), manager="t_supervisor"),
            "engineer3": self.user("t_engineer3", roles=("engineer",), groups=("Line 3",)),
            "vendor": self.user("t_vendor", roles=("engineer",), groups=("Vendor",)),
            "approver": self.user("t_approver", roles=("engineer",), groups=("Approvers",)),
            "requester": self.user("t_requester", roles=("requester",), manager="t_supervisor"),
            "stranger": self.user("t_stranger", roles=("requester",)),
        }

    def token(self, user) -> str:
        from app.services.users import issue_token

        return self._saved(issue_token(user, "test"))

    def deploy(self, files: dict[str, bytes], actor=None):
        from app.services.definitions import deploy_files

        return self._saved(deploy_files(files, actor))

    def deploy_shipped(self, actor=None):
        files = {p.name: p.read_bytes() for d in ("bpmn", "forms") for p in sorted((ROOT / d).iterdir())
                 if p.suffix in (".bpmn", ".json")}
        return self.deploy(files, actor)

    def ticket(self, actor, process: str = "incident", **kwargs: Any):
        from app.services.tickets import create_ticket

        kwargs.setdefault("subject", f"Printer on floor {next(_seq)} is jammed")
        return self._saved(create_ticket(actor, process=process, **kwargs))


    def stage(self, requester, *, assignee=None, group: str | None = "Line 1", priority: str | None = None,
              due=None, subject: str | None = None, process: str = "incident"):
        """A new ticket's open first stage, then placed as the test needs (assignee, group
        queue, priority, due time). Needs the process deployed (``deploy_shipped``)."""
        from sqlalchemy import select

        from app.models import WorkItem
        from app.services.users import ensure_group

        ticket = self.ticket(requester, process=process, **({"subject": subject} if subject else {}))
        item = self.db.session.execute(select(WorkItem).where(
            WorkItem.ticket_id == ticket.id, WorkItem.status == "open")).scalar_one()
        item.assignee_id = assignee.id if assignee else None
        item.group_id = ensure_group(group).id if group else None
        item.due_at = due
        ticket.priority = priority
        self.db.session.commit()
        return item


class ApiClient:
    def __init__(self, client, make: Factories):
        self.client = client
        self.make = make
        self._tokens: dict[int, str] = {}
        self.user = None

    def as_(self, user) -> "ApiClient":
        other = ApiClient(self.client, self.make)
        other._tokens = self._tokens
        other.user = user
        if user.id not in self._tokens:
            self._tokens[user.id] = self.make.token(user)
        return other

    def _headers(self, extra: dict | None = None) -> dict:
        headers = dict(extra or {})
        if self.user is not None:
            headers["Authorization"] = f"Bearer {self._tokens[self.user.id]}"
        return headers

    def get(self, path: str, **kw):
        self.make.db.session.commit()  # whatever the test set up is in the database, as for a real client
        return self.client.get(f"/api/v1{path}", headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, **kw):
        self.make.db.session.commit()
        return self.client.post(f"/api/v1{path}", headers=self._headers(kw.pop("headers", None)), **kw)


class WebClient:
    """The web pages as a signed-in person (or anonymous): signs in through the login form
    once per user and adds the CSRF token to every form post."""

    _CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')

    def __init__(self, client, make: Factories, user=None):
        self.client = client
        self.make = make
        self.user = user

    def as_(self, user) -> "WebClient":
        """A fresh browser (its own cookies) signed in as ``user`` (None: anonymous)."""
        other = WebClient(self.client.application.test_client(), self.make, user)
        # the desk's default language is Russian; tests read English unless they switch
        other.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        if user is not None:
            self.make.db.session.commit()
            token = other.csrf()
            self._new_request()
            res = other.client.post("/login", data={"login": user.login, "password": "password-123",
                                                    "csrf_token": token})
            assert res.status_code == 302, f"signing in as {user.login} failed: {res.status_code}"
        return other

    @staticmethod
    def _new_request() -> None:
        """Tests run requests inside their own app context, which Flask then shares with every
        request: forget the user and the language the previous request (another browser) set."""
        import flask_babel
        from flask import g, has_app_context

        if has_app_context():
            for key in ("_login_user", "csrf_token"):  # Flask-Login's user, Flask-WTF's token
                g.pop(key, None)
            flask_babel.refresh()

    def csrf(self) -> str:
        self._new_request()
        page = self.client.get("/login").get_data(as_text=True)
        match = self._CSRF.search(page)
        assert match, "no CSRF token on the login page"
        return match.group(1)

    def get(self, path: str, **kw):
        self.make.db.session.commit()  # what the test set up is in the database, as for a real browser
        self._new_request()
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw):
        self.make.db.session.commit()
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf())
        self._new_request()
        return self.client.post(path, data=data, **kw)
