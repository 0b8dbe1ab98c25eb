"""Stagedesk: an ITIL service desk whose processes are BPMN diagrams run by SpiffWorkflow."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_babel import get_locale
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.routing import IntegerConverter

from .config import load_config
from .extensions import babel, csrf, db, limiter, login_manager, migrate

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")


def _locale() -> str:
    from flask import current_app, has_request_context
    from flask_login import current_user

    if not has_request_context():  # CLI and jobs: the desk's default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale:
        return current_user.locale
    chosen = session.get("locale")  # the language switch, before signing in
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    return (request.accept_languages.best_match(current_app.config["LANGUAGES"])
            or current_app.config["BABEL_DEFAULT_LOCALE"])


def _timezone() -> str:
    from flask import current_app, has_request_context
    from flask_login import current_user

    if has_request_context() and getattr(current_user, "is_authenticated", False) and current_user.timezone:
        return current_user.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # SQLAlchemy emits BEGIN itself (below): pysqlite's own transaction handling breaks
        # SAVEPOINTs and starts transactions late.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection) -> None:
    """SQLite: transactions that may write take the write lock up front (BEGIN IMMEDIATE),
    so concurrent writers queue on the busy timeout instead of failing at their first write;
    read-only requests start deferred and never block."""
    if connection.dialect.name != "sqlite":
        return
    from flask import has_request_context, request

    read_only = has_request_context() and request.method in ("GET", "HEAD", "OPTIONS")
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: a number larger than an INTEGER column names nothing (404),
    instead of reaching the database and failing there."""

    def __init__(self, url_map, *args, **kwargs):
        from .services.ids import MAX_ID

        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The only place that wires extensions and blueprints."""
    app = Flask(__name__, instance_relative_config=False)
    app.url_map.converters["int"] = IdConverter  # before any route: ids beyond INTEGER are 404s
    app.config.update(load_config())
    if config:
        app.config.update(config)
        if "SQLALCHEMY_DATABASE_URI" in config and "SQLALCHEMY_ENGINE_OPTIONS" not in config:
            from .config import engine_options
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(config["SQLALCHEMY_DATABASE_URI"])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("spiff").setLevel(logging.WARNING)  # it logs every task state change at INFO

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True, compare_type=True)
    babel.init_app(app, locale_selector=_locale, timezone_selector=_timezone,
                   default_translation_directories="translations")
    app.jinja_env.globals["get_locale"] = get_locale
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # Redis down: the limits still hold, counted in this process's memory, and signing in works
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)

    from . import models  # noqa: F401  (registers the tables)
    from .services import uow  # after-commit hooks

    # registered after db.init_app, so it runs before Flask-SQLAlchemy removes the session
    app.teardown_appcontext(uow.end_read_only_transaction)

    @login_manager.user_loader
    def _load_user(user_id: str):
        return db.session.get(models.User, int(user_id))

    from .api import init_api
    from .auth import bp as auth_bp
    from .cli import register_cli
    from .errors import register_error_handlers
    from .views import bp as home_bp
    from .admin import bp as admin_bp
    from .desk import bp as desk_bp
    from .portal import bp as portal_bp
    from .web.context import init_web
    from .web.files import bp as files_bp

    init_api(app)
    init_web(app)
    app.register_blueprint(home_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(files_bp)
    app.register_blueprint(portal_bp, url_prefix="/portal")
    app.register_blueprint(desk_bp, url_prefix="/desk")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    register_error_handlers(app)
    register_cli(app)
    return app
