"""POST/GET /api/v1/process-definitions"""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..errors import Forbidden, ValidationFailed
from ..extensions import db
from ..i18n import _l
from ..permissions import can_manage_processes, has, READ_TASKS
from ..services import definitions as service
from .auth import api_user, token_required
from .schemas import DefinitionDetailSchema, DefinitionSchema, DeployResultSchema

blp = Blueprint("definitions", __name__, url_prefix="/process-definitions",
                description="Deploy and inspect process definitions (BPMN diagrams and forms).")


def _definition(d) -> dict:
    return {"key": d.key, "version": d.version, "name": d.name, "active": d.active, "digest": d.spec_digest,
            "source_file": d.source_file, "deployed_at": d.created_at,
            "deployed_by": d.deployment.deployed_by.login if d.deployment and d.deployment.deployed_by else None,
            "calls": d.calls or [], "stages": d.stages or []}


def _can_read() -> bool:
    user = api_user()
    return can_manage_processes(user) or has(user, READ_TASKS)


@blp.route("")
class Definitions(MethodView):
    decorators = [token_required]

    @blp.response(200, DefinitionSchema(many=True))
    def get(self):
        """Every deployed version of every process."""
        if not _can_read():
            raise Forbidden()
        return [_definition(d) for d in service.list_definitions()]

    @blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}})
    @blp.response(201, DeployResultSchema)
    @blp.alt_response(200, schema=DeployResultSchema, description="Nothing changed: no new version was made.")
    @blp.alt_response(422, description="Lint problems: {message, errors: [{file, element_id, element_name, line, message}]}")
    def post(self):
        """Deploy .bpmn, .dmn, form .json files or a .zip of them as new versions."""
        user = api_user()
        if not can_manage_processes(user):
            raise Forbidden(_l("Only process admins may deploy diagrams."))
        uploads = request.files.getlist("files")
        if not uploads:
            raise ValidationFailed(_l("Send the files as multipart form field 'files'."),
                                   errors=[{"file": None, "element_id": None, "element_name": None, "line": None,
                                            "message": str(_l("No files were sent."))}])
        files: dict[str, bytes] = {}
        for upload in uploads:
            name = (upload.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
            files[name] = upload.read()
        outcome = service.deploy_files(files, user)
        db.session.commit()
        first = next((p for p in outcome.processes if p["created"]), outcome.processes[0])
        body = {"key": first["key"], "version": first["version"], "processes": outcome.processes}
        return body, (201 if outcome.created else 200)


@blp.route("/<string:key>")
class DefinitionDetail(MethodView):
    decorators = [token_required]

    @blp.response(200, DefinitionDetailSchema)
    def get(self, key: str):
        """Versions of one process, its active version and the active diagram's XML."""
        if not _can_read():
            raise Forbidden()
        versions = service.list_definitions(key)
        active = service.get_definition(key)  # 404 when nothing of that key is deployed
        xml = service.diagram_xml(active)
        return {"key": key, "active_version": active.version, "versions": [_definition(d) for d in versions],
                "xml": xml.decode("utf-8", "replace") if xml else None}
