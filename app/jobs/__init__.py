"""RQ jobs: thin wrappers that run a service in one transaction (one commit per job).

The database is the truth; these only wake rows up.  If Redis is unreachable when a
wake-up is scheduled, the commit still stands and the sweeper re-enqueues what is due.
"""
from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache

import redis
from flask import Flask, current_app, has_app_context
from rq import Queue

log = logging.getLogger(__name__)
QUEUE_NAME = "stagedesk"


def _connection(app: Flask) -> redis.Redis:
    ext = app.extensions
    if "stagedesk_redis" not in ext:
        ext["stagedesk_redis"] = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2,
                                                      socket_timeout=5)
    return ext["stagedesk_redis"]


def redis_connection() -> redis.Redis:
    return _connection(current_app)


def queue() -> Queue:
    return Queue(QUEUE_NAME, connection=redis_connection())


def schedule_timer(timer_id: int, due_at: datetime) -> None:
    try:
        queue().enqueue_at(due_at, fire_timer_job, timer_id)
    except redis.RedisError:
        log.warning("could not schedule timer %s; the sweeper will pick it up", timer_id)


def enqueue_outbox(row_id: int) -> None:
    try:
        queue().enqueue(deliver_outbox_job, row_id)
    except redis.RedisError:
        log.warning("could not enqueue outbox row %s; the sweeper will pick it up", row_id)


@lru_cache(maxsize=1)
def _job_app() -> Flask:
    from .. import create_app

    return create_app()


def _in_app(fn, *args):
    if has_app_context():
        return fn(*args)
    with _job_app().app_context():
        return fn(*args)


def _committed(service, *args):
    """Run one service call as one transaction: one commit per job."""
    def run():
        from ..extensions import db

        result = service(*args)
        db.session.commit()
        return result

    return _in_app(run)


def fire_timer_job(timer_id: int) -> bool:
    from ..services.timers import fire_timer

    return _committed(fire_timer, timer_id)


def deliver_outbox_job(row_id: int) -> bool:
    from ..services.outbox import deliver

    return _committed(deliver, row_id)


def sweep_job() -> dict:
    """Re-enqueue due timers and stale outbox rows whose wake-up was lost."""
    def run() -> dict:
        from ..services.outbox import stale_pending
        from ..services.timers import due_timers

        timers = due_timers()
        rows = stale_pending()
        q = queue()
        for timer_id, _ in timers:
            q.enqueue(fire_timer_job, timer_id)
        for row_id in rows:
            q.enqueue(deliver_outbox_job, row_id)
        return {"timers": len(timers), "outbox": len(rows)}

    return _in_app(run)
