"""Downloading an attachment: for whoever may read its ticket (internal ones: staff only)."""
from __future__ import annotations

import io

from flask import Blueprint, send_file
from flask_login import current_user

from ..services import attachments
from .guard import signed_in

bp = Blueprint("files", __name__)


@bp.get("/files/<int:attachment_id>")
@signed_in
def download(attachment_id: int):
    item = attachments.for_download(current_user, attachment_id)
    inline = attachments.is_inline(item)
    response = send_file(io.BytesIO(item.blob.content), mimetype=item.content_type,
                         as_attachment=not inline, download_name=item.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
