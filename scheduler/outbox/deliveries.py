"""The one writer of a delivery: its state and the columns that say when and by whom it goes out.

Every change of ``Delivery.state`` goes through ``move`` (one row the caller holds), ``write_results`` (a
claim's results from the dispatcher, fenced by attempt), ``start_claims`` (the claim itself),
``release_unsent`` (claimed sends whose request never left, fenced the same way) or ``played`` (a part of a
loudspeaker programme, fenced the same way): each is checked against the state machine of
``scheduler.outbox.states`` and stamps ``updated_at``. The times and the lease of a waiting or sending row
change here too: ``reschedule`` (a loudspeaker part rolled over to the next slot), ``free`` (a dead owner's
row), ``keep_remote_id`` and ``extend_lease`` (what a channel says while its send runs). The dispatcher, the
loudspeaker's programmes and slots, announcements, the simulation and the faces call these;
``tests/test_layers.py`` fails if any other module sets a state.

What a person decides (``settle``: a post the platform cannot answer about) is also audited here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, delete, func, update
from sqlmodel import Session, col, select

from scheduler.errors import InputError, NotFoundError, RuleError
from scheduler.outbox.states import CLAIMABLE, RELEASED_TO, IllegalTransitionError, check_transition
from scheduler.record import audit, scope
from scheduler.record.models import Attempt, Channel, Delivery
from scheduler.record.models import DeliveryState as S

SETTLEABLE = (S.NEEDS_PERSON, S.NEEDS_RECONCILE)


def move(d: Delivery, new: S, now: datetime, **changes: Any) -> None:
    """Put ``d`` (a row the caller's transaction holds) in state ``new``, with the other columns in
    ``changes``; raises ``IllegalTransitionError`` for a move the state machine does not allow."""
    check_transition(d.state, new)
    d.state, d.updated_at = new, now
    for name, value in changes.items():
        setattr(d, name, value)


def reschedule(d: Delivery, due_at: datetime, expires_at: datetime, now: datetime, *, why: str) -> None:
    """Give ``d`` (a waiting row the caller holds) a new due time and deadline, saying why: a loudspeaker part
    that did not fit its slot waits for the next one. Its state does not change."""
    if d.state not in CLAIMABLE:
        raise IllegalTransitionError(d.state, d.state)
    d.due_at, d.next_attempt_at, d.expires_at, d.last_error, d.updated_at = due_at, due_at, expires_at, why, now


def free(d: Delivery, now: datetime) -> None:
    """Let another worker take ``d`` (a row the caller holds) at once: the process that held it is dead."""
    d.lease_until, d.updated_at = None, now


def keep_remote_id(session: Session, delivery_id: int, attempt_id: str, remote_id: str) -> None:
    """The platform's id of a post whose send still runs (``outbox.progress``): kept at once, for a reconcile
    after a crash; only while the send's own attempt holds the row."""
    session.execute(update(Delivery).where(*_held_by(delivery_id, attempt_id)).values(remote_id=remote_id))


def extend_lease(session: Session, delivery_id: int, attempt_id: str, until: datetime) -> None:
    """A long send still runs: its lease now ends at ``until`` (database clock); only while its attempt holds it."""
    session.execute(update(Delivery).where(*_held_by(delivery_id, attempt_id)).values(lease_until=until))


def _held_by(delivery_id: int, attempt_id: str) -> tuple:
    return col(Delivery.id) == delivery_id, col(Delivery.state) == S.SENDING, col(Delivery.attempt_id) == attempt_id


class BulkUpdate:
    """An UPDATE of ``table`` by ``by`` (parameter ``b_id``), many rows at once: each column set from
    the named parameter, typed as the column (so UTC times and redacted text are stored as everywhere
    else); a column in ``keep`` keeps its value when the parameter is None.

    SQLite runs it as one executemany (a loop in C). PostgreSQL gets a single ``UPDATE ... FROM
    unnest(arrays)``: psycopg's executemany sends one statement a row."""

    def __init__(self, table, keep: tuple[str, ...] = (), by: str = "id", **columns: str) -> None:  # noqa: ANN001
        self.table, self.keep, self.by, self.columns = table, keep, by, columns
        self.names = ["b_id", *columns.values()]
        self.each = update(table).where(table.c[by] == bindparam("b_id")).values(
            self._sets(lambda param, column: bindparam(param, type_=column.type)))

    def run(self, session: Session, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if session.get_bind().dialect.name != "postgresql" or len(rows) == 1:
            session.execute(self.each, rows)
            return
        session.execute(self._arrays, {f"a_{name}": [row[name] for row in rows] for name in self.names})

    def _sets(self, value_of: Callable[[str, Any], Any]) -> dict[str, Any]:
        """Each column from its parameter's value (``value_of(param, column)``), or kept when None."""
        sets = {}
        for name, param in self.columns.items():
            value = value_of(param, self.table.c[name])
            sets[name] = func.coalesce(value, self.table.c[name]) if name in self.keep else value
        return sets

    @cached_property
    def _arrays(self):  # noqa: ANN202
        """``UPDATE ... FROM unnest(:a_b_id, :a_b_state, ...)``: one array a column, so the statement's
        text is the same for any number of rows (compiled and planned once)."""
        from sqlalchemy.dialects.postgresql import ARRAY

        c = self.table.c
        types = {"b_id": c[self.by].type, **{param: c[name].type for name, param in self.columns.items()}}
        given = func.unnest(*(bindparam(f"a_{name}", type_=ARRAY(types[name])) for name in self.names)
                            ).table_valued(*self.names).render_derived(name="b")
        return update(self.table).where(c[self.by] == given.c.b_id).values(
            self._sets(lambda param, _: given.c[param]))


# remote id, address and finish time are kept when a result brings none (a reconcile still waiting).
_WRITE_RESULT = BulkUpdate(Delivery.__table__, ("remote_id", "remote_url", "finished_at"), state="b_state",
                            next_attempt_at="b_next", last_error="b_error", updated_at="b_updated",
                            lease_until="b_lease", remote_id="b_remote_id", remote_url="b_remote_url",
                            finished_at="b_finished")


def write_results(session: Session, rows: list[dict[str, Any]], old: dict[int, str]) -> None:
    """The dispatcher's results of one wave, in one statement: each row's ``b_state`` checked against
    the state its delivery was in (``old``, read under lock by the caller, who wrote only rows its
    attempt still holds)."""
    for row in rows:
        check_transition(old[row["b_id"]], row["b_state"])
    if rows:
        _WRITE_RESULT.run(session, rows)


_START = BulkUpdate(Delivery.__table__, state="b_state", attempt_count="b_attempts", reconcile_count="b_reconciles",
                     attempt_id="b_attempt", claimed_by="b_worker", updated_at="b_updated", lease_until="b_lease")


def start_claims(session: Session, rows: list[dict[str, Any]], old: dict[int, str]) -> None:
    """The dispatcher's claim, in one statement: each row (locked by the caller; its state was
    ``old``) takes the claiming attempt's id, worker, lease and counts, and ``b_state``: ``sending``
    for a send, its own state for a reconcile or retract."""
    for row in rows:
        if row["b_state"] != old[row["b_id"]]:
            check_transition(old[row["b_id"]], row["b_state"])
    if rows:
        _START.run(session, rows)


_D, _A = Delivery.__table__.c, Attempt.__table__.c
_RELEASE = (update(Delivery.__table__)
            .where(_D.id == bindparam("b_id"), _D.attempt_id == bindparam("b_attempt"), _D.state == S.SENDING)
            .values(state=bindparam("b_state"), updated_at=bindparam("b_updated"), lease_until=None,
                    attempt_count=_D.attempt_count - 1))
_FORGET_ATTEMPT = delete(Attempt.__table__).where(_A.attempt_id == bindparam("b_attempt"))


def release_unsent(session: Session, rows: list[dict[str, Any]]) -> None:
    """Claimed sends whose request never left (``b_id``, ``b_attempt``, ``b_state``, ``b_updated``):
    back to the state they were claimed in (``b_state``), the attempt that never happened removed.
    Only rows the attempt still holds change."""
    for row in rows:
        if row["b_state"] not in RELEASED_TO:
            raise IllegalTransitionError(S.SENDING, row["b_state"])
    if rows:
        session.execute(_RELEASE, rows)
        session.execute(_FORGET_ATTEMPT, [{"b_attempt": row["b_attempt"]} for row in rows])


def played(session: Session, delivery_id: int, attempt_id: str, now: datetime, **changes: Any) -> bool:
    """A loudspeaker part went out: ``sending`` → ``delivered``, only if the attempt that started it
    still holds the row (False if it changed meanwhile; nothing is written then)."""
    check_transition(S.SENDING, S.DELIVERED)
    result = session.execute(
        update(Delivery).where(col(Delivery.id) == delivery_id, col(Delivery.attempt_id) == attempt_id,
                               col(Delivery.state) == S.SENDING)
        .values(state=S.DELIVERED, finished_at=now, updated_at=now, lease_until=None, **changes))
    return result.rowcount > 0


def find(session: Session, ident: str) -> Delivery:
    """A delivery by its id or its reference code (``ML-2025-0007.3``)."""
    text = ident.strip()
    if text.isdigit() and len(text) < 19:
        found = session.get(Delivery, int(text))
    else:
        found = session.exec(select(Delivery).where(Delivery.ref_code == text)).first()
    if found is None:
        raise NotFoundError("lượt phát", text)
    return found


def settle(session: Session, *, delivery: Delivery, posted: bool, url: str | None, actor: str,
           now: datetime) -> str:
    """A person looked on the platform: it is there (``posted``, with its address) or it is not. Not
    there: it is sent again if its time allows, otherwise it expires (never sent late). Returns the
    new state."""
    channel = session.get(Channel, delivery.channel_id)
    scope.check_actor(session, actor, channel.unit_id if channel else "", f"lượt {delivery.ref_code}")
    if delivery.state not in SETTLEABLE:
        raise RuleError(f"lượt {delivery.ref_code} đang ở trạng thái '{delivery.state}'; chỉ xác nhận được lượt "
                        "đang chờ kiểm tra hoặc chờ người xác nhận")
    if url is not None:
        url = url.strip()
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc or "\x00" in url:
            raise InputError("--posted", "hãy dán địa chỉ bài trên nền tảng, bắt đầu bằng https://")
    if posted:
        state = S.DELIVERED
        delivery.remote_url = url or delivery.remote_url
        delivery.finished_at = now
        why = f"{actor} xác nhận bài đã có trên nền tảng"
    elif now < delivery.expires_at:
        state = S.RETRY_WAIT
        delivery.next_attempt_at = now
        why = f"{actor} xác nhận bài chưa có trên nền tảng: sẽ gửi lại"
    else:
        state = S.EXPIRED
        delivery.finished_at = now
        why = f"{actor} xác nhận bài chưa có trên nền tảng; đã quá hạn nên không gửi muộn"
    move(delivery, state, now, last_error=why, lease_until=None)
    session.add(Attempt(delivery_id=delivery.id, attempt_id=str(uuid.uuid4()), kind="settle", started_at=now,
                        finished_at=now, outcome="posted" if posted else "not-posted", message=why,
                        remote_id=delivery.remote_id))
    audit.record(session, unit=channel.unit_id if channel else None, actor=actor, action="settle",
                 subject=f"delivery:{delivery.id}", at=now, ref=delivery.ref_code, posted=posted, url=url or "")
    return state
