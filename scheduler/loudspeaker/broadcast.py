"""Loudspeaker slots at their time: start the programme ``scheduler.loudspeaker.programmes`` built, follow it
while it plays, and keep the as-run log (``scheduler.loudspeaker.asrun``).

For each loudspeaker channel and daily slot:

1. **prepare** (``prepare_minutes`` before): the approved deliveries due in the slot are voiced
   (cached), ordered by priority, fitted to the slot's maximum length, and assembled into an MP3.
   What does not fit rolls over to the next slot; what cannot be voiced (no recording, nothing
   readable, no engine) is held as ``failed`` with its reason. The as-run row is ``prepared``.
2. **play** (at the slot): the deliveries are claimed (``sending``, with a fencing attempt id) and
   the programme goes out: already in the station folder or uploaded (``folder``/``http``), or
   pushed live (``icecast``). A delivery becomes ``delivered`` only once its part has played:
   for a live push when the streamer has sent it, otherwise when its end time in the slot is past.
3. A slot whose time plus grace passed without playing (the service was down) is logged
   ``missed`` and its deliveries expire: nothing is played late. Emergency items do not wait for a
   slot: they are played at once, in a programme of their own.

The as-run row is unique per (channel, slot, kind), so a slot can never play twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from channels.loudspeaker import LoudspeakerChannel
from channels.loudspeaker.playout import Playout, PlayoutError, playout_class
from channels.loudspeaker.programme import export_mp3
from channels.secrets import redact
from scheduler.clock import show, show_vn, slot_times
from scheduler.config import Config
from scheduler.loudspeaker import asrun
from scheduler.loudspeaker.programmes import MISSED_LOOKBACK, NOT_UPLOADED, Prepared, Programmes
from scheduler.outbox.posts import post_or_cancel
from scheduler.outbox.workers import owner_alive, worker_name
from scheduler.record.db import read_session, write_session
from scheduler.record.models import AsRun, AsRunStatus

log = logging.getLogger("cchc.broadcast")
CARRIER_MS = 10_000  # the silence looped on a fallback mount between programmes
CARRIER_RETRY_SECONDS = 5.0


class Broadcaster:
    """Runs the loudspeaker slots: each programme started once at its time (``play``), what played marked as
    it plays, missed slots logged, emergencies played at once, silence kept between programmes. What it plays
    is built by ``programmes``."""

    def __init__(self, engine: Engine, config: Config, channels: dict[str, LoudspeakerChannel], data_dir: Path,
                 *, now: Callable[[], datetime], sleep: Callable[[float], None] = time.sleep):
        self.engine, self.config, self.channels = engine, config, channels
        self.data_dir, self.now, self.sleep = data_dir, now, sleep
        self.worker = worker_name()
        self.programmes = Programmes(engine, config, channels, data_dir, now=now)

    # -- between programmes --------------------------------------------------------------------

    def start_carriers(self, stop: threading.Event) -> list[threading.Thread]:
        """Keep silence playing on the fallback mount of each loudspeaker channel whose playout has one
        (Icecast ``fallback_mount``), so loudspeakers stay connected between programmes: one thread a
        channel, connecting again after a failure, until ``stop`` is set."""
        threads = []
        for name, channel in self.channels.items():
            if not channel.playout_kind.live or not self.config.channels[name].enabled:
                continue
            try:
                playout = channel.playout()
            except PlayoutError as exc:
                log.error("%s: no silence between programmes: %s", name, redact(str(exc)))
                continue
            if not playout.carries:
                continue
            s = channel.settings
            path = self.data_dir / "cache" / "carrier" / f"{name}-{s.sample_rate}-{s.bitrate}.mp3"
            if not path.exists():
                from pydub import AudioSegment

                try:
                    export_mp3(AudioSegment.silent(duration=CARRIER_MS, frame_rate=s.sample_rate), path,
                               bitrate=s.bitrate, sample_rate=s.sample_rate, channels=s.audio_channels)
                except (RuntimeError, OSError) as exc:  # the service runs on; only the silence is missing
                    log.error("%s: no silence between programmes: %s", name, exc)
                    continue
            thread = threading.Thread(target=self._carry, args=(name, playout, path, stop), daemon=True,
                                      name=f"carrier-{name}")
            thread.start()
            threads.append(thread)
        return threads

    @staticmethod
    def _carry(name: str, playout: Playout, path: Path, stop: threading.Event) -> None:
        wait = CARRIER_RETRY_SECONDS
        while not stop.is_set():
            try:
                log.info("%s: silence on the fallback mount between programmes", name)
                playout.carry(path, CARRIER_MS, stop)
                wait = CARRIER_RETRY_SECONDS
            except (PlayoutError, OSError) as exc:
                log.warning("%s: silence between programmes stopped (%s); connecting again in %.0f s", name,
                            redact(str(exc)), wait)
                stop.wait(wait)
                wait = min(wait * 2, 300)

    # -- play --------------------------------------------------------------------------------------

    def play(self, name: str, slot_at: datetime, *, kind: str = "slot") -> AsRun | None:
        """Start the slot's programme now (called at the slot time, or at once for an emergency)."""
        now = self.now()
        for _ in range(3):
            with read_session(self.engine) as session:
                existing = asrun.find(session, name, slot_at, kind)
            if existing is not None and existing.status != AsRunStatus.PREPARED:
                return existing  # already started, played or missed: a slot never plays twice
            if now > slot_at + self.programmes.grace(name):
                self.mark_missed(name, slot_at, now)
                return None
            prepared = self._current(name, slot_at, kind) or self.programmes.prepare(name, slot_at, kind=kind)
            claimed, mine = self._claim(prepared)
            if claimed is not None and not mine:
                return claimed  # another worker started it a moment ago
            if claimed is not None:
                break
            log.info("deliveries of %s %s changed since preparation: rebuilding", name, show(slot_at))
            self.programmes.prepare(name, slot_at, kind=kind)
        else:
            raise PlayoutError(f"không chốt được chương trình {name} {show_vn(slot_at)}: nội dung thay đổi liên tục")
        if claimed.status != AsRunStatus.PLAYING:
            return claimed
        channel = self.programmes.channel(name)
        if channel.playout_kind.live:
            self._stream(claimed)
        else:
            if channel.playout_kind.ahead and (claimed.message or "").startswith(NOT_UPLOADED):
                if not self.programmes.upload(prepared):
                    self._interrupt(claimed.id, "không tải được chương trình lên nền tảng truyền thanh",
                                    status=AsRunStatus.FAILED)
            self.settle()
        with read_session(self.engine) as session:
            return session.get(AsRun, claimed.id)

    def _current(self, name: str, slot_at: datetime, kind: str) -> Prepared | None:
        with read_session(self.engine) as session:
            row = asrun.find(session, name, slot_at, kind)
            if row is None or row.status != AsRunStatus.PREPARED:
                return None
            return Prepared(name, slot_at, kind, Path(row.path) if row.path else None, row.duration_ms,
                            list(row.parts), notes=list(row.notes), as_run_id=row.id)

    def _claim(self, prepared: Prepared) -> tuple[AsRun | None, bool]:
        """Claim the programme's deliveries and mark the slot playing.

        Returns (row, True) when this call started it, (row, False) when someone else already had,
        and (None, False) when the deliveries changed since the programme was built.
        """
        now = self.now()
        with write_session(self.engine) as session:
            row = session.get(AsRun, prepared.as_run_id, with_for_update=True)
            assert row is not None
            if row.status != AsRunStatus.PREPARED:
                session.expunge(row)
                return row, False
            due = self.programmes.due(session, prepared.channel, prepared.slot_at, kind=prepared.kind, now=now)
            if {d.id for d in due} != prepared.delivery_ids:
                return None, False
            for d in due:
                if post_or_cancel(session, d, now) is None:
                    return None, False
            asrun.start(session, row, due, worker=self.worker, now=now)
            session.flush()
            session.expunge(row)
        if row.parts:
            row.started_at = self._started(row.id, prepared)
        return row, True

    def _started(self, as_run_id: int, prepared: Prepared) -> datetime:
        """Stamp the programme's start once its claim is committed: the moment it really goes out, not the
        moment the claim began (what the as-run log and the slot-start figures report)."""
        now = self.now()
        asrun.stamp_start(self.engine, as_run_id, now)
        log.info("slot %s %s started %.3fs after its time with %d parts", prepared.channel,
                 show(prepared.slot_at), (now - prepared.slot_at).total_seconds(), len(prepared.parts))
        return now

    def _stream(self, row: AsRun) -> None:
        channel = self.programmes.channel(row.channel_id)
        ends = sorted({p["start_ms"] + p["duration_ms"] for p in row.parts})

        def progress(ms: int) -> None:
            if any(end <= ms for end in ends):
                self._mark_played(row.id, lambda part: part["start_ms"] + part["duration_ms"] <= ms)
                ends[:] = [end for end in ends if end > ms]

        try:
            channel.playout().stream(Path(row.path or ""), row.duration_ms, progress, sleep=self.sleep)
        except (PlayoutError, OSError) as exc:
            message = redact(str(exc))
            log.error("live push of %s %s stopped: %s", row.channel_id, show(row.slot_at), message)
            self._interrupt(row.id, f"phát trực tiếp bị dừng: {message}")
            return
        self._mark_played(row.id, lambda part: True)

    # -- after the start ---------------------------------------------------------------------------

    def settle(self) -> None:
        """Mark parts played whose time is past (folder/http); close live slots whose streamer died."""
        now = self.now()
        for row in asrun.playing(self.engine):
            assert row.started_at is not None
            if playout_class(row.backend).live:
                if row.worker != self.worker and not owner_alive(row.worker):
                    self._interrupt(row.id, f"dịch vụ ({row.worker}) dừng giữa buổi phát trực tiếp")
                continue
            elapsed = (now - row.started_at).total_seconds() * 1000
            self._mark_played(row.id, lambda part, e=elapsed: part["start_ms"] + part["duration_ms"] <= e)

    def _mark_played(self, as_run_id: int, played: Callable[[dict], bool]) -> None:
        asrun.mark_played(self.engine, as_run_id, played, self.now())

    def _interrupt(self, as_run_id: int, why: str, *, status: AsRunStatus = AsRunStatus.INTERRUPTED) -> None:
        asrun.interrupt(self.engine, as_run_id, why, self.now(), status=status)

    # -- missed slots and emergencies ------------------------------------------------------------

    def mark_missed(self, name: str, slot_at: datetime, now: datetime) -> None:
        why = (f"khung giờ {show_vn(slot_at)} bị lỡ (dịch vụ không chạy đúng giờ); "
               f"quá {int(self.programmes.grace(name).total_seconds() // 60)} phút nên không phát muộn")
        programmes = self.programmes
        with write_session(self.engine) as session:
            expired = asrun.missed(session, name, slot_at, backend=programmes.channel(name).settings.playout, why=why,
                                   due=lambda: programmes.due(session, name, slot_at, kind="slot", now=now), now=now)
        if expired is None:
            return
        log.error("%s: %s (%d deliveries expired)", name, why, len(expired))

    def sweep_missed(self) -> int:
        """Log as missed every slot whose grace ended, since the last sweep, without it playing.

        The last sweep time is kept in the database, so slots lost while the service was down are
        found when it comes back (looking back at most a week).
        """
        now = self.now()
        start = asrun.swept_since(self.engine, now, MISSED_LOOKBACK)
        found = 0
        for name, channel in self.channels.items():
            grace = self.programmes.grace(name)
            for slot_at in slot_times(channel.settings.slots, start - grace, now - grace):
                with read_session(self.engine) as session:
                    row = asrun.find(session, name, slot_at, "slot")
                if row is None or row.status == AsRunStatus.PREPARED:
                    self.mark_missed(name, slot_at, now)
                    found += 1
        return found

    def run_due(self) -> None:
        """One pass: emergencies, slots that should have started (a safety net for the slot jobs),
        programmes to prepare ahead, parts that have played, missed slots."""
        now = self.now()
        self.emergencies()
        self.programmes.refresh_prepared()
        for name, channel in self.channels.items():
            for slot_at in slot_times(channel.settings.slots, now - self.programmes.grace(name), now):
                self.play(name, slot_at)
            ahead = now + timedelta(minutes=channel.settings.prepare_minutes)
            for slot_at in slot_times(channel.settings.slots, now, ahead):
                with read_session(self.engine) as session:
                    ready = asrun.find(session, name, slot_at, "slot") is not None
                if not ready:
                    self.programmes.prepare(name, slot_at)
        self.settle()
        self.sweep_missed()

    def emergencies(self) -> int:
        """Play at once every emergency item waiting on a loudspeaker channel."""
        now = self.now().replace(microsecond=0)
        played = 0
        for name in self.channels:
            with read_session(self.engine) as session:
                waiting = self.programmes.due(session, name, now, kind="emergency", now=now)
            if waiting:
                log.warning("%s: %d emergency parts: playing now, outside the slots", name, len(waiting))
                self.play(name, now, kind="emergency")
                played += 1
        return played
