"""Changes to a delivery that a person makes: settling one the platform cannot answer about.

(The dispatcher and the broadcaster move deliveries through their states as they work; what a
person decides goes through here, checked against the state machine and audited.)
"""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import urlsplit

from sqlmodel import Session, select

from scheduler import audit
from scheduler.errors import InputError, NotFoundError, RuleError
from scheduler.models import Attempt, Delivery
from scheduler.models import DeliveryState as S
from scheduler.states import check_transition

SETTLEABLE = (S.NEEDS_PERSON, S.NEEDS_RECONCILE)


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
    check_transition(delivery.state, state)
    delivery.state, delivery.last_error, delivery.updated_at, delivery.lease_until = state, why, now, None
    session.add(Attempt(delivery_id=delivery.id, attempt_id=str(uuid.uuid4()), kind="settle", started_at=now,
                        finished_at=now, outcome="posted" if posted else "not-posted", message=why,
                        remote_id=delivery.remote_id))
    audit.record(session, actor=actor, action="settle", subject=f"delivery:{delivery.id}", at=now,
                 ref=delivery.ref_code, posted=posted, url=url or "")
    return state
