"""The outbox's side of a send that is still running (``channels.base.SendHooks``): a remote id kept at once, a
lease extended while a long upload goes on; each written only while the send's own claim holds the row."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from channels.base import Post
from scheduler.outbox.deliveries import extend_lease, keep_remote_id
from scheduler.record.db import database_now, write_session


class Progress:
    """The outbox's ``SendHooks``: what a channel says while one send still runs, written on the delivery only
    while the send's own claim holds it (found by ``post.attempt_id``; ``deliveries`` writes it). Built once by
    the composition root and given to every channel it builds; a post without a claim (a preview) changes
    nothing."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def remote_id(self, post: Post, remote_id: str) -> None:
        """A channel learned the platform's id mid-send: store it now, for reconcile after a crash."""
        if not post.attempt_id:
            return
        with write_session(self.engine) as session:
            keep_remote_id(session, post.delivery_id, post.attempt_id, remote_id)
        self.progress(post)

    def progress(self, post: Post) -> None:
        """A long send is still under way: extend its lease (database clock) so nobody rescues it."""
        if not post.attempt_id:
            return
        with write_session(self.engine) as session:
            extend_lease(session, post.delivery_id, post.attempt_id,
                         database_now(session) + timedelta(seconds=post.lease_seconds))
