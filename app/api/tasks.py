"""/api/v1/tasks — work items (stages) and completing them."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..errors import Forbidden, NotFound
from ..extensions import db
from ..i18n import _l
from ..models import WorkItem
from ..permissions import can_view_item
from ..services import queues
from ..services import tickets as ticket_service
from . import presenters
from .auth import api_user, locale, token_required
from .schemas import TaskCompleteSchema, TaskListQuerySchema, TaskListSchema, TaskSchema

blp = Blueprint("tasks", __name__, url_prefix="/tasks", description="Stages to work on.")


@blp.route("")
class Tasks(MethodView):
    decorators = [token_required]

    @blp.arguments(TaskListQuerySchema, location="query")
    @blp.response(200, TaskListSchema)
    def get(self, args):
        """Open work items the caller may see: mine, my groups', or undistributed."""
        items, nxt = queues.list_tasks(api_user(), args["scope"], after=args["cursor"], limit=args["limit"])
        return {"items": [presenters.task(i, with_form=False) for i in items], "next": nxt}


def _load(task_id: int) -> WorkItem:
    item = db.session.get(WorkItem, task_id)
    if item is None:
        raise NotFound(_l("Task %(id)s does not exist.", id=task_id))
    if not can_view_item(api_user(), item):
        raise Forbidden(_l("You may not see this task."))
    return item


@blp.route("/<int:task_id>")
class TaskDetail(MethodView):
    decorators = [token_required]

    @blp.response(200, TaskSchema)
    def get(self, task_id: int):
        """Stage metadata and its form spec."""
        return presenters.task(_load(task_id), locale=locale())


@blp.route("/<int:task_id>/complete")
class TaskComplete(MethodView):
    decorators = [token_required]

    @blp.arguments(TaskCompleteSchema)
    @blp.response(200, TaskSchema)
    @blp.alt_response(409, description="Already completed (by whom and when) or changed meanwhile.")
    @blp.alt_response(422, description="Form errors: {message, errors: {field: [message]}}")
    def post(self, args, task_id: int):
        """Complete the stage with its form data; the process moves on."""
        item = ticket_service.complete_stage(api_user(), task_id, args["data"], locale=locale())
        db.session.commit()
        return presenters.task(item, locale=locale(), with_form=False)
