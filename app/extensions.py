"""Extension objects, created unbound; ``create_app`` binds them (``init_app``)."""
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

# Deterministic constraint names, so Alembic migrations work on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: one commit per request or job, then the response is rendered from what was just written:
#: objects keep their values after the commit instead of being reloaded row by row
SESSION_OPTIONS = {"expire_on_commit": False}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING), session_options=dict(SESSION_OPTIONS))
migrate = Migrate()
login_manager = LoginManager()
babel = Babel()
csrf = CSRFProtect()
#: rate limits (the login form); counters live in Redis, shared by every web process
limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="moving-window")
