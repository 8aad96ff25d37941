"""The interface every output channel implements, and the vocabulary of outcomes.

A channel turns one delivery (a ``Post``) into the platform's request and reports what happened in
a ``Receipt``. It makes **one** attempt and never raises on a remote failure: retries, backoff and
state belong to ``scheduler.outbox.dispatch``. Where the outcome of a send is unknown (a timeout after the
request left), the channel says ``UNKNOWN`` and later ``reconcile`` asks the platform, by the post's
reference code or stored remote id, whether the post exists: nothing is re-sent blindly.

Platforms that publish at a given time themselves (WordPress's ``future`` posts) may receive a post
ahead of its due time (``send_ahead_minutes`` in the channel's configuration). Their receipt says
``scheduled``; if the approval is voided before the post goes live, ``retract`` takes it back.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from channels.secrets import control_problem, mask

SEND_MARGIN = timedelta(minutes=2)
# What a channel is, as plans speak of them: a plan's target may name a category, and counts every
# channel of it, including kinds added later.
CATEGORIES = ("website", "social", "loudspeaker")


class Outcome(StrEnum):
    """What one send attempt achieved."""

    SENT = "sent"  # the platform has the post; remote_id/url are set
    PENDING = "pending"  # accepted, still processing on the platform; reconcile follows it up
    RETRYABLE = "retryable"  # did not happen, safe to try again later (connect error, 5xx before storing)
    RATE_LIMITED = "rate_limited"  # did not happen; try again after ``retry_after`` seconds
    PERMANENT = "permanent"  # refused for good (bad request, content rejected): a person must act
    NEEDS_REAUTH = "needs_reauth"  # credentials are invalid or expired: a person must renew them
    UNKNOWN = "unknown"  # may or may not have happened: reconcile, never re-send blindly


class Found(StrEnum):
    """What a reconcile learned from the platform."""

    PRESENT = "present"
    ABSENT = "absent"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Receipt:
    """The result of ``send``; ``message`` is safe to store and show (no secrets)."""

    outcome: Outcome
    remote_id: str | None = None
    url: str | None = None
    retry_after: float | None = None
    http_status: int | None = None
    error_code: str | None = None
    message: str = ""
    scheduled: bool = False  # SENT, and the platform will publish it at the due time (not yet live)
    # Seconds the whole channel must wait before its next call (a platform's usage headers say the
    # account is at its limit): no delivery of the channel is tried meanwhile.
    channel_wait: float | None = None


@dataclass(frozen=True)
class Reconciled:
    """The result of ``reconcile``."""

    found: Found
    remote_id: str | None = None
    url: str | None = None
    message: str = ""
    scheduled: bool = False  # PRESENT, waiting on the platform for its due time
    retry_after: float | None = None  # UNKNOWN, and the platform says when to ask again


@dataclass(frozen=True)
class Post:
    """Everything a channel may use to publish one delivery, already approved and rendered."""

    delivery_id: int
    ref_code: str
    announcement_id: int
    lang: str
    title: str
    body: str
    priority: str
    topics: list[str]
    due_at: datetime
    unit_name: str
    sent_at: datetime
    audio_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # When it was first sent (for reconcile: how far back to look on the platform); None if never.
    first_sent_at: datetime | None = None
    # For reconcile on a platform that lists posts without dates (Zalo): this channel's own posts,
    # newest first, that went out before ``first_sent_at`` (by a margin wider than any clock skew).
    # A search that meets one has looked far enough back.
    older_remote_ids: tuple[str, ...] = ()
    # The claim it is sent under (``SendHooks`` find the delivery by it while the send runs), and how long
    # that claim's lease is; empty for a preview.
    attempt_id: str = ""
    lease_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["due_at"] = self.due_at.isoformat()
        data["sent_at"] = self.sent_at.isoformat()
        data["first_sent_at"] = self.first_sent_at.isoformat() if self.first_sent_at else None
        return data


class SendHooks(Protocol):
    """What a channel tells the outbox while one send is still running (``scheduler.outbox.progress.Progress``)."""

    def remote_id(self, post: Post, remote_id: str) -> None:
        """The platform gave ``remote_id`` before the send is over: keep it on the delivery at once."""

    def progress(self, post: Post) -> None:
        """A send of many requests is still going: extend its lease, so no other worker takes it over."""


@dataclass(frozen=True)
class Wiring:
    """What the composition root gives each channel as it builds it (``build_channel``), so nothing is set
    on a channel afterwards: the service's clock (Zalo's night, token expiry: ``--now`` and the simulation
    see them), the outbox's ``SendHooks``, a token store by channel name (``channels.tokens``: Zalo,
    TikTok) and the voices (``channels.loudspeaker.tts.Voices``: channels that ``speak``)."""

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    hooks: SendHooks | None = None
    tokens: Callable[[str], Any] | None = None
    voices: Any = None


class Failed(Exception):
    """A step inside ``send`` or ``reconcile`` did not succeed; ``receipt`` says what the delivery
    should do. Channels raise it between their own helpers and turn it back into the receipt."""

    def __init__(self, receipt: Receipt):
        super().__init__(receipt.message)
        self.receipt = receipt


class ChannelSettings(BaseModel):
    """Base of each channel's typed settings. Secrets are named by ``*_env`` keys, never inline."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class OutgoingRequest:
    """An HTTP request as a channel would send it, for preview mode. Secrets are already masked."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


class Channel(ABC):
    """One configured output.

    Subclasses set ``kind`` (the registry key used in ``config/channels.toml``), ``category``, ``label``
    and ``Settings`` (validated when the configuration is loaded, so a typo fails ``cchc config check``,
    not a send).
    """

    kind: ClassVar[str]
    category: ClassVar[str]  # one of CATEGORIES
    label: ClassVar[str]  # what staff call this kind (Vietnamese)
    # True for channels that only write files under the data folder: safe to run on a practice copy.
    local: ClassVar[bool] = False
    Settings: ClassVar[type[ChannelSettings]] = ChannelSettings
    supports_preview: ClassVar[bool] = False
    # True for channels whose deliveries wait for a daily slot (loudspeaker): the dispatcher leaves
    # them to scheduler.loudspeaker.broadcast.
    slotted: ClassVar[bool] = False
    # True for channels whose posts link to the announcement's website article (``post.extra["website_url"]``):
    # the dispatcher looks the link up just before sending, for them only.
    links_to_website: ClassVar[bool] = False
    # True for channels that publish the item's voice (TikTok's video, WordPress's audio player): the
    # composition root gives them ``voices``, the loudspeaker's TTS chain (channels.loudspeaker.tts).
    speaks: ClassVar[bool] = False
    voices: Any = None
    # For platforms that publish at a set time themselves: the least time ahead of the due time at
    # which ``send`` schedules the post there (the platform's own minimum, plus a margin for clocks).
    # Such a channel may be given ``send_ahead_minutes`` and must implement ``retract``.
    schedules_ahead: ClassVar[timedelta | None] = None

    def __init__(self, name: str, settings: dict[str, Any], *, data_dir: Path, wiring: Wiring | None = None):
        self.name = name
        self.settings = self.Settings.model_validate(settings)
        self.data_dir = data_dir
        wiring = wiring or Wiring()
        self.clock: Callable[[], datetime] = wiring.clock  # of time rules: the service's, --now's, a test's
        self.hooks = wiring.hooks  # the outbox's, while a send runs (none for a preview or a bare channel)
        if self.speaks:
            self.voices = wiring.voices

    def progress(self, post: Post) -> None:
        """Say that a send of many requests (an upload in chunks, a poll) is still going: the
        dispatcher extends the delivery's lease, so no other worker takes it for abandoned."""
        if self.hooks is not None:
            self.hooks.progress(post)

    def longest_request(self) -> float:
        """The longest one request of this channel may take, in seconds (its timeouts): another worker
        waits longer than this past a send's lease before it takes the send for abandoned."""
        settings = self.settings
        return float(max(getattr(settings, "timeout_seconds", 60) or 60,
                         getattr(settings, "upload_timeout_seconds", 0) or 0))

    def remember(self, post: Post, remote_id: str) -> None:
        """Keep ``remote_id`` on the delivery at once, before ``send`` returns.

        For platforms that answer a first request with an id and need more requests to finish the
        post (TikTok's publish id before the upload, Zalo's article token before verify): if the
        process dies in between, ``reconcile`` still gets the id and asks about it.
        """
        if self.hooks is not None:
            self.hooks.remote_id(post, remote_id)

    @classmethod
    def settings_problems(cls, settings: dict[str, Any]) -> list[tuple[tuple, str]]:
        """Problems with ``settings`` as (key path, message) pairs; empty when they are valid."""
        try:
            cls.Settings.model_validate(settings)
        except ValidationError as exc:
            return [(tuple(err["loc"]), str(err["ctx"]["error"]) if err["type"] == "value_error" else err["msg"])
                    for err in exc.errors()]
        return []

    def check(self) -> list[str]:
        """Problems that would stop this channel from publishing (credentials, folders); empty if fine."""
        return []

    def secret_problems(self) -> list[str]:
        """Secrets named by this channel's ``*_env`` settings that could not travel in an HTTP header
        (a stray newline from pasting): each named by its variable, never shown."""
        return [problem for env in _env_names(self.settings.model_dump()) if (problem := control_problem(env))]

    def notes(self) -> list[str]:
        """Things staff should know about this channel even when it works (``cchc channel check``)."""
        return []

    @abstractmethod
    def send(self, post: Post) -> Receipt:
        """Publish ``post`` once and report the outcome. Must not raise on a remote failure."""

    def reconcile(self, post: Post, remote_id: str | None) -> Reconciled:
        """Ask the platform whether ``post`` exists (by ``post.ref_code`` or ``remote_id``).

        Called for a delivery whose send outcome is unknown, or that a crashed process left in
        ``sending``. ``PRESENT`` marks it delivered, ``ABSENT`` lets it be sent again, ``UNKNOWN``
        keeps it waiting for a later look. The default knows nothing.
        """
        return Reconciled(Found.UNKNOWN, message="kênh này không kiểm tra lại được")

    @classmethod
    def least_send_ahead(cls) -> timedelta:
        """The shortest useful ``send_ahead_minutes``: the platform's minimum plus the time from the
        dispatcher's claim to the platform's answer (making the voice, uploading)."""
        return (cls.schedules_ahead or timedelta(0)) + SEND_MARGIN

    def scheduled_on_platform(self, post: Post) -> bool:
        """Whether ``send`` hands ``post`` to the platform to publish at its due time."""
        return self.schedules_ahead is not None and post.due_at - post.sent_at >= self.schedules_ahead

    def retract(self, post: Post, remote_id: str) -> Receipt:
        """Take back a post scheduled on the platform (its approval was voided): ``SENT`` when it is
        gone, or was never there; otherwise the usual outcomes, and the dispatcher tries again."""
        return Receipt(Outcome.PERMANENT, message="kênh này không gỡ được bài đã gửi")

    def preview_text(self, post: Post) -> str:
        """The text readers will see for ``post`` on this channel (the approver's preview): the body,
        unless the platform's own text differs (a social caption cut to length, a page's HTML)."""
        return post.body

    def request_for(self, post: Post) -> OutgoingRequest:
        """The exact request ``send`` would make, with secrets masked (preview mode)."""
        raise NotImplementedError(f"channel kind {self.kind} has no preview mode")

    def describe(self) -> str:
        """A one-line description that is safe to log: secrets are masked."""
        shown = {
            key: (mask(value) if key.endswith(("token", "secret", "password")) else value)
            for key, value in self.settings.model_dump().items()
        }
        return f"{self.kind}:{self.name} {shown}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def _env_names(settings: Any) -> list[str]:
    """The environment variable names in a channel's settings (``*_env`` keys, nested tables too)."""
    if isinstance(settings, dict):
        found = []
        for key, value in settings.items():
            if key.endswith("_env") and isinstance(value, str):
                found.append(value)
            else:
                found += _env_names(value)
        return found
    return []
