"""Callers with no standing are refused in a read transaction, never behind the writer lock
(issue 13): on each backend, while another transaction holds the lock (SQLite's BEGIN
IMMEDIATE, PostgreSQL's advisory lock), an outsider's stage move, approval or review is
refused at once, and a pod member's act still waits for the lock and is decided inside it."""

from __future__ import annotations

import threading

import pytest

from keel.errors import NoStanding
from keel.identity import user_actor
from keel.pipeline import refusals
from keel.readiness import reviews, stages

OUTSIDER = user_actor("gus.martin", "token")  # in the support pod only
MEMBER = user_actor("ivo.costa", "token")  # in the credit pod
SYSTEM = "credit-decisioning"


def _holding_the_writer_lock(ws, admin):
    held, release = threading.Event(), threading.Event()

    def hold():
        with ws.write(admin):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert held.wait(10)
    return release, thread


def _run(fn) -> tuple[threading.Thread, list]:
    out: list = []

    def go():
        try:
            out.append(fn())
        except Exception as exc:  # the outcome is what the test reads
            out.append(exc)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread, out


@pytest.mark.parametrize("act", ["advance", "review"])
def test_no_standing_is_refused_while_another_writer_holds_the_lock(demo_ws, admin, act):
    def attempt(actor):
        work = (
            (lambda s: stages.advance(s, actor, SYSTEM))
            if act == "advance"
            else (lambda s: reviews.review(s, actor, SYSTEM, "privacy"))
        )
        return refusals.logged(
            demo_ws,
            actor,
            f"readiness.{act}.refused",
            reviews.subject_of(SYSTEM),
            work,
            standing=refusals.system_standing(actor, SYSTEM),
        )

    release, holder = _holding_the_writer_lock(demo_ws, admin)
    try:
        outsider, refused = _run(lambda: attempt(OUTSIDER))
        outsider.join(5)
        assert not outsider.is_alive(), "the outsider waited for the writer lock"
        assert isinstance(refused[0], NoStanding)
        member, decided = _run(lambda: attempt(MEMBER))
        member.join(1)
        assert member.is_alive()  # a pod member's act is decided inside the write transaction
    finally:
        release.set()
        holder.join(10)
    member.join(30)
    assert decided and not isinstance(decided[0], NoStanding)
