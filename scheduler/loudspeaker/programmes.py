"""Building what will play: the programme of each loudspeaker slot (chương trình phát), prepared
``prepare_minutes`` ahead.

The approved deliveries due in the slot (and the evergreen items the gap filler adds) are voiced (cached),
ordered by priority, fitted to the slot's maximum length and assembled into an MP3 with the station's jingle,
station ID and outro, levelled to one loudness; the station folder gets it with its playlist and sidecar, a
smart-radio platform gets it uploaded. What does not fit rolls over to the next slot; what cannot be voiced
(no recording, nothing readable, no engine) is held as ``failed`` with its reason. The as-run row is
``prepared``. A programme whose items changed since (cancelled, edited, approval voided) is built again, or
withdrawn when nothing is left, so only approved, current items reach the station. Playing it at its time is
``scheduler.loudspeaker.broadcast``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from channels.files import atomic_write
from channels.loudspeaker import LoudspeakerChannel, LoudspeakerSettings
from channels.loudspeaker.playout import PlayoutError, playlist, prune, sidecar
from channels.loudspeaker.programme import LANGUAGE_ORDER, Item, Layout, Piece, assemble, export_mp3, fit, fixed_ms
from channels.loudspeaker.tts import Clip, NoVoice, Voices, voice_post
from channels.secrets import redact
from scheduler.clock import LOCAL_TZ, next_slot, show, show_vn
from scheduler.config import Config
from scheduler.labels import AS_RUN_STATUS
from scheduler.loudspeaker import asrun, station
from scheduler.loudspeaker.fill import due_in_slot, fill_slot
from scheduler.outbox.deliveries import move, reschedule
from scheduler.outbox.posts import approval_problem, post_or_cancel
from scheduler.outbox.states import CLAIMABLE
from scheduler.record.db import read_session, write_session
from scheduler.record.models import PRIORITY_RANK, AsRun, AsRunStatus, Attempt, Delivery, Priority
from scheduler.record.models import DeliveryState as S

log = logging.getLogger("cchc.broadcast")
EMERGENCY_RANK = PRIORITY_RANK[Priority.EMERGENCY]
MISSED_LOOKBACK = timedelta(days=7)
NOT_UPLOADED = "chưa tải lên được nền tảng truyền thanh"
UPLOADED = "đã tải lên nền tảng truyền thanh"


@dataclass
class Prepared:
    """A built programme: what will play, and what was rolled over or held (with reasons)."""

    channel: str
    slot_at: datetime
    kind: str
    path: Path | None
    duration_ms: int
    parts: list[dict]
    rolled: list[tuple[int, str]] = field(default_factory=list)  # (delivery id, reason)
    held: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    as_run_id: int | None = None

    @property
    def delivery_ids(self) -> set[int]:
        return {p["delivery_id"] for p in self.parts}


class Programmes:
    """Builds, rebuilds and withdraws the programmes of the loudspeaker channels (one for the process: it keeps
    the TTS engines and their cool-downs)."""

    def __init__(self, engine: Engine, config: Config, channels: dict[str, LoudspeakerChannel], data_dir: Path,
                 *, now: Callable[[], datetime]):
        self.engine, self.config, self.channels = engine, config, channels
        self.data_dir, self.now = data_dir, now
        self._voices: dict[int, Voices] = {}

    # -- helpers ---------------------------------------------------------------------------------

    def voices(self, sample_rate: int) -> Voices:
        if sample_rate not in self._voices:
            self._voices[sample_rate] = Voices(self.config.speech, self.data_dir / "cache" / "tts", sample_rate)
        return self._voices[sample_rate]

    def channel(self, name: str) -> LoudspeakerChannel:
        channel = self.channels.get(name)
        if channel is None:
            known = ", ".join(sorted(self.channels)) or "(chưa có)"
            raise LookupError(f"không có kênh truyền thanh '{name}'; các kênh truyền thanh: {known}")
        return channel

    def grace(self, name: str) -> timedelta:
        return timedelta(minutes=self.config.channels[name].grace_minutes)

    def folder(self, name: str) -> Path:
        s = self.channel(name).settings
        if s.folder:
            folder = Path(s.folder)
            return folder if folder.is_absolute() else self.data_dir / folder
        return self.data_dir / self.channel(name).playout_kind.folder_name / name

    def listen(self, name: str, text: str, lang: str, recording: Path | None, out: Path) -> Clip:
        """Voice one text (or recording) as channel ``name`` would, levelled, into ``out`` (.mp3 or .wav):
        what staff hear before approving. ``NoVoice`` says why it cannot be voiced."""
        settings = self.channel(name).settings
        clip = self.voices(settings.sample_rate).voice(text, lang, recording)
        audio = clip.audio()  # levelled as it entered the cache
        if out.suffix.lower() == ".wav":
            out.parent.mkdir(parents=True, exist_ok=True)
            audio.export(out, format="wav")
        else:
            export_mp3(audio, out, bitrate=settings.bitrate, sample_rate=settings.sample_rate,
                       channels=settings.audio_channels)
        return clip

    # -- prepare -----------------------------------------------------------------------------------

    def prepare(self, name: str, slot_at: datetime, *, kind: str = "slot", dry_run: bool = False,
                out: Path | None = None) -> Prepared:
        """Build the programme of a slot. ``dry_run`` changes nothing in the database (``cchc programme``)."""
        channel = self.channel(name)
        s = channel.settings
        now = self.now()
        voices = self.voices(s.sample_rate)
        with write_session(self.engine) as session:
            existing = asrun.find(session, name, slot_at, kind)
            if existing is not None and existing.status != AsRunStatus.PREPARED and not dry_run:
                raise PlayoutError(f"khung giờ {show_vn(slot_at)} của {name} đã ở trạng thái "
                                  f"'{AS_RUN_STATUS[AsRunStatus(existing.status)].lower()}'")
            if kind == "slot":
                fill_slot(session, self.config, name, slot_at, now=now)  # evergreen items, by the plan's rules
            rows = self.due(session, name, slot_at, kind=kind, now=now)
            own = {(row.kind, row.lang): station.path_of(self.data_dir, row) for row in station.sounds(session, name)}
            posts = [(d.id, d.ref_code, post_or_cancel(session, d, now)) for d in rows]
            if dry_run:
                session.rollback()  # post_or_cancel may cancel; a preview changes nothing
        items: dict[int, Item] = {}
        held: list[tuple[int, str]] = []
        for delivery_id, _, post in posts:
            if post is None:
                continue
            try:
                clip = voice_post(voices, post)
            except NoVoice as exc:
                held.append((delivery_id, str(exc)))
                continue
            item = items.setdefault(post.announcement_id, Item(post.announcement_id, post.ref_code.rsplit(".", 1)[0],
                                                               post.title, post.priority))
            if post.lang == "vi":
                item.title = post.title
            item.pieces.append(Piece(delivery_id, post.ref_code, post.lang, clip))
        ordered = sorted(items.values(), key=lambda it: (PRIORITY_RANK[Priority(it.priority)], it.announcement_id))
        loud = self.config.speech.loudness
        layout = Layout(s.gap_ms, s.item_gap_ms, loud.target_lufs, loud.true_peak_dbtp, s.sample_rate)
        languages = {piece.lang for item in ordered for piece in item.pieces}
        tune, opening, closing = self._station_sound(voices, s, own, languages)
        budget = int(s.max_minutes * 60_000) - fixed_ms(opening, closing, layout, tune)
        kept, left_out = (ordered, []) if kind == "emergency" else fit(ordered, budget, layout)
        playing = {piece.lang for item in kept for piece in item.pieces}
        if playing != languages:  # a language rolled over whole: its station ID and outro go with it
            tune, opening, closing = self._station_sound(voices, s, own, playing)
        rolled = [(p.delivery_id, "không đủ thời lượng khung giờ") for item in left_out for p in item.pieces]
        prepared = Prepared(name, slot_at, kind, None, 0, [], rolled=rolled, held=held)
        for item in left_out:
            prepared.notes.append(f"{item.ref_code} ({item.title[:60]}): không đủ thời lượng, dời sang khung giờ sau")
        for delivery_id, reason in held:
            prepared.notes.append(f"lượt {_ref(posts, delivery_id)} bị giữ lại: {reason}")
        if not kept and kind != "emergency" and out is None and not dry_run:
            self._withdraw(name, slot_at, kind)  # nothing (left) to play: no stale programme stays behind
        if kept or kind == "emergency":
            audio, parts = assemble(kept, opening, closing, layout, tune)
            target = out or self._programme_path(name, slot_at, kind)
            export_mp3(audio, target, bitrate=s.bitrate, sample_rate=s.sample_rate, channels=s.audio_channels)
            prepared.path, prepared.duration_ms, prepared.parts = target, len(audio), parts
            if out is None:
                title = f"{self.config.channels[name].title} {show_vn(slot_at)}"
                atomic_write(target.with_suffix(".m3u"), playlist(target.name, title, len(audio)))
                atomic_write(target.with_suffix(".json"),
                             sidecar(name, show(slot_at), kind, len(audio), parts, prepared.notes))
        if not dry_run:
            self._record_prepared(prepared, now)
            prune(self.folder(name), now.astimezone(LOCAL_TZ).date(), s.keep_days)
        return prepared

    def _withdraw(self, name: str, slot_at: datetime, kind: str) -> None:
        """Take an earlier programme of this slot off playout: its files, and its upload."""
        target = self._programme_path(name, slot_at, kind)
        had = target.exists()
        for path in (target, target.with_suffix(".m3u"), target.with_suffix(".json")):
            path.unlink(missing_ok=True)
        with read_session(self.engine) as session:
            row = asrun.find(session, name, slot_at, kind)
        uploaded = row is not None and (row.message or "").startswith(UPLOADED)
        if self.channel(name).playout_kind.ahead and uploaded:
            receipt = self.channel(name).playout().withdraw(self._external_id(name, slot_at))
            if receipt.outcome != "sent":
                log.error("%s %s: the emptied programme could not be withdrawn from the platform: %s", name,
                          show(slot_at), receipt.message)
                raise PlayoutError(f"không gỡ được chương trình cũ khỏi nền tảng truyền thanh: {receipt.message}")
        if had or uploaded:
            log.warning("%s %s: no item left to play; the programme prepared earlier was withdrawn", name,
                        show(slot_at))

    def refresh_prepared(self) -> int:
        """Rebuild every programme prepared ahead whose items changed since (an item cancelled, edited,
        or its approval voided; a new one due), so that the station folder and the platform hold only
        approved, current items; a slot left with nothing is withdrawn. Returns how many were rebuilt."""
        now = self.now()
        with read_session(self.engine) as session:
            rows = session.exec(select(AsRun).where(AsRun.status == AsRunStatus.PREPARED, AsRun.kind == "slot",
                                                    col(AsRun.channel_id).in_(list(self.channels)),
                                                    AsRun.slot_at > now - MISSED_LOOKBACK)).all()
            stale = [(row.channel_id, row.slot_at) for row in rows if self._changed(session, row, now)]
        for name, slot_at in stale:
            log.warning("%s %s: items changed since the programme was prepared: rebuilding", name, show(slot_at))
            self.prepare(name, slot_at)
        return len(stale)

    def _changed(self, session: Session, row: AsRun, now: datetime) -> bool:
        due = self.due(session, row.channel_id, row.slot_at, kind=row.kind, now=now)
        if {d.id for d in due} != {p["delivery_id"] for p in row.parts}:
            return True
        return any(approval_problem(session, d) for d in due)

    def _station_sound(self, voices: Voices, s: LoudspeakerSettings, own: dict[tuple[str, str], Path],
                       languages: set[str]) -> tuple[Clip | None, list[Clip], list[Clip]]:
        """The jingle (the station's own, or None for the chime), and the station ID and outro: the
        station's recording in Vietnamese or else the voiced text, then its recording in each other
        language of this programme (``scheduler.loudspeaker.station``)."""
        tune = self._own_clip(voices, own.get(("jingle", "")), "vi")
        others = sorted(languages - {"vi"}, key=lambda lang: LANGUAGE_ORDER.get(lang, 9))
        spoken: list[list[Clip]] = []
        for kind, text in (("station_id", s.station_id), ("outro", s.outro)):
            clips = [self._own_clip(voices, own.get((kind, "vi")), "vi") or self._fixed_clip(voices, text)]
            clips += [self._own_clip(voices, own.get((kind, lang)), lang) for lang in others]
            spoken.append([clip for clip in clips if clip is not None])
        return tune, spoken[0], spoken[1]

    def _own_clip(self, voices: Voices, path: Path | None, lang: str) -> Clip | None:
        if path is None:
            return None
        try:
            return voices.recorded(path, lang)
        except NoVoice as exc:
            log.error("the station's recording %s cannot be used; the default plays instead: %s", path.name, exc)
            return None

    def _fixed_clip(self, voices: Voices, text: str) -> Clip | None:
        try:
            return voices.voice(text, "vi")
        except NoVoice as exc:
            log.error("station text could not be voiced; the programme plays without it: %s", exc)
            return None

    def _programme_path(self, name: str, slot_at: datetime, kind: str) -> Path:
        local = slot_at.astimezone(LOCAL_TZ)
        stem = f"{local:%H%M}" if local.second == 0 else f"{local:%H%M%S}"
        if kind == "emergency":
            stem += "-khan-cap"
        return self.folder(name) / f"{local:%Y-%m-%d}" / f"{stem}.mp3"

    def due(self, session: Session, name: str, slot_at: datetime, *, kind: str, now: datetime) -> list[Delivery]:
        """The deliveries a slot's programme takes (an emergency programme: every emergency part waiting now)."""
        if kind == "emergency":
            query = select(Delivery).where(Delivery.channel_id == name, col(Delivery.state).in_(CLAIMABLE),
                                           Delivery.priority_rank == EMERGENCY_RANK, Delivery.next_attempt_at <= now,
                                           Delivery.expires_at > now)
        else:
            query = due_in_slot(name, slot_at)
        return list(session.exec(query.order_by(col(Delivery.priority_rank), col(Delivery.due_at),
                                                col(Delivery.id))).all())

    def _record_prepared(self, prepared: Prepared, now: datetime) -> None:
        s = self.channel(prepared.channel).settings
        with write_session(self.engine) as session:
            for delivery_id, reason in prepared.held:
                d = session.get(Delivery, delivery_id)
                if d is not None and d.state in CLAIMABLE:
                    move(d, S.FAILED, now, last_error=reason, finished_at=now)
                    session.add(Attempt(delivery_id=d.id, attempt_id=str(uuid.uuid4()), kind="send",
                                        started_at=now, finished_at=now, outcome="held", message=reason))
                    log.warning("delivery %s held: %s", d.ref_code, reason)
            for delivery_id, reason in prepared.rolled:
                self._roll_over(session, delivery_id, prepared.slot_at, reason, now)
            prepared.as_run_id = asrun.record_prepared(
                session, prepared.channel, prepared.slot_at, prepared.kind, backend=s.playout,
                path=str(prepared.path or ""), duration_ms=prepared.duration_ms, parts=prepared.parts,
                notes=prepared.notes, now=now)
        if self.channel(prepared.channel).playout_kind.ahead and prepared.parts:
            self.upload(prepared)

    def _roll_over(self, session: Session, delivery_id: int, slot_at: datetime, reason: str, now: datetime) -> None:
        """A part that did not fit waits for the channel's next slot (or expires, if that slot has it already)."""
        d = session.get(Delivery, delivery_id)
        if d is None or d.state not in CLAIMABLE:
            return
        channel = self.channel(d.channel_id)
        later = next_slot(channel.settings.slots, slot_at)
        expires = later + self.grace(d.channel_id)
        clash = session.exec(select(Delivery.id).where(
            Delivery.approval_id == d.approval_id, Delivery.channel_id == d.channel_id, Delivery.lang == d.lang,
            Delivery.due_at == later)).first()
        if clash is not None:
            move(d, S.EXPIRED, now, finished_at=now,
                 last_error=f"{reason}; khung giờ {show_vn(later)} đã có lượt phát này nên không dời")
        else:
            reschedule(d, later, expires, now, why=f"{reason} {show_vn(slot_at)}: dời sang {show_vn(later)}")
        log.warning("delivery %s: %s", d.ref_code, d.last_error)

    def upload(self, prepared: Prepared) -> bool:
        """Hand a built programme to a smart-radio platform (``http`` playout); its as-run row says whether it went."""
        channel = self.channel(prepared.channel)
        assert prepared.path is not None
        receipt = channel.playout().hand_over(prepared.path, {
            "title": f"{self.config.channels[prepared.channel].title} {show_vn(prepared.slot_at)}",
            "start_at": prepared.slot_at.astimezone(LOCAL_TZ).isoformat(),
            "external_id": self._external_id(prepared.channel, prepared.slot_at),
            "duration_seconds": round(prepared.duration_ms / 1000),
        })
        ok = receipt.outcome == "sent"
        assert prepared.as_run_id is not None
        asrun.note(self.engine, prepared.as_run_id, f"{UPLOADED} (mã {receipt.remote_id})" if ok
                   else f"{NOT_UPLOADED}: {redact(receipt.message)[:300]}")
        if not ok:
            log.error("upload of %s %s failed: %s", prepared.channel, show(prepared.slot_at), receipt.message)
        return ok

    @staticmethod
    def _external_id(name: str, slot_at: datetime) -> str:
        """The programme's id on a smart-radio platform: one per slot, so a rebuilt programme replaces it."""
        return f"{name}/{slot_at.astimezone(LOCAL_TZ):%Y-%m-%dT%H:%M:%S}"


def _ref(posts: list, delivery_id: int) -> str:
    return next((ref for found, ref, _ in posts if found == delivery_id), str(delivery_id))
