"""Presence on a ticket: who else has it open, forgotten after a while, and silent when
Redis is down."""
from __future__ import annotations

import logging

import pytest


@pytest.fixture()
def clean(app):
    import redis

    client = redis.Redis.from_url(app.config["REDIS_URL"])
    for key in client.scan_iter("stagedesk:presence:*"):
        client.delete(key)
    yield client
    for key in client.scan_iter("stagedesk:presence:*"):
        client.delete(key)
    client.close()


def test_each_sees_the_others_but_not_themselves(db, make, clean):
    from app.services.presence import here

    vera, oleg, ivan = make.user("p_vera"), make.user("p_oleg"), make.user("p_ivan")
    assert here(7, vera, now=1000.0) == []
    assert here(7, oleg, now=1005.0) == [vera]
    assert here(7, vera, now=1010.0) == [oleg]
    assert here(8, ivan, now=1010.0) == []  # another ticket
    ivan.active = False
    db.session.commit()
    assert here(7, ivan, now=1011.0) == [oleg, vera]  # by name
    assert [u.login for u in here(7, oleg, now=1012.0)] == ["p_vera"]  # a deactivated account is not shown


def test_a_mark_fades_without_a_refresh(db, make, clean):
    from app.services.presence import TTL_SECONDS, here

    vera, oleg = make.user("p_vera"), make.user("p_oleg")
    here(9, vera, now=2000.0)
    assert here(9, oleg, now=2000.0 + TTL_SECONDS - 1) == [vera]
    assert here(9, oleg, now=2000.0 + TTL_SECONDS + 1) == []
    assert 0 < clean.ttl("stagedesk:presence:ticket:9") <= TTL_SECONDS  # the key expires on its own


def test_redis_down_means_no_presence_not_an_error(app, db, make, caplog):
    from app.services.presence import here

    vera = make.user("p_vera")
    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    # the migrations' logging.config.fileConfig disables the loggers that exist by then
    logging.getLogger("app.services.presence").disabled = False
    try:
        with caplog.at_level(logging.WARNING, logger="app.services.presence"):
            assert here(10, vera) is None
        assert any("presence on ticket 10 is unavailable" in r.getMessage() for r in caplog.records)
    finally:
        app.config["REDIS_URL"] = saved
