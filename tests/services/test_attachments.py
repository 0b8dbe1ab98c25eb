"""Attachments: names kept as people wrote them, programs refused by name and by content,
limits, one stored copy per content, internal files for staff only."""
from __future__ import annotations

import io

import pytest

from app.errors import Forbidden, NotFound, ValidationFailed
from app.services import attachments
from app.services.attachments import Upload, clean_filename, read_uploads

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def up(name: str, content: bytes) -> Upload:
    return Upload(filename=name, stream=io.BytesIO(content))


@pytest.mark.parametrize("given, kept", [
    ("Отчёт за май.pdf", "Отчёт за май.pdf"),
    ("C:\\Users\\anna\\скриншот.png", "скриншот.png"),
    ("../../etc/passwd", "passwd"),
    ("evil.bat.", "evil.bat"),
    ("evil.bat . .", "evil.bat"),
    ("bell\x07\x00name.txt", "bellname.txt"),
    ("...", "file"),
    ("📎 مرفق.txt", "📎 مرفق.txt"),
])
def test_names_are_kept_without_folders_or_control_characters(given, kept):
    assert clean_filename(given) == kept


@pytest.mark.parametrize("name, content", [
    ("setup.exe", PNG), ("evil.bat.", b"echo hi"), ("tool.msc", b"<xml/>"), ("run.py", b"print(1)"),
    ("photo.png", b"MZ\x90\x00renamed program"), ("notes.txt", b"\x7fELF\x02\x01"), ("a.txt", b"#!/bin/sh\nrm")])
def test_programs_and_scripts_are_refused_by_name_or_by_content(app, name, content):
    with app.test_request_context(), pytest.raises(ValidationFailed) as err:
        read_uploads([up(name, content)])
    assert "programs and scripts" in err.value.errors["files"][0]


def test_every_problem_at_once_and_size_limits(app):
    big = b"x" * (app.config["MAX_UPLOAD_FILE_MB"] * 1024 * 1024 + 1)
    with app.test_request_context(), pytest.raises(ValidationFailed) as err:
        read_uploads([up("ok.png", PNG), up("big.log", big), up("empty.txt", b""), up("x.exe", PNG)])
    problems = err.value.errors["files"]
    assert len(problems) == 3 and any("big.log" in p for p in problems) and any("empty.txt" in p for p in problems)
    with app.test_request_context():
        assert read_uploads([up("ok.png", PNG), Upload(filename="", stream=io.BytesIO())]) == [("ok.png", PNG)]


def test_one_copy_per_content_and_internal_files_for_staff_only(db, make):
    from sqlalchemy import func, select

    from app.models import AttachmentBlob

    staff = make.staff()
    make.deploy_shipped()
    ticket = make.ticket(staff["requester"])
    public = attachments.attach(staff["operator"], ticket, [("a.png", PNG), ("same.png", PNG)])
    internal = attachments.attach(staff["operator"], ticket, [("note.txt", b"staff only")], internal=True)
    db.session.commit()
    assert db.session.execute(select(func.count()).select_from(AttachmentBlob)).scalar() == 2
    assert [a.filename for a in attachments.visible_attachments(staff["requester"], ticket)] == ["a.png", "same.png"]
    assert len(attachments.visible_attachments(staff["operator"], ticket)) == 3
    assert attachments.for_download(staff["requester"], public[0].id).filename == "a.png"
    with pytest.raises(Forbidden):
        attachments.for_download(staff["requester"], internal[0].id)
    with pytest.raises(Forbidden):
        attachments.for_download(staff["stranger"], public[0].id)
    with pytest.raises(Forbidden):
        attachments.attach(staff["requester"], ticket, [("x.txt", b"x")], internal=True)
    with pytest.raises(NotFound):
        attachments.for_download(staff["operator"], 987654)
