"""Who has a ticket open right now (issue 3, point 8), kept in Redis and forgotten on its own.

One sorted set per ticket: member = user id, score = when that person's page last said "I am
here" (the page load, then a poll every ``POLL_SECONDS``).  Marks older than ``TTL_SECONDS``
do not count, and the key itself expires when nobody refreshes it, so a closed tab fades out
without any goodbye.  Presence is a nicety: when Redis is unreachable the functions return
None, log it, and the ticket page simply does not show it.
"""
from __future__ import annotations

import logging
import time

import redis
from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import User

log = logging.getLogger(__name__)

TTL_SECONDS = 30
POLL_SECONDS = 15
_EXTENSION = "stagedesk_presence_redis"


def _key(ticket_id: int) -> str:
    return f"stagedesk:presence:ticket:{ticket_id}"


def _client() -> redis.Redis:
    """One client per Redis URL, with short timeouts: a page never waits long on presence."""
    url = current_app.config["REDIS_URL"]
    clients = current_app.extensions.setdefault(_EXTENSION, {})
    if url not in clients:
        clients[url] = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    return clients[url]


def here(ticket_id: int, user: User, *, now: float | None = None) -> list[User] | None:
    """Mark ``user`` as having the ticket open and return the others who have it open too
    (by name); None when Redis is unreachable."""
    now = time.time() if now is None else now
    key = _key(ticket_id)
    try:
        pipe = _client().pipeline()
        pipe.zadd(key, {str(user.id): now})
        pipe.zremrangebyscore(key, "-inf", now - TTL_SECONDS)
        pipe.expire(key, TTL_SECONDS)
        pipe.zrangebyscore(key, now - TTL_SECONDS, "+inf")
        members = pipe.execute()[-1]
    except redis.RedisError as err:
        log.warning("presence on ticket %s is unavailable: %s", ticket_id, err)
        return None
    return _people({int(m) for m in members if m.isdigit()} - {user.id})


def _people(user_ids: set[int]) -> list[User]:
    if not user_ids:
        return []
    users = db.session.execute(select(User).where(User.id.in_(user_ids), User.active.is_(True))).scalars()
    return sorted(users, key=lambda u: u.display_name.casefold())
