"""/api/v1/instances — monitoring."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..services import instances as service
from . import presenters
from .auth import api_user, token_required
from .schemas import InstanceListSchema, InstanceQuerySchema, InstanceSchema

blp = Blueprint("instances", __name__, url_prefix="/instances", description="Running process instances.")


@blp.route("")
class Instances(MethodView):
    decorators = [token_required]

    @blp.arguments(InstanceQuerySchema, location="query")
    @blp.response(200, InstanceListSchema)
    def get(self, args):
        """Instances by status, process and overdue work, newest first."""
        rows, nxt = service.list_instances(api_user(), status=args["status"], process=args["process"],
                                           overdue=args["overdue"], after=args["cursor"], limit=args["limit"])
        return {"items": [presenters.instance(i, t) for i, t in rows], "next": nxt}


@blp.route("/<int:instance_id>")
class InstanceDetail(MethodView):
    decorators = [token_required]

    @blp.response(200, InstanceSchema)
    def get(self, instance_id: int):
        """Tokens (active element ids), timers and history of one instance."""
        detail = service.describe_instance(api_user(), instance_id)
        return presenters.instance(detail["instance"], detail["ticket"], detail)
