"""Files on tickets and messages: checked, stored once per content, shown only to who may.

Any file type is accepted except programs and scripts, refused by extension AND by their
first bytes (a renamed ``.exe`` is still a program).  Names are kept as people wrote them
(Cyrillic included), without folders or control characters; templates escape them.
"""
from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from typing import IO, Iterable

from flask import current_app
from sqlalchemy import select

from ..errors import Forbidden, NotFound, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..models import Attachment, AttachmentBlob, Ticket, TicketMessage, User
from ..permissions import READ_TASKS, can_read_ticket, has
from . import audit

EXECUTABLE_EXTENSIONS = frozenset({
    "exe", "msi", "msp", "com", "scr", "pif", "cpl", "dll", "sys", "bat", "cmd", "ps1", "psm1", "vbs",
    "vbe", "js", "jse", "wsf", "wsh", "hta", "jar", "lnk", "reg", "gadget", "application", "sh", "bash",
    "run", "bin", "elf", "app", "apk", "ipa", "dmg", "pkg", "deb", "rpm", "appimage", "action", "command",
    "msc", "chm", "iso", "img", "vhd", "vhdx", "url", "scf", "inf", "py", "pyw", "pl", "rb", "php", "jsp",
    "xll", "xlam", "ppam", "docm", "xlsm", "pptm", "settingcontent-ms", "library-ms", "appref-ms",
})
#: first bytes of programs: Windows PE, ELF, Mach-O (both widths, both byte orders), shebang scripts
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
                    b"\xcf\xfa\xed\xfe", b"#!")
#: shown in the browser; everything else (SVG and HTML included) is downloaded, never rendered
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Upload:
    """One file as a view hands it over (werkzeug's FileStorage fits)."""

    filename: str
    stream: IO[bytes]


def clean_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Windows drops trailing dots and spaces: "evil.bat." must not hide its extension
    name = _CONTROL.sub("", name).strip().lstrip(".").rstrip(". ")
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) < 16 else name[:255]
    return name or "file"


def _max_bytes() -> int:
    return int(current_app.config["MAX_UPLOAD_FILE_MB"]) * 1024 * 1024


def _check(name: str, content: bytes) -> str | None:
    """Why this file is refused, or None."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in EXECUTABLE_EXTENSIONS or content.startswith(EXECUTABLE_MAGIC):
        return str(_l("%(name)s: programs and scripts cannot be attached.", name=name))
    if len(content) > _max_bytes():
        return str(_l("%(name)s is larger than %(mb)s MB.", name=name, mb=current_app.config["MAX_UPLOAD_FILE_MB"]))
    if not content:
        return str(_l("%(name)s is empty.", name=name))
    return None


def read_uploads(files: Iterable[Upload]) -> list[tuple[str, bytes]]:
    """Read and check every file; all problems at once (field ``files``), nothing stored."""
    limit = _max_bytes()
    accepted: list[tuple[str, bytes]] = []
    problems: list[str] = []
    for upload in files:
        if upload is None or not upload.filename:
            continue  # an empty file input
        name = clean_filename(upload.filename)
        content = upload.stream.read(limit + 1)
        problem = _check(name, content)
        if problem:
            problems.append(problem)
        else:
            accepted.append((name, content))
    if problems:
        raise ValidationFailed(errors={"files": problems})
    return accepted


def attach(actor: User, ticket: Ticket, files: list[tuple[str, bytes]], *,
           message: TicketMessage | None = None, internal: bool = False) -> list[Attachment]:
    """Store checked files (from ``read_uploads``) on ``ticket``; the caller commits."""
    if not can_read_ticket(actor, ticket):
        raise Forbidden(_l("You may not see this ticket."))
    if internal and not has(actor, READ_TASKS):
        raise Forbidden(_l("You may not write internal notes."))
    stored = []
    for name, content in files:
        digest = hashlib.sha256(content).hexdigest()
        if db.session.get(AttachmentBlob, digest) is None:
            db.session.add(AttachmentBlob(sha256=digest, size=len(content), content=content))
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        item = Attachment(ticket_id=ticket.id, message_id=message.id if message else None, uploaded_by_id=actor.id,
                          filename=name, content_type=content_type, size=len(content), sha256=digest,
                          internal=internal)
        db.session.add(item)
        stored.append(item)
    if stored:
        db.session.flush()
        audit.record(ticket, "attachments.added", actor,
                     data={"files": [{"id": a.id, "name": a.filename, "size": a.size} for a in stored],
                           "internal": internal})
    return stored


def visible_attachments(actor: User, ticket: Ticket) -> list[Attachment]:
    query = select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id)
    if not has(actor, READ_TASKS):
        query = query.where(Attachment.internal.is_(False))
    return list(db.session.execute(query).scalars())


def for_download(actor: User, attachment_id: int) -> Attachment:
    item = db.session.get(Attachment, attachment_id)
    ticket = db.session.get(Ticket, item.ticket_id) if item else None
    if item is None or ticket is None:
        raise NotFound(_l("This file does not exist."))
    if not can_read_ticket(actor, ticket) or (item.internal and not has(actor, READ_TASKS)):
        raise Forbidden(_l("You may not see this file."))
    return item


def is_inline(item: Attachment) -> bool:
    return item.content_type in INLINE_TYPES
