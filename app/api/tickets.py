"""/api/v1/tickets"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from ..extensions import db
from ..services import tickets as service
from . import presenters
from .auth import api_user, token_required
from .schemas import MessageCreateSchema, MessageSchema, TicketCreateSchema, TicketSchema, WatcherCreateSchema

blp = Blueprint("tickets", __name__, url_prefix="/tickets", description="Tickets and their conversations.")


@blp.route("")
class Tickets(MethodView):
    decorators = [token_required]

    @blp.arguments(TicketCreateSchema)
    @blp.response(201, TicketSchema)
    def post(self, args):
        """Start a ticket: runs its process up to the first stages."""
        ticket = service.create_ticket(api_user(), **args)
        db.session.commit()
        return presenters.ticket(ticket)


@blp.route("/<int:ticket_id>")
class TicketDetail(MethodView):
    decorators = [token_required]

    @blp.response(200, TicketSchema)
    def get(self, ticket_id: int):
        """The ticket with its stages (colour, icon, state), watchers and history."""
        return presenters.ticket(service.get_ticket(api_user(), ticket_id))


@blp.route("/<int:ticket_id>/history")
class TicketHistory(MethodView):
    decorators = [token_required]

    def get(self, ticket_id: int):
        """The audit trail of the ticket, oldest first."""
        ticket = service.get_ticket(api_user(), ticket_id)
        return {"items": presenters.ticket(ticket)["history"], "next": None}


@blp.route("/<int:ticket_id>/messages")
class TicketMessages(MethodView):
    decorators = [token_required]

    @blp.response(200, MessageSchema(many=True))
    def get(self, ticket_id: int):
        """The ticket's thread (internal notes only for staff)."""
        user = api_user()
        ticket = service.get_ticket(user, ticket_id)
        return [presenters.message(m) for m in service.ticket_messages(user, ticket)]

    @blp.arguments(MessageCreateSchema)
    @blp.response(201, MessageSchema)
    def post(self, args, ticket_id: int):
        """A message to or from the requester; the requester's reply wakes a waiting process."""
        msg = service.post_message(api_user(), ticket_id, args["body"], internal=args["internal"])
        db.session.commit()
        return presenters.message(msg)


@blp.route("/<int:ticket_id>/watchers")
class TicketWatchers(MethodView):
    decorators = [token_required]

    @blp.arguments(WatcherCreateSchema)
    @blp.response(201, TicketSchema)
    def post(self, args, ticket_id: int):
        """Add a watcher: any user, told of every change."""
        service.add_watcher(api_user(), ticket_id, args["login"])
        db.session.commit()
        return presenters.ticket(service.get_ticket(api_user(), ticket_id))
