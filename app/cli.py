"""`flask --app app …` commands (DESIGN §10): the same services as the web."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import click
from flask import Flask, current_app

from .errors import AppError
from .extensions import db

ROOT = Path(__file__).resolve().parent.parent
DEPLOYABLE = (".bpmn", ".dmn", ".json", ".zip", ".xml")
#: name, process, subject, service, category, priority
DEMO_TEMPLATES = (
    ("Не печатает принтер", "incident", "Принтер не печатает", "Печать", "incident", "P3"),
    ("Сброс пароля", "incident", "Не могу войти: нужен сброс пароля", "Учётные записи", "incident", "P2"),
    ("Нет доступа к сети", "incident", "Нет доступа к сети", "Сеть", "incident", "P2"),
    ("Новое рабочее место", "service_request", "Подготовить рабочее место для нового сотрудника",
     "Рабочие места", "service_request", "P4"),
)
DEMO_USERS = (
    # login, role, groups, manager, display name
    ("admin", "admin", (), None, "Администратор"),
    ("procadmin", "process_admin", (), None, "Process Admin"),
    ("supervisor", "supervisor", ("Line 1", "Line 2", "Line 3"), None, "Ирина Руководитель"),
    ("operator", "operator", ("Line 1",), "supervisor", "Олег Оператор"),
    ("engineer", "engineer", ("Line 2",), "supervisor", "Егор Инженер"),
    ("engineer3", "engineer", ("Line 3",), "supervisor", "Elena Expert"),
    ("vendor", "engineer", ("Vendor",), None, "Vendor Support"),
    ("approver", "engineer", ("Approvers",), None, "Анна Согласующая"),
    ("requester", "requester", (), "supervisor", "Роман Пользователь"),
)


def _collect(paths: tuple[str, ...]) -> dict[str, bytes]:
    """Files named on the command line as they are (an unknown type is reported, not
    dropped); from folders, the deployable ones."""
    files: dict[str, bytes] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for p in sorted(p for p in path.rglob("*") if p.is_file()):
                if p.suffix.lower() in DEPLOYABLE and p.name != "package.json":
                    files[p.name] = p.read_bytes()
        else:
            files[path.name] = path.read_bytes()
    return files


def _print_problems(err: AppError) -> None:
    click.echo(f"error: {err.message}", err=True)
    for p in err.errors or []:
        where = " · ".join(str(x) for x in (p.get("file"), p.get("element_name") or p.get("element_id"),
                                             f"line {p['line']}" if p.get("line") else None) if x)
        click.echo(f"  - {where}: {p.get('message')}", err=True)


def deploy_paths(paths: tuple[str, ...], actor_login: str | None = None) -> list[dict]:
    from .services.definitions import deploy_files
    from .services.users import find_user

    actor = find_user(actor_login) if actor_login else None
    outcome = deploy_files(_collect(paths), actor)
    return outcome.processes


def register_cli(app: Flask) -> None:
    @app.cli.command("deploy")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
    @click.option("--as", "actor", default=None, help="Login recorded as the deployer.")
    def deploy(paths, actor):
        """Deploy .bpmn/.dmn/.json files, folders or a .zip bundle as new versions."""
        try:
            processes = deploy_paths(paths, actor)
            db.session.commit()
        except AppError as err:
            db.session.rollback()
            _print_problems(err)
            sys.exit(1)
        for p in processes:
            click.echo(f"{p['key']} v{p['version']} ({'new version' if p['created'] else 'unchanged'})")

    @app.cli.group("user")
    def user_group():
        """Manage users."""

    @user_group.command("add")
    @click.argument("login")
    @click.option("--password", default=None)
    @click.option("--name", default=None)
    @click.option("--email", default=None)
    @click.option("--role", "roles", multiple=True)
    @click.option("--group", "groups", multiple=True)
    @click.option("--manager", default=None)
    def user_add(login, password, name, email, roles, groups, manager):
        """Create or update a user."""
        from .services.users import save_user

        try:
            user = save_user(login, password=password, name=name, email=email, roles=list(roles) or None,
                             groups=list(groups) or None, manager=manager)
            db.session.commit()
        except AppError as err:
            db.session.rollback()
            click.echo(f"error: {err.message} {json.dumps(err.errors, ensure_ascii=False) if err.errors else ''}",
                       err=True)
            sys.exit(1)
        click.echo(f"user {user.login}: roles {', '.join(r.name for r in user.roles) or '-'}; "
                   f"groups {', '.join(g.name for g in user.groups) or '-'}")

    @app.cli.command("token")
    @click.argument("login")
    @click.option("--name", default="cli")
    def token(login, name):
        """Print a new API token for LOGIN."""
        from .services.users import find_user, issue_token

        user = find_user(login)
        if user is None:
            click.echo(f"error: there is no user {login}", err=True)
            sys.exit(1)
        value = issue_token(user, name)
        db.session.commit()
        click.echo(value)

    def _demo_templates() -> int:
        """A few templates of frequent requests, once (in the desk's default language, Russian)."""
        from sqlalchemy import func, select

        from .models import Group, TicketTemplate

        if db.session.execute(select(func.count()).select_from(TicketTemplate)).scalar():
            return 0
        line1 = db.session.execute(select(Group.id).where(Group.name == "Line 1")).scalar()
        for position, (name, process, subject, service, category, priority) in enumerate(DEMO_TEMPLATES):
            db.session.add(TicketTemplate(name=name, process_key=process, subject=subject, service=service,
                                          category=category, priority=priority, group_id=line1,
                                          for_requesters=True, position=position, active=True))
        return len(DEMO_TEMPLATES)

    @app.cli.command("demo")
    def demo():
        """Load the shipped diagrams, forms and demo users (idempotent)."""
        from .services.users import ensure_builtin_roles, find_user, save_user

        ensure_builtin_roles()
        created = set()
        for login, role, groups, manager, display in DEMO_USERS:
            exists = find_user(login) is not None
            if not exists:
                created.add(login)
            save_user(login, password=None if exists else f"{login}-demo", name=display, roles=[role],
                      groups=list(groups), manager=None)
        db.session.flush()
        for login, _role, _groups, manager, _display in DEMO_USERS:
            if manager:
                save_user(login, manager=manager)
        try:
            processes = deploy_paths((str(ROOT / "bpmn"), str(ROOT / "forms")), "admin")
        except AppError as err:
            db.session.rollback()
            _print_problems(err)
            sys.exit(1)
        templates = _demo_templates()
        db.session.commit()
        for p in processes:
            click.echo(f"process {p['key']} v{p['version']} ({'deployed' if p['created'] else 'unchanged'})")
        if templates:
            click.echo(f"ticket templates: {templates} added")
        click.echo("demo users (login / password):")
        for login, role, *_ in DEMO_USERS:
            password = f"{login}-demo" if login in created else "(unchanged since an earlier run)"
            click.echo(f"  {login:<11} {password:<32} ({role})")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
    @click.option("--sweep-every", default=30, show_default=True, help="Seconds between sweeps.")
    def worker(burst, sweep_every):
        """An RQ worker with the scheduler, for this app's queues."""
        from rq import Worker

        from .jobs import queue, redis_connection, sweep_job

        conn = redis_connection()
        app_obj = current_app._get_current_object()
        stop = threading.Event()

        def sweeper():
            while not stop.wait(sweep_every):
                try:
                    if conn.set("stagedesk:sweep-lock", "1", nx=True, ex=max(1, sweep_every - 1)):
                        with app_obj.app_context():
                            sweep_job()
                except Exception:  # noqa: BLE001 - keep sweeping through Redis/DB outages
                    app_obj.logger.exception("sweep failed")

        if not burst:
            threading.Thread(target=sweeper, name="stagedesk-sweeper", daemon=True).start()
        try:
            Worker([queue()], connection=conn, name=None).work(with_scheduler=True, burst=burst)
        finally:
            stop.set()
