"""Settings from environment variables (12-factor), with embedded defaults.

Every variable is documented in the README with its default.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _instance_dir() -> Path:
    path = Path(os.environ.get("STAGEDESK_INSTANCE", ROOT / "instance")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_key(instance: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _database_url(instance: Path) -> str:
    url = os.environ.get("DATABASE_URL", f"sqlite:///{instance / 'stagedesk.db'}")
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        # WAL lets readers run while one writer commits; the busy timeout queues writers.
        # writers queue for SQLite's single write lock (BEGIN IMMEDIATE): room for them to wait
        return {"connect_args": {"timeout": 30, "check_same_thread": False},
                "pool_size": 10, "max_overflow": 30, "pool_timeout": 60}
    # LIFO: the most recently used connection serves the next request, so its prepared
    # statements are hot and the spare ones can idle out
    return {"pool_pre_ping": True, "pool_use_lifo": True, "pool_size": 10, "max_overflow": 20}


def load_config() -> dict:
    instance = _instance_dir()
    db_url = _database_url(instance)
    return {
        "STAGEDESK_INSTANCE": str(instance),
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(db_url),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0"),
        "SMTP_URL": os.environ.get("SMTP_URL", "console://"),
        "MAX_CONTENT_LENGTH": int(os.environ.get("STAGEDESK_MAX_UPLOAD_MB", "16")) * 1024 * 1024,
        #: one attached file (the whole request is limited by STAGEDESK_MAX_UPLOAD_MB)
        "MAX_UPLOAD_FILE_MB": int(os.environ.get("STAGEDESK_MAX_FILE_MB", "10")),
        "BABEL_DEFAULT_LOCALE": os.environ.get("STAGEDESK_BABEL_DEFAULT_LOCALE", "ru"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("STAGEDESK_TIMEZONE", "Europe/Moscow"),
        "LANGUAGES": ["ru", "en"],
        "SCRIPT_CPU_SECONDS": float(os.environ.get("STAGEDESK_SCRIPT_CPU_SECONDS", "1.0")),
        "SCRIPT_MEMORY_MB": int(os.environ.get("STAGEDESK_SCRIPT_MEMORY_MB", "64")),
        "RQ_QUEUES": ["stagedesk"],
        "RQ_ASYNC": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("STAGEDESK_SECURE_COOKIES", "0") == "1",
        "API_TITLE": "Stagedesk API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
        "WTF_CSRF_TIME_LIMIT": None,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": os.environ.get("STAGEDESK_SECURE_COOKIES", "0") == "1",
        #: failed and successful sign-ins alike, per client address and per login
        "LOGIN_RATE_LIMIT": os.environ.get("STAGEDESK_LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        #: messages (with their files) one person may post, on the portal and the desk together
        "MESSAGE_RATE_LIMIT": os.environ.get("STAGEDESK_MESSAGE_RATE_LIMIT", "20 per minute;300 per hour"),
    }
