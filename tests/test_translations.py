"""Russian from the start: every string the app shows has a translation, and it is used."""
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "app" / "translations" / "ru" / "LC_MESSAGES" / "messages.po"


def _ids(catalog) -> set:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


def test_every_string_in_the_code_is_in_the_russian_catalog(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "extract", "-F", str(ROOT / "babel.cfg"),
                    "-k", "_l", "-k", "lazy_gettext", "-k", "N_", "--no-location", "-o", str(pot), str(ROOT)],
                   check=True, cwd=ROOT, capture_output=True)
    with pot.open("rb") as f:
        in_code = _ids(read_po(f))
    with CATALOG.open("rb") as f:
        catalog = read_po(f, locale="ru")
    missing = sorted(in_code - _ids(catalog))
    assert not missing, f"not in {CATALOG.name} (run pybabel update and translate): {missing}"
    untranslated = [m.id for m in catalog if m.id and (not m.string or (
        isinstance(m.string, tuple) and not all(m.string)))]
    assert not untranslated, f"untranslated: {untranslated}"


def test_api_errors_speak_the_callers_language(app):
    client = app.test_client()  # its own app context per request, as in production
    ru = client.get("/api/v1/tasks", headers={"Accept-Language": "ru"})
    en = client.get("/api/v1/tasks", headers={"Accept-Language": "en"})
    assert ru.status_code == en.status_code == 401
    assert ru.get_json()["message"] == "Войдите в систему или передайте действующий API-токен."
    assert en.get_json()["message"] == "Sign in or send a valid API token."


def test_home_page_in_russian_and_english(app):
    client = app.test_client()
    ru = client.get("/", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    en = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Служба поддержки Stagedesk" in ru and '<html lang="ru">' in ru
    assert "Stagedesk service desk" in en and '<html lang="en">' in en


def test_the_desk_speaks_russian_unless_someone_asks_otherwise(backend):
    """Out of the box (no Accept-Language, no choice made) pages, API errors and messages
    outside requests are Russian; STAGEDESK_BABEL_DEFAULT_LOCALE changes that."""
    from flask_babel import gettext

    from app import create_app
    from app.config import load_config
    from app.extensions import db as _db

    assert load_config()["BABEL_DEFAULT_LOCALE"] == "ru"
    desk = create_app({"SQLALCHEMY_DATABASE_URI": backend["database_url"], "SECRET_KEY": "test-secret",
                       "REDIS_URL": backend["redis_url"], "BABEL_DEFAULT_LOCALE": "ru"})
    client = desk.test_client()
    assert '<html lang="ru">' in client.get("/login").get_data(as_text=True)
    assert client.get("/api/v1/tasks").get_json()["message"] == "Войдите в систему или передайте действующий API-токен."
    with desk.app_context():
        assert gettext("Sign in") != "Sign in"  # jobs and the CLI speak the default language too
        _db.engine.dispose()
