"""Loudspeaker figures: programme assembly from cached clips, and slot start delay.

    .venv/bin/python bench/loudspeaker.py [--slots 50] [--runs 5]

1. Builds a programme of 10 items x 3 languages (vi by espeak-ng, blt/hmn from recordings) once to
   fill the clip cache, then times assembly (pydub) and MP3 encoding (ffmpeg) from cached clips.
2. With ``--pending`` other deliveries waiting in the queue (a busy commune's week ahead on the
   loudspeaker and the website), prepares ``--slots`` slots one second apart, lets APScheduler start
   each (date trigger, as the service's cron jobs do) and prints the start delay: the as-run start,
   stamped once the slot's claim has committed, minus the scheduled time (median, p99, worst).
Everything runs in a temporary folder with SQLite; nothing touches ./data.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apscheduler.schedulers.background import BackgroundScheduler  # noqa: E402
from sqlalchemy import update  # noqa: E402
from sqlmodel import select  # noqa: E402

from channels.loudspeaker.programme import Item, Layout, Piece, assemble, export_mp3  # noqa: E402
from scheduler import announcements  # noqa: E402
from scheduler.announcements import Draft  # noqa: E402
from scheduler.app import App  # noqa: E402
from scheduler.clock import LOCAL_TZ, Clock  # noqa: E402
from scheduler.record import catalog
from scheduler.record.db import migrate, read_session, write_session  # noqa: E402
from scheduler.record.models import AsRun, Delivery  # noqa: E402
from scheduler.settings import PROJECT_ROOT, Settings  # noqa: E402

CHANNEL = "muong-la-loa"


def make_app(folder: Path) -> App:
    config = folder / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    speech = config / "speech.toml"  # offline: espeak-ng only, no waiting on Google
    speech.write_text(speech.read_text(encoding="utf-8").replace('vi = ["gtts", "espeak-ng"]', 'vi = ["espeak-ng"]'),
                      encoding="utf-8")
    app = App(Settings(data_dir=folder / "data", config_dir=config, site_port=0), Clock())
    migrate(app.engine)
    with write_session(app.engine) as session:
        catalog.sync(session, app.config)
    return app


def assembly(app: App, folder: Path, runs: int) -> None:
    broadcaster = app.broadcaster()
    s = broadcaster.programmes.channel(CHANNEL).settings
    voices = broadcaster.programmes.voices(s.sample_rate)
    recordings = []
    for index, frequency in enumerate((330, 440)):
        path = folder / f"rec{index}.m4a"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=f={frequency}:r=22050", "-t", "20",
                        str(path)], check=True)
        recordings.append(path)
    items = []
    for n in range(10):
        text = (f"Thông báo số {n + 1}: từ ngày 01/9/2025, UBND xã Mường La tiếp nhận hồ sơ TTHC trực tuyến "
                f"qua Cổng dịch vụ công quốc gia; tỷ lệ hồ sơ trực tuyến năm 2024 đạt {80 + n},5%.")
        pieces = [Piece(n * 3 + 1, f"B-{n}.1", "vi", voices.voice(text, "vi"))]
        pieces += [Piece(n * 3 + 2 + i, f"B-{n}.{2 + i}", lang, voices.voice(text, lang, recordings[i]))
                   for i, lang in enumerate(("blt", "hmn"))]
        items.append(Item(n, f"B-{n}", f"Thông báo {n + 1}", "normal", pieces))
    station = voices.voice(s.station_id, "vi")
    outro = voices.voice(s.outro, "vi")
    loud = app.config.speech.loudness
    layout = Layout(s.gap_ms, s.item_gap_ms, loud.target_lufs, loud.true_peak_dbtp, s.sample_rate)
    build, encode = [], []
    for _ in range(runs):
        started = time.perf_counter()
        audio, parts = assemble(items, [station], [outro], layout)
        build.append(time.perf_counter() - started)
        started = time.perf_counter()
        export_mp3(audio, folder / "bench.mp3", bitrate=s.bitrate, sample_rate=s.sample_rate,
                   channels=s.audio_channels)
        encode.append(time.perf_counter() - started)
    print(f"programme: 10 items x 3 languages = {len(parts)} parts, {len(audio) / 60000:.1f} min of audio")
    print(f"  assemble from cached clips (pydub): median {statistics.median(build):.3f} s, "
          f"worst {max(build):.3f} s over {runs} runs")
    print(f"  encode to MP3 {s.bitrate} (ffmpeg): median {statistics.median(encode):.3f} s, worst {max(encode):.3f} s")


def fill_queue(app: App, pending: int) -> None:
    """``pending`` deliveries due over the coming week, copies of one real item's deliveries."""
    with write_session(app.engine) as session:
        ann = announcements.create(session, config=app.config, author="lan", now=app.now(), draft=Draft(
            title="Tin chờ trong hàng", body="Nội dung chờ phát.", channels=[CHANNEL, "muong-la-website"],
            languages=["vi"], at=app.now() + timedelta(days=2)))
        announcements.submit(session, ann=ann, actor="lan", now=app.now())
        announcements.approve(session, config=app.config, ann=ann, approver="hung", now=app.now())
        rows = session.exec(select(Delivery).where(Delivery.announcement_id == ann.id)).all()
        copies = []
        for n in range(pending):
            model = rows[n % len(rows)]
            due = model.due_at + timedelta(minutes=1 + n // len(rows))
            copies.append(Delivery(**(model.model_dump(exclude={"id"}) | {
                "ref_code": f"{model.ref_code}-{n}", "due_at": due, "next_attempt_at": due,
                "expires_at": due + timedelta(days=1)})))
        session.add_all(copies)


def start_delay(app: App, slots: int, pending: int) -> None:
    fill_queue(app, pending)
    broadcaster = app.broadcaster()
    # Up to a second to prepare each slot before the first one starts (a slot already due when the
    # scheduler starts would be a misfire, not a start delay: counted and said below).
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=slots + 10)
    times = [first + timedelta(seconds=i) for i in range(slots)]
    for index, slot_at in enumerate(times):
        with write_session(app.engine) as session:
            ann = announcements.create(session, config=app.config, author="lan", now=app.now(), draft=Draft(
                title=f"Bản tin {index}", body="Thông báo ngắn cho khung giờ thử.", channels=[CHANNEL],
                languages=["vi"], at=app.now() + timedelta(days=1)))
            announcements.submit(session, ann=ann, actor="lan", now=app.now())
            announcements.approve(session, config=app.config, ann=ann, approver="hung", now=app.now())
            session.execute(update(Delivery).where(Delivery.announcement_id == ann.id).values(
                # Real slots are hours apart; here they are a second apart, so each item must belong
                # to its own slot only (otherwise every programme would also carry the later items).
                due_at=slot_at, next_attempt_at=slot_at, expires_at=slot_at + timedelta(milliseconds=900)))
        broadcaster.programmes.prepare(CHANNEL, slot_at)
    late = sum(1 for slot_at in times if slot_at <= datetime.now(UTC))
    if late:
        print(f"  ({late} slots were already due when preparation ended: their delay is preparation time)")
    scheduler = BackgroundScheduler(timezone=LOCAL_TZ)
    for slot_at in times:
        scheduler.add_job(broadcaster.play, "date", run_date=slot_at, args=[CHANNEL, slot_at],
                          misfire_grace_time=60)
    scheduler.start()
    time.sleep(max(0.0, (times[-1] - datetime.now(UTC)).total_seconds()) + 2)
    scheduler.shutdown(wait=True)
    with read_session(app.engine) as session:
        runs = session.exec(select(AsRun).where(AsRun.started_at.is_not(None))).all()
        delays = sorted((r.started_at - r.slot_at).total_seconds() * 1000 for r in runs)
    p99 = delays[min(len(delays) - 1, round(0.99 * (len(delays) - 1)))]
    print(f"slot start delay over {len(delays)} slots with {pending:,} other deliveries pending "
          "(APScheduler date trigger -> claim committed -> playing):")
    print(f"  median {statistics.median(delays):.1f} ms, p99 {p99:.1f} ms, worst {max(delays):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pending", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cchc-bench-") as work:
        folder = Path(work)
        app = make_app(folder)
        assembly(app, folder, args.runs)
        start_delay(app, args.slots, args.pending)


if __name__ == "__main__":
    main()
