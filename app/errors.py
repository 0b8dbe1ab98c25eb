"""One error hierarchy, raised by services and rendered once, as JSON or HTML.

Shape of the JSON body (DESIGN §9): ``{message, errors}`` where ``errors`` is a list of lint
problems (``{file, element_id, element_name, line, message}``) or ``{field: [message]}``.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .i18n import _l

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    default_message = _l("The request could not be processed.")

    def __init__(self, message: Any = None, errors: Any = None, **extra: Any):
        self.message = message if message is not None else self.default_message
        self.errors = errors
        self.extra = extra
        super().__init__(str(self.message))

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": str(self.message)}
        if self.errors is not None:
            body["errors"] = self.errors
        body.update({k: v for k, v in self.extra.items() if v is not None})
        return body


class ValidationFailed(AppError):
    status = 422
    default_message = _l("Some fields are not valid.")


class BadRequest(AppError):
    status = 400


class Unauthorized(AppError):
    status = 401
    default_message = _l("Sign in or send a valid API token.")


class Forbidden(AppError):
    status = 403
    default_message = _l("You do not have permission to do this.")


class NotFound(AppError):
    status = 404
    default_message = _l("Not found.")


class Conflict(AppError):
    status = 409
    default_message = _l("Someone else changed this in the meantime; reload and try again.")


class WorkflowFailed(AppError):
    """A diagram's script or expression failed; the instance is unchanged."""

    status = 422
    default_message = _l("The process could not continue.")


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


#: our own words for HTTP errors whose werkzeug description is English and technical
HTTP_MESSAGES = {
    400: _l("The request could not be understood; reload the page and try again."),
    403: _l("You may not open this page."),
    404: _l("This page does not exist."),
    405: _l("This address does not accept this kind of request."),
    413: _l("The upload is too large."),
}
CSRF_MESSAGE = _l("The form has expired or was sent from another site; reload the page and send it again.")


def _render(status: int, body: dict[str, Any]):
    if _wants_json():
        return jsonify(body), status
    return render_template("error.html", status=status, body=body), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(err: AppError):
        # a refused request writes nothing, whatever the service had already added
        from .extensions import db

        db.session.rollback()
        return _render(err.status, err.to_dict())

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        from flask_wtf.csrf import CSRFError

        description = err.description
        if isinstance(err, CSRFError):
            description = str(CSRF_MESSAGE)
        elif err.code in HTTP_MESSAGES and description == type(err).description:
            description = str(HTTP_MESSAGES[err.code])  # werkzeug's stock text: say it our way
        body: dict[str, Any] = {"message": description or err.name}
        data = getattr(err, "data", None)  # webargs/flask-smorest put validation messages here
        if isinstance(data, dict) and "messages" in data:
            # {"json": {field: [...]}} → {field: [...]}; a list under a location is about
            # the whole body (e.g. webargs' "Invalid JSON body.")
            flat: dict[str, Any] = {}
            whole: list[str] = []
            for location in data["messages"].values():
                if isinstance(location, dict):
                    flat.update(location)
                elif isinstance(location, list):
                    whole.extend(str(m) for m in location)
            if flat:
                body = {"message": str(ValidationFailed.default_message), "errors": flat}
            elif any("json" in m.lower() for m in whole):
                body = {"message": str(_l("The request body is not valid JSON; send a JSON object."))}
            else:
                body = {"message": " ".join(whole) or str(ValidationFailed.default_message)}
        return _render(err.code or 500, body)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500, {"message": str(_l("Something went wrong on our side; it has been logged."))})
