"""The REST API under /api/v1 (DESIGN §9): JSON, bearer tokens, OpenAPI."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

api = Api()


def init_api(app: Flask) -> None:
    from ..extensions import csrf
    from . import definitions, instances, tasks, tickets

    api.init_app(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "description": "A per-user API token (`flask token LOGIN`)."},
    }}, "security": [{"bearer": []}]})
    for module in (definitions, tickets, tasks, instances):
        csrf.exempt(module.blp)  # token-authenticated, no cookies: CSRF does not apply
        api.register_blueprint(module.blp, url_prefix=f"/api/v1{module.blp.url_prefix}")
