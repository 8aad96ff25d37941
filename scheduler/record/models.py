"""All tables, in one module (SQLModel's advice), and the enums of their states.

Conventions: every datetime is stored as naive UTC and read back as aware UTC (``UTCDateTime``);
lists are JSON; enums are stored as their string values so migrations never fight native enum types.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import AutoString, Field, SQLModel

from channels.secrets import redact, redact_any
from scheduler.clock import utc_now
from scheduler.codes import (  # noqa: F401  the enums the tables store; most code imports them from here
    PRIORITY_RANK,
    AnnouncementStatus,
    AsRunStatus,
    DeliveryState,
    Language,
    Priority,
    Repeat,
    Role,
)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, naive UTC in the database (SQLite and PostgreSQL)."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class RedactedText(TypeDecorator):
    """Free text the system writes (a platform's error, a reason): secrets are redacted on the way in,
    whichever code writes it, ORM or UPDATE statement (``channels.secrets``)."""

    impl = AutoString
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return redact(value) if value is not None else None


class RedactedJSON(TypeDecorator):
    """JSON whose strings are redacted on the way in (audit details, as-run notes)."""

    impl = sa.JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return redact_any(value)


def _when(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _json(default_factory: Any = list) -> Any:
    return Field(default_factory=default_factory, sa_type=sa.JSON, nullable=False)


class Unit(SQLModel, table=True):
    """An office that owns a plan and channels: a province or a commune (đơn vị)."""

    id: str = Field(primary_key=True, max_length=40)
    name: str
    level: str = Field(max_length=20)
    parent_id: str | None = Field(default=None, foreign_key="unit.id")
    ref_prefix: str = Field(max_length=10)
    station_name: str | None = None
    slots: list[str] = _json()


class Plan(SQLModel, table=True):
    """The yearly plan (kế hoạch) of a unit."""

    id: str = Field(primary_key=True, max_length=60)
    unit_id: str = Field(foreign_key="unit.id", index=True)
    year: int
    title: str
    decision: str = ""
    source: str = ""
    issued: date | None = None  # the day the plan was signed
    effective: date | None = None  # the first day it applies: earlier periods are "not yet applicable"


class Topic(SQLModel, table=True):
    """A content item of a plan (nội dung, mục a, b, ...)."""

    __table_args__ = (sa.UniqueConstraint("plan_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plan.id", index=True)
    code: str = Field(max_length=10)
    clause: str = Field(max_length=30)
    text: str


class Target(SQLModel, table=True):
    """A quota (chỉ tiêu): at least ``minimum`` deliveries on ``channel`` per ``period``."""

    __table_args__ = (sa.UniqueConstraint("plan_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plan.id", index=True)
    key: str = Field(max_length=60)
    clause: str = Field(max_length=30)
    description: str
    channel: str = Field(max_length=60)
    minimum: int
    period: str = Field(max_length=20)
    languages: list[str] = _json()
    topics: list[str] = _json()
    exclude_topics: list[str] = _json()  # items about these topics never count (the bulletin is not an article)


class Channel(SQLModel, table=True):
    """One configured output (kênh). Settings hold no secrets: only names of environment variables."""

    id: str = Field(primary_key=True, max_length=60)
    unit_id: str = Field(foreign_key="unit.id", index=True)
    kind: str = Field(max_length=30)
    title: str
    languages: list[str] = _json()
    mode: str = Field(default="live", max_length=10)
    grace_minutes: int = 1440
    enabled: bool = True
    settings: dict[str, Any] = _json(dict)


class Announcement(SQLModel, table=True):
    """One piece of content (tin, bài, thông báo); its Vietnamese text lives here, others in ``Translation``."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: str = Field(foreign_key="unit.id", index=True)
    ref_code: str = Field(max_length=40, unique=True)
    title: str
    body: str = Field(sa_type=sa.Text)
    topics: list[str] = _json()
    channels: list[str] = _json()
    languages: list[str] = _json()
    priority: str = Field(default=Priority.NORMAL, max_length=20)
    status: str = Field(default=AnnouncementStatus.DRAFT, max_length=20, index=True)
    next_slot: bool = False
    first_at: datetime | None = _when()
    repeat: str = Field(default=Repeat.NONE, max_length=10)
    repeat_until: datetime | None = _when()
    expires_at: datetime | None = _when()
    author: str = Field(max_length=80)
    # Everyone who wrote any part of what is approved: the author, each editor, each translator. None
    # of them may approve it (DESIGN.md §7: writers never approve).
    writers: list[str] = _json()
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
    sample_key: str | None = Field(default=None, max_length=60, unique=True)
    # An evergreen item (tin dùng lại) has no schedule of its own: once approved, it is in the library
    # the gap filler draws on for empty loudspeaker slots and quotas at risk.
    evergreen: bool = False


class Translation(SQLModel, table=True):
    """The text of an announcement in ``blt`` or ``hmn`` (bản dịch), optionally with a recording."""

    __table_args__ = (sa.UniqueConstraint("announcement_id", "lang"),)
    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    lang: str = Field(max_length=10)
    title: str
    body: str = Field(sa_type=sa.Text)
    audio_path: str | None = None
    audio_sha256: str | None = Field(default=None, max_length=64)
    translator: str = Field(max_length=80)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)


class Approval(SQLModel, table=True):
    """A decision on an announcement, bound to the hash of the exact content it saw."""

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    decision: str = Field(max_length=10)
    actor: str = Field(max_length=80)
    reason: str = ""
    content_hash: str = Field(max_length=64)
    decided_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
    voided_at: datetime | None = _when()
    void_reason: str = ""


class Delivery(SQLModel, table=True):
    """One announcement, in one language, on one channel, at one time (lượt phát / lượt đăng).

    ``attempt_id`` is the fencing token of the current claim: a result is written only
    ``WHERE attempt_id = <the claimant's>``, so a stale worker can never overwrite a newer outcome.
    """

    __table_args__ = (
        sa.UniqueConstraint("approval_id", "channel_id", "lang", "due_at"),
        sa.Index("ix_delivery_due", "state", "next_attempt_at"),
        sa.Index("ix_delivery_expiry", "state", "expires_at"),
        sa.Index("ix_delivery_channel_queue", "channel_id", "state", "due_at"),
        sa.Index("ix_delivery_channel_finished", "channel_id", "finished_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    approval_id: int = Field(foreign_key="approval.id")
    # No index of its own: the two (channel_id, ...) indexes above serve it. With one, PostgreSQL read all
    # the channels' deliveries for a quarter's totals and filtered most away (bench/province.py).
    channel_id: str = Field(foreign_key="channel.id")
    lang: str = Field(max_length=10)
    ref_code: str = Field(max_length=60, unique=True)
    content_hash: str = Field(max_length=64)
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    priority_rank: int = 2
    state: str = Field(default=DeliveryState.PENDING, max_length=20)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    attempt_count: int = 0
    reconcile_count: int = 0
    attempt_id: str | None = Field(default=None, max_length=36)
    lease_until: datetime | None = _when()
    claimed_by: str | None = Field(default=None, max_length=120)
    remote_id: str | None = None
    remote_url: str | None = None
    last_error: str | None = Field(default=None, sa_type=RedactedText)
    origin: str = Field(default="schedule", max_length=10)  # "schedule", or "fill" when the gap filler added it
    finished_at: datetime | None = _when(index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False)


class Attempt(SQLModel, table=True):
    """One try at a delivery: a send, or a reconcile that asked the platform what happened."""

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    attempt_id: str = Field(max_length=36, index=True)
    kind: str = Field(max_length=12)
    started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = _when()
    duration_ms: int | None = None
    outcome: str | None = Field(default=None, max_length=20)
    http_status: int | None = None
    error_code: str | None = Field(default=None, max_length=60)
    message: str | None = Field(default=None, sa_type=RedactedText)
    remote_id: str | None = None


class AuditEvent(SQLModel, table=True):
    """The audit trail: who did what to which object, when, in which unit (none: the installation's, such as
    a restore). Append-only; no foreign key, so the trail outlives a unit taken out of the configuration."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, nullable=False, index=True)
    unit_id: str | None = Field(default=None, max_length=40, index=True)
    actor: str = Field(max_length=80)
    action: str = Field(max_length=40)
    subject: str = Field(max_length=60)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=RedactedJSON, nullable=False)


HEARTBEAT, STOPPED = "heartbeat", "stopped"  # the heartbeat's key, and its value after a clean stop


class ServiceState(SQLModel, table=True):
    """Small key/value facts about the running service, such as its last heartbeat (``HEARTBEAT``: the node
    that wrote it, or ``STOPPED`` with the time of a clean stop)."""

    key: str = Field(primary_key=True, max_length=60)
    value: str = Field(sa_type=RedactedText)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Activity(SQLModel, table=True):
    """An activity of the plan that is not a broadcast (hoạt động): a conference or training, the leaders'
    dialogue with businesses, a contest, coverage in the press or on radio-TV; with its evidence file
    (a photo or PDF in the data folder's ``activities/``, named by its SHA-256). Targets may count them."""

    id: int | None = Field(default=None, primary_key=True)
    unit_id: str = Field(foreign_key="unit.id", max_length=40, index=True)
    kind: str = Field(max_length=20)
    held_on: date = Field(index=True)  # the day it took place (Vietnam)
    title: str
    place: str = ""
    participants: int | None = None
    note: str = Field(default="", sa_type=sa.Text)
    evidence: str = Field(max_length=200)  # file name inside the data folder's activities/<unit>/
    evidence_sha256: str = Field(max_length=64)
    recorded_by: str = Field(max_length=80)
    recorded_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Lease(SQLModel, table=True):
    """A job only one service node may do at a time (``scheduler.record.lease``): the loudspeaker slots.
    ``holder`` is the node's worker name; the lease ends at ``until`` on the database's clock unless
    renewed, and then another node takes it."""

    name: str = Field(primary_key=True, max_length=60)
    holder: str = Field(max_length=120)
    until: datetime = Field(sa_type=UTCDateTime, nullable=False)
    since: datetime = Field(sa_type=UTCDateTime, nullable=False)  # when this holder took it


class Credential(SQLModel, table=True):
    """Tokens a channel renews by itself (Zalo OA, TikTok), sealed with ``CCHC_SECRET_KEY``.

    ``sealed`` is a Fernet token of the access and refresh tokens: never clear text. ``version``
    grows with every renewal; ``refreshing_until`` is the lease of the one process renewing now
    (refresh tokens are single-use, so two renewals at once would lose the account).
    """

    channel_id: str = Field(primary_key=True, max_length=60)
    sealed: str
    access_expires_at: datetime | None = _when()
    refresh_expires_at: datetime | None = _when()
    version: int = 0
    refreshing_until: datetime | None = _when()
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class AsRun(SQLModel, table=True):
    """Nhật ký phát: one loudspeaker slot (or emergency broadcast) and what actually played in it.

    ``parts`` lists each item in each language with its offset and length in the programme, the
    engine that voiced it and whether it has played; ``notes`` says what was rolled over or held.
    """

    __tablename__ = "as_run"
    __table_args__ = (sa.UniqueConstraint("channel_id", "slot_at", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = Field(foreign_key="channel.id", max_length=80, index=True)
    slot_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    kind: str = Field(default="slot", max_length=12)
    status: str = Field(default=AsRunStatus.PREPARED, max_length=12)
    backend: str = Field(max_length=12)
    path: str | None = None
    duration_ms: int = 0
    # How many deliveries the slot held: those in its programme, or, for a missed slot, those that
    # expired with it. A missed slot with none was not a failure to broadcast anything.
    items: int = 0
    parts: list[dict[str, Any]] = _json()
    notes: list[str] = Field(default_factory=list, sa_type=RedactedJSON, nullable=False)
    message: str | None = Field(default=None, sa_type=RedactedText)
    worker: str | None = Field(default=None, max_length=120)
    prepared_at: datetime | None = _when()
    started_at: datetime | None = _when()
    ended_at: datetime | None = _when()


class User(SQLModel, table=True):
    """A staff member who logs in to the web app. ``name`` is the actor name in approvals and the
    audit trail (the CLI's ``--user``); only an Argon2id hash of the password is kept."""

    name: str = Field(primary_key=True, max_length=60)
    role: str = Field(max_length=12)
    # The unit the account belongs to (``scheduler.record.scope``): a commune account works on its commune, a
    # province account also reads the communes below it. Accounts made before units had accounts are
    # given the default unit by ``cchc init``.
    unit_id: str | None = Field(default=None, foreign_key="unit.id", max_length=40, index=True)
    password_hash: str = Field(max_length=200)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class WebSession(SQLModel, table=True):
    """A logged-in browser. The cookie holds a random value; the table keeps only its SHA-256, so a
    copy of the database opens no session."""

    __tablename__ = "web_session"

    id_hash: str = Field(primary_key=True, max_length=64)
    user_name: str = Field(foreign_key="user.name", max_length=60, index=True)
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)


class LoginAttempt(SQLModel, table=True):
    """Failed logins, for rate limiting by name and by address."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, index=True)
    address: str = Field(max_length=60, index=True)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)


class StationSound(SQLModel, table=True):
    """The station's own recording of a part every programme has (``scheduler.loudspeaker.station``): the jingle
    (nhạc hiệu, one for all languages: ``lang`` is empty) or the station ID or outro in one language.
    Without a row the programme uses the generated chime and the voiced ``station_id``/``outro`` text."""

    __table_args__ = (sa.UniqueConstraint("channel_id", "kind", "lang"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = Field(max_length=60)
    kind: str = Field(max_length=20)  # jingle, station_id, outro
    lang: str = Field(default="", max_length=10)
    file: str = Field(max_length=200)  # inside the data folder's station/ (moves with a backup)
    sha256: str = Field(max_length=64)
    duration_ms: int
    uploaded_by: str = Field(max_length=80)
    uploaded_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Notice(SQLModel, table=True):
    """An email notice to a person (``scheduler.notify``): queued with the event, sent by the service
    apart from dispatch, retried while the mail server fails until it is no longer needed (``dropped``);
    the record of who was told what."""

    __table_args__ = (sa.UniqueConstraint("key", "recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200)  # the event it tells of: one notice an event and person
    unit_id: str = Field(max_length=40, index=True)
    kind: str = Field(max_length=30)
    recipient: str = Field(max_length=200)
    subject: str
    body: str
    link: str | None = None
    announcement_id: int | None = None  # the item it tells of, if any: decided meanwhile, the notice is dropped
    status: str = Field(default="pending", max_length=12, index=True)  # pending, sent, failed, dropped
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    sent_at: datetime | None = _when()
    last_error: str | None = None
