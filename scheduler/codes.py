"""The codes the system speaks in: languages, priorities, statuses and states, roles.

Plain enums with no database or library behind them, so a command's options and a page's labels
can name them without loading the tables (``scheduler.record.models`` stores them).
"""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    """BCP-47 codes. ``blt`` is Tai Dam (the Thái of Sơn La); ``th`` (Thailand) is never valid."""

    VI = "vi"
    BLT = "blt"
    HMN = "hmn"


class Priority(StrEnum):
    """Priority levels of Circular 39/2020/TT-BTTTT."""

    NORMAL = "normal"
    PRIORITY = "priority"
    EMERGENCY = "emergency"


PRIORITY_RANK = {Priority.EMERGENCY: 0, Priority.PRIORITY: 1, Priority.NORMAL: 2}


class AnnouncementStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Repeat(StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"


class DeliveryState(StrEnum):
    """The delivery state machine of DESIGN.md §3; transitions live in ``scheduler.outbox.states``."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"
    NEEDS_RECONCILE = "needs_reconcile"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SCHEDULED = "scheduled"  # handed to a platform that publishes it at the due time
    RETRACTING = "retracting"  # scheduled on a platform, approval voided: being taken back
    PREVIEWED = "previewed"  # a channel in preview mode wrote the request it would send: nothing went out
    NEEDS_PERSON = "needs_person"  # the platform cannot say whether it is out, and its time is over


class AsRunStatus(StrEnum):
    PREPARED = "prepared"  # the programme is built and handed to playout, the slot has not begun
    PLAYING = "playing"
    PLAYED = "played"
    SKIPPED = "skipped"  # nothing was due in the slot: nothing played, and nothing failed
    MISSED = "missed"  # the slot passed by more than its grace time without playing: never played late
    INTERRUPTED = "interrupted"  # the service stopped during a live programme
    FAILED = "failed"  # the programme could not be built or handed to playout


class Role(StrEnum):
    """What a staff member may do in the web app: editors write, approvers also approve others'
    texts (never their own), admins also manage users."""

    EDITOR = "editor"
    APPROVER = "approver"
    ADMIN = "admin"


# The kinds of activity of the register (scheduler.plans.activities); a target may count one of them.
ACTIVITY_KIND = {"conference": "hội nghị, tập huấn", "dialogue": "đối thoại với doanh nghiệp", "contest": "cuộc thi",
                 "press": "tin, bài trên báo chí", "radio_tv": "chương trình phát thanh, truyền hình"}


def activity_kind_problem(kind: str) -> str | None:
    if kind in ACTIVITY_KIND:
        return None
    return f"loại hoạt động '{kind}' không có; các loại: " + ", ".join(f"{k} ({v})" for k, v in ACTIVITY_KIND.items())
