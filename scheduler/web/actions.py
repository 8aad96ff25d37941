"""What the pages and the JSON API both do, kept out of the routers so that no router imports another: an
item read as the account may see it, an action on it, the delivery log's filters, and which channels warn
before their tokens expire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import HTTPException

from channels.tokens import TokenChannel
from scheduler import announcements, queries
from scheduler.app import App
from scheduler.clock import local_midnight, parse_local_date
from scheduler.errors import InputError
from scheduler.record import users
from scheduler.record.db import read_session, write_session
from scheduler.record.models import DeliveryState as S
from scheduler.web.deps import LANG_TEXT, Staff, approver_only


def read_announcement(core: App, who: Staff, announcement_id: int) -> dict[str, Any]:
    """The announcement as pages show it to this account (``Scope.item``: 403 for another unit's; a province item
    read by a commune shows that commune's channels and deliveries only)."""
    with read_session(core.ready_engine()) as session:
        return who.scope.item(core.config, queries.announcement(session, announcement_id, core.now()))


def act_on(core: App, who: Staff, announcement_id: int, action: str, reason: str, shown_hash: str = "") -> str:
    """``action`` (submit, approve with the hash of the version read, reject with a reason, cancel) on an item of
    the account's unit; what it did, in a sentence for the page."""
    if action in users.APPROVER_ACTIONS:
        approver_only(who)  # the same refusal as every approver-only route
    actor, now = who.user.name, core.now()
    with write_session(core.ready_engine()) as session:
        ann = announcements.get(session, announcement_id)
        who.scope.check_read(core.config, ann.unit_id, f"thông báo {ann.ref_code}")
        if action == "submit":
            announcements.submit(session, ann=ann, actor=actor, now=now)
            return "Đã gửi duyệt."
        if action == "approve":
            if not shown_hash:
                raise InputError("content_hash", "thiếu mã nội dung của bản đã đọc (content_hash); hãy mở lại "
                                                 "trang thông báo, đọc rồi phê duyệt")
            count = len(announcements.approve(session, config=core.config, ann=ann, approver=actor, now=now,
                                              shown_hash=shown_hash))
            return f"Đã phê duyệt: {count} lượt phát đã được xếp lịch."
        if action == "reject":
            if not reason.strip():
                raise InputError("reason", "hãy ghi lý do từ chối để người viết sửa")
            announcements.reject(session, ann=ann, approver=actor, reason=reason, now=now)
            return "Đã từ chối và gửi lý do cho người viết."
        if action == "cancel":
            count = announcements.cancel(session, ann=ann, actor=actor, reason=reason, now=now)
            return f"Đã hủy thông báo; {count} lượt chưa phát bị hủy."
    raise HTTPException(404, "Không có thao tác này.")


def log_filters(core: App, unit: str, channel: str, state: str, lang: str, since: str, until: str) -> dict[str, Any]:
    """The delivery log's filters, on ``unit``'s channels only."""
    own = sorted(core.config.channels_of(unit))
    if channel and channel not in own:
        raise InputError("Kênh", f"{core.config.units[unit].name} không có kênh '{channel[:60]}'")
    if state and state not in set(S):
        raise InputError("Trạng thái", "hãy chọn trạng thái trong danh sách")
    if lang and lang not in LANG_TEXT:
        raise InputError("Tiếng", "hãy chọn tiếng Việt, tiếng Thái hoặc tiếng Mông")
    return {"channel": channel or None, "channels": own, "status": state or None, "lang": lang or None,
            "since": local_midnight(parse_local_date(since, "Từ ngày")) if since else None,
            "until": local_midnight(parse_local_date(until, "Đến ngày") + timedelta(days=1)) if until else None}


def token_warnings(core: App) -> dict[str, int]:
    """Channels that renew their own tokens, and how many days ahead to warn of expiry."""
    return {name: getattr(channel.settings, "expiry_warning_days", 14) for name, channel in core.channels.items()
            if isinstance(channel, TokenChannel)}
