"""The loudspeaker path end to end: voices, programmes, playout, the as-run log, on both databases.

Real ffmpeg and espeak-ng voice and encode; gTTS talks to a local fake of Google's endpoint; Icecast
is Debian's icecast2 on loopback with a real listener; recordings are real audio files.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest
import requests
from pydantic import BaseModel, ConfigDict
from pydub import AudioSegment
from sqlmodel import select

from channels.base import Outcome, Receipt
from channels.loudspeaker.playout import Playout, PlayoutError
from channels.loudspeaker.tts import NoVoice, Voices
from scheduler.config import load_config
from scheduler.errors import ConfigError
from scheduler.record.db import read_session, write_session
from scheduler.record.models import AsRun, Attempt, Delivery
from scheduler.record.models import DeliveryState as S
from tests.cli import invoke
from tests.conftest import START
from tests.fakes.google_tts import FakeGoogleTTS
from tests.fakes.radio import FakeRadioPlatform
from tests.helpers import approved, make_app, set_channel, tone
from tests.icecast import IcecastServer

SLOT = START.replace(hour=10)  # 17:00 on 1 September 2025 in Vietnam: the first slot after START
LOA = ["muong-la-loa"]
CONTRACT = ("waits for a slot; its playout is tested below against a real Icecast and a fake smart-radio "
            "platform (tests/contract.py is for kinds that answer each post)")


def deliveries(app) -> dict[str, Delivery]:
    with read_session(app.engine) as session:
        return {d.ref_code: d for d in session.exec(select(Delivery)).all()}


def as_runs(app) -> list[AsRun]:
    with read_session(app.engine) as session:
        return list(session.exec(select(AsRun).order_by(AsRun.id)).all())


def loudness_of(mp3: Path, part: dict, folder: Path) -> float:
    """The integrated loudness (LUFS) of one part, cut from the programme as listeners hear it."""
    from channels.loudspeaker.loudness import measure

    cut = folder / f"part-{part['start_ms']}.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{part['start_ms'] / 1000:.3f}", "-t",
                    f"{part['duration_ms'] / 1000:.3f}", "-i", str(mp3), str(cut)], check=True)
    return measure(cut).lufs


# -- a slot from preparation to the as-run log -------------------------------------------------


def test_a_slot_plays_each_item_in_vi_then_blt_then_hmn_levelled_and_logged(loa, clock, tmp_path):
    quiet = tone(tmp_path / "thai.m4a", seconds=3, volume_db=-30)
    loud = tone(tmp_path / "mong.wav", seconds=2, volume_db=-2, frequency=330)
    ann = approved(loa, channels=LOA, languages=["vi", "blt", "hmn"],
                   body="Từ ngày 01/9/2025, UBND xã tiếp nhận hồ sơ TTHC trực tuyến.",
                   translations={"hmn": ("Txhais lus Hmoob", loud), "blt": ("Bản dịch tiếng Thái", quiet)})
    rows = deliveries(loa)
    assert {d.due_at for d in rows.values()} == {SLOT}  # snapped to the channel's 17:00 slot

    broadcaster = loa.broadcaster()
    clock.advance(SLOT - timedelta(minutes=10) - clock.now())
    prepared = broadcaster.programmes.prepare("muong-la-loa", SLOT)
    assert [p["lang"] for p in prepared.parts] == ["vi", "blt", "hmn"]
    assert [p["engine"] for p in prepared.parts] == ["espeak-ng", "recording", "recording"]
    assert prepared.path.exists() and prepared.path.with_suffix(".m3u").exists()
    assert f'"ref_code": "{ann.ref_code}.1"' in prepared.path.with_suffix(".json").read_text(encoding="utf-8")
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=sample_rate,channels,bit_rate",
                            "-of", "csv=p=0", str(prepared.path)], capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "44100,1,64000"
    target = loa.config.speech.loudness.target_lufs
    levels = [loudness_of(prepared.path, part, tmp_path) for part in prepared.parts]
    assert all(abs(level - target) <= 1.0 for level in levels), levels  # a -30 dB recording and a -2 dB one alike
    assert all(part["lufs"] == pytest.approx(target, abs=0.5) for part in prepared.parts)  # measured as cached
    assert all(d.state == S.PENDING for d in deliveries(loa).values())  # nothing is delivered before it plays

    clock.advance(timedelta(minutes=10, seconds=1))
    run = broadcaster.play("muong-la-loa", SLOT)
    assert run.status == "playing" and (run.started_at - SLOT).total_seconds() == pytest.approx(1, abs=0.01)
    assert {d.state for d in deliveries(loa).values()} == {S.SENDING}

    first = prepared.parts[0]
    clock.advance(timedelta(milliseconds=first["start_ms"] + first["duration_ms"] + 10))
    broadcaster.settle()
    states = {d.lang: d.state for d in deliveries(loa).values()}
    assert states == {"vi": S.DELIVERED, "blt": S.SENDING, "hmn": S.SENDING}  # only the part that played

    clock.advance(timedelta(minutes=5))
    broadcaster.settle()
    assert {d.state for d in deliveries(loa).values()} == {S.DELIVERED}
    (run,) = as_runs(loa)
    assert run.status == "played" and all(p["played"] for p in run.parts)
    assert run.ended_at == run.started_at + timedelta(milliseconds=run.duration_ms)

    again = broadcaster.play("muong-la-loa", SLOT)  # the slot job firing twice plays nothing twice
    assert again.status == "played"
    with read_session(loa.engine) as session:
        assert len(session.exec(select(Attempt)).all()) == 3


def test_the_as_run_start_is_stamped_when_the_claim_is_committed_not_when_it_began(loa, clock, monkeypatch):
    """The claim of a busy slot takes time (a lock, a slow disk): the as-run log says when the
    programme really went out, after its claim committed."""
    approved(loa, channels=LOA, body="Thông báo lịch tiếp công dân.")
    broadcaster = loa.broadcaster()
    clock.advance(SLOT - timedelta(minutes=10) - clock.now())
    broadcaster.programmes.prepare("muong-la-loa", SLOT)
    clock.advance(timedelta(minutes=10))
    real_due = broadcaster.programmes.due

    def slow_claim(*args, **kwargs):  # reading the slot's rows inside the claim takes 400 ms
        rows = real_due(*args, **kwargs)
        clock.advance(timedelta(milliseconds=400))
        return rows

    monkeypatch.setattr(broadcaster.programmes, "due", slow_claim)
    run = broadcaster.play("muong-la-loa", SLOT)
    with read_session(loa.engine) as session:
        [attempt] = session.exec(select(Attempt)).all()
    assert attempt.started_at == SLOT  # the claim began on time
    assert run.started_at == as_runs(loa)[0].started_at == SLOT + timedelta(milliseconds=400)


def test_clips_are_cached_and_a_new_programme_is_built_from_them(loa, clock):
    approved(loa, channels=LOA, languages=["vi"])
    broadcaster = loa.broadcaster()
    broadcaster.programmes.prepare("muong-la-loa", SLOT, dry_run=True)
    cached = sorted((loa.settings.data_dir / "cache" / "tts").glob("*.wav"))
    assert len(cached) == 3  # the item, the station ID and the outro
    stamps = [p.stat().st_mtime_ns for p in cached]
    preview = broadcaster.programmes.prepare("muong-la-loa", SLOT, dry_run=True)
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    assert as_runs(loa) == [] and preview.parts  # a preview records nothing


def test_priority_first_and_what_does_not_fit_rolls_over_to_the_next_slot(short_station, settings, clock):
    set_channel(short_station, LOA[0], max_minutes="0.25")  # 15 s: room for the short item, not the long one
    app = make_app(settings, clock)
    normal = approved(app, channels=LOA, title="Tin thường", body=LONG)
    urgent = approved(app, channels=LOA, title="Tin ưu tiên", body="Họp dân bản Nà Lốc.", priority="priority")
    prepared = app.broadcaster().programmes.prepare("muong-la-loa", SLOT)
    assert [p["ref_code"] for p in prepared.parts] == [f"{urgent.ref_code}.1"]
    assert any(normal.ref_code in note and "dời sang" in note for note in prepared.notes)
    moved = deliveries(app)[f"{normal.ref_code}.1"]
    assert moved.state == S.PENDING and moved.due_at == SLOT + timedelta(hours=13)  # 06:00 next morning
    assert "dời sang 02/09/2025 06:00" in moved.last_error


def test_items_that_cannot_be_voiced_are_held_with_a_reason_and_the_rest_plays(loa, clock, tmp_path):
    not_audio = tmp_path / "ghi-am.mp3"
    not_audio.write_text("đây không phải âm thanh", encoding="utf-8")
    good = approved(loa, channels=LOA, languages=["vi", "blt", "hmn"], translations={
        "blt": ("Bản dịch tiếng Thái", not_audio), "hmn": "Txhais lus Hmoob (chưa ghi âm)"})
    symbols = approved(loa, channels=LOA, title="📢📢📢", body="★★★ 👉👉")
    prepared = loa.broadcaster().programmes.prepare("muong-la-loa", SLOT)
    assert [(p["ref_code"], p["lang"]) for p in prepared.parts] == [(f"{good.ref_code}.1", "vi")]
    rows = deliveries(loa)
    assert "không phải âm thanh" in rows[f"{good.ref_code}.2"].last_error
    assert "chưa có bản ghi âm" in rows[f"{good.ref_code}.3"].last_error
    assert "không có chữ nào để đọc" in rows[f"{symbols.ref_code}.1"].last_error
    assert {rows[k].state for k in (f"{good.ref_code}.2", f"{good.ref_code}.3", f"{symbols.ref_code}.1")} == {
        S.FAILED}
    assert sum("bị giữ lại" in note for note in prepared.notes) == 3


def test_a_slot_missed_while_the_service_was_down_is_logged_and_never_played_late(loa, clock):
    ann = approved(loa, channels=LOA)
    broadcaster = loa.broadcaster()
    broadcaster.sweep_missed()  # the service was up at 07:00 ...
    clock.advance(SLOT + timedelta(minutes=45) - clock.now())  # ... and back at 17:45 (grace is 30 min)
    assert broadcaster.play("muong-la-loa", SLOT) is None
    loa.broadcaster().run_due()
    (run,) = as_runs(loa)
    assert run.status == "missed" and "không phát muộn" in run.message and run.started_at is None
    delivery = deliveries(loa)[f"{ann.ref_code}.1"]
    assert delivery.state == S.EXPIRED and "bị lỡ" in delivery.last_error


def test_a_restart_finds_slots_missed_while_it_was_down(loa, clock):
    approved(loa, channels=LOA)
    loa.broadcaster().sweep_missed()
    clock.advance(timedelta(days=2))  # down for two days: four slots passed
    assert loa.broadcaster().sweep_missed() == 4
    assert [r.status for r in as_runs(loa)] == ["missed"] * 4


def test_an_emergency_plays_at_once_outside_the_slots(loa, clock):
    ann = approved(loa, channels=LOA, priority="emergency", next_slot=True, title="Cảnh báo lũ quét",
                   body="Mưa lớn, nguy cơ lũ quét tại bản Nà Lốc; bà con không qua suối.")
    loa.broadcaster().run_due()
    (run,) = as_runs(loa)
    assert run.kind == "emergency" and run.status == "playing" and run.started_at == START
    clock.advance(timedelta(minutes=2))
    loa.broadcaster().run_due()
    assert deliveries(loa)[f"{ann.ref_code}.1"].state == S.DELIVERED


def test_an_edit_after_preparation_rebuilds_the_programme_without_the_old_text(loa, clock):
    from scheduler import announcements
    from scheduler.announcements import Draft

    ann = approved(loa, channels=LOA, body="Nội dung cũ.")
    broadcaster = loa.broadcaster()
    broadcaster.programmes.prepare("muong-la-loa", SLOT)
    with write_session(loa.engine) as session:  # the approval is voided: its delivery is cancelled
        announcements.edit(session, config=loa.config, ann=announcements.get(session, ann.id),
                           draft=Draft(body="Nội dung mới.", changed=["body"]), actor="lan", now=clock.now())
    clock.advance(SLOT - clock.now())
    run = broadcaster.play("muong-la-loa", SLOT)
    assert run.parts == [] and run.status == "skipped"
    assert deliveries(loa)[f"{ann.ref_code}.1"].state == S.CANCELLED


def cancel(app, ann, clock) -> None:
    from scheduler import announcements

    with write_session(app.engine) as session:
        announcements.cancel(session, ann=announcements.get(session, ann.id), actor="hung", reason="sai",
                             now=clock.now())


def void(app, ann, clock) -> None:
    """An edit voids the approval: the item goes back to draft and must not play."""
    from scheduler import announcements
    from scheduler.announcements import Draft

    with write_session(app.engine) as session:
        announcements.edit(session, config=app.config, ann=announcements.get(session, ann.id),
                           draft=Draft(body="Nội dung sửa lại, chưa duyệt."), actor="lan", now=clock.now())


def sidecar_refs(path: Path) -> list[str]:
    import json

    return [item["ref_code"] for item in json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["items"]]


def test_a_voided_item_leaves_the_station_folder_before_its_slot_and_an_emptied_slot_leaves_nothing(loa, clock):
    keep = approved(loa, channels=LOA, title="Lịch tiếp dân", body="Lịch tiếp công dân tháng 9.")
    edited = approved(loa, channels=LOA, title="Tin sẽ sửa", body="Nội dung cũ sẽ được sửa lại.")
    dropped = approved(loa, channels=LOA, title="Tin sẽ hủy", body="Nội dung sẽ bị hủy bỏ.")
    broadcaster = loa.broadcaster()
    clock.advance(SLOT - timedelta(minutes=10) - clock.now())
    broadcaster.run_due()  # the service prepares the slot ahead into the station folder
    (path,) = (loa.settings.data_dir / "playout" / "muong-la-loa").glob("*/1700.mp3")
    assert sidecar_refs(path) == [f"{a.ref_code}.1" for a in (keep, edited, dropped)]
    full = len(AudioSegment.from_file(path, format="mp3", codec="mp3"))

    void(loa, edited, clock)
    cancel(loa, dropped, clock)
    clock.advance(timedelta(minutes=1))
    broadcaster.run_due()  # the next tick rebuilds it: only what is approved and current stays
    assert sidecar_refs(path) == [f"{keep.ref_code}.1"]
    assert len(AudioSegment.from_file(path, format="mp3", codec="mp3")) < full - 2000
    assert path.name in path.with_suffix(".m3u").read_text(encoding="utf-8")

    cancel(loa, keep, clock)
    clock.advance(timedelta(minutes=1))
    broadcaster.run_due()
    assert [p.name for p in path.parent.iterdir()] == []  # no MP3, M3U or JSON of an emptied slot
    clock.advance(SLOT - clock.now())
    broadcaster.run_due()
    (run,) = as_runs(loa)
    assert (run.status, run.parts, run.items) == ("skipped", [], 0)
    assert {d.state for d in deliveries(loa).values()} == {S.CANCELLED}


# -- voices -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def google_mp3(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("gtts")
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(folder / "a.wav"), "xin chào bà con"], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(folder / "a.wav"), "-ar", "24000", "-ac", "1", "-b:a", "32k",
                    str(folder / "a.mp3")], check=True)
    return (folder / "a.mp3").read_bytes()


@pytest.fixture
def google(google_mp3):
    fake = FakeGoogleTTS(google_mp3)
    yield fake
    fake.close()


def voices_with(config_dir: Path, google: FakeGoogleTTS, tmp_path: Path, *, engines: str = '["gtts", "espeak-ng"]',
                timeout: int = 2) -> Voices:
    path = config_dir / "speech.toml"
    text = path.read_text(encoding="utf-8").replace('endpoint = "http://127.0.0.1:9/"', f'endpoint = "{google.url}"')
    text = text.replace('vi = ["gtts", "espeak-ng"]', f"vi = {engines}").replace(
        "timeout_seconds = 10", f"timeout_seconds = {timeout}")
    path.write_text(text, encoding="utf-8")
    return Voices(load_config(config_dir).speech, tmp_path / "cache", 44100)


LONG = ("Kính thưa bà con, từ ngày 01/9/2025 Ủy ban nhân dân xã Mường La tiếp nhận hồ sơ thủ tục hành chính "
        "trực tuyến qua Cổng dịch vụ công quốc gia. Mọi thắc mắc xin liên hệ bộ phận một cửa của xã.")


def test_gtts_voices_vietnamese_once_and_the_cache_makes_no_second_call(config_dir, google, tmp_path):
    voices = voices_with(config_dir, google, tmp_path)
    clip = voices.voice(LONG, "vi")
    assert clip.engine == "gtts" and not clip.cached and clip.duration_ms > 1000
    calls = len(google.requests)
    assert calls >= 3  # gTTS sends one request per ~100-character chunk
    assert all(inner[1] == "vi" for inner in google.requests)
    assert "mùng một tháng chín" in "".join(inner[0] for inner in google.requests)  # speech text was sent
    again = voices.voice(LONG, "vi")
    assert again.cached and again.engine == "gtts" and len(google.requests) == calls


@pytest.mark.parametrize("mode", [429, 500, 503, "empty", "slow"])
def test_when_gtts_fails_the_chain_falls_back_to_espeak_and_rests_gtts(config_dir, google, tmp_path, mode):
    google.mode = mode
    voices = voices_with(config_dir, google, tmp_path, timeout=1)
    started = time.monotonic()
    clip = voices.voice("Thông báo lịch tiếp công dân.", "vi")
    assert clip.engine == "espeak-ng" and clip.duration_ms > 500
    assert time.monotonic() - started < 5  # the slow answer (6 s) was cut by the 1-second timeout
    calls = len(google.requests)
    assert voices.voice("Một thông báo khác.", "vi").engine == "espeak-ng"
    assert len(google.requests) == calls  # gTTS is resting after its failure: no call


def test_no_reachable_engine_gives_every_reason(config_dir, google, tmp_path):
    google.mode = 503
    voices = voices_with(config_dir, google, tmp_path, engines='["gtts"]')
    with pytest.raises(NoVoice) as caught:
        voices.voice("Thông báo.", "vi")
    assert "không đọc được tiếng Việt" in str(caught.value) and "gTTS lỗi HTTP 503" in str(caught.value)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda p: p.write_bytes(b"PK\x03\x04 a zip, not audio"), "không phải âm thanh"),
    (lambda p: tone(p, seconds=3, volume_db=-91), "im lặng"),
    (lambda p: subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=f=200:r=8000", "-t", "7200",
                               "-b:a", "8k", str(p)], check=True), "dài 120 phút"),
])
def test_a_bad_recording_is_refused_with_what_is_wrong(loa, tmp_path, make, reason):
    path = tmp_path / "ghi-am.mp3"
    make(path)
    with pytest.raises(NoVoice, match=reason):
        loa.broadcaster().programmes.voices(44100).voice("Txhais lus Hmoob", "hmn", path)


# -- playout backends -----------------------------------------------------------------------------


@pytest.fixture
def icecast():
    server = IcecastServer("nguon-bi-mat-42")
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_icecast_live_push_is_paced_and_a_listener_hears_the_programme(short_station, settings, clock, icecast,
                                                                       monkeypatch, tmp_path):
    set_channel(short_station, LOA[0], playout='"icecast"', **{
        "icecast.table": f'[channels.muong-la-loa.settings.icecast]\nurl = "{icecast.url}"\nmount = "/muong-la"\n'
                         'password_env = "CCHC_ICECAST_PASSWORD"'})
    monkeypatch.setenv("CCHC_ICECAST_PASSWORD", icecast.password)
    app = make_app(settings, clock)
    approved(app, channels=LOA, body="Thông báo ngắn.")
    clock.advance(SLOT - clock.now())
    heard = bytearray()

    def listen() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the mount exists only while our source is connected
            response = requests.get(f"{icecast.url}/muong-la", stream=True, timeout=10)
            if response.status_code == 200:
                for chunk in response.iter_content(4096):
                    heard.extend(chunk)
                return
            time.sleep(0.05)

    listener = threading.Thread(target=listen)
    listener.start()
    started = time.monotonic()
    run = app.broadcaster().play("muong-la-loa", SLOT)
    elapsed = time.monotonic() - started
    listener.join(15)
    assert run.status == "played" and all(p["played"] for p in run.parts)
    seconds = run.duration_ms / 1000
    assert elapsed >= seconds - 2.5  # paced in real time (2 s pre-roll), not pushed at once
    (tmp_path / "heard.mp3").write_bytes(bytes(heard))
    received = AudioSegment.from_file(tmp_path / "heard.mp3", format="mp3", codec="mp3")
    assert len(received) / 1000 == pytest.approx(seconds, abs=1.0)
    assert {d.state for d in deliveries(app).values()} == {S.DELIVERED}


FALLBACK_MOUNTS = """
  <mount type="normal"><mount-name>/muong-la</mount-name><fallback-mount>/muong-la-lang</fallback-mount>
    <fallback-override>1</fallback-override></mount>
  <mount type="normal"><mount-name>/muong-la-lang</mount-name><hidden>1</hidden></mount>"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_loudspeaker_stays_connected_across_two_slots_on_the_silence_the_service_keeps(short_station, settings,
                                                                                        clock, monkeypatch):
    server = IcecastServer("nguon-bi-mat-42", mounts=FALLBACK_MOUNTS)
    server.start()
    set_channel(short_station, LOA[0], playout='"icecast"', **{
        "icecast.table": f'[channels.muong-la-loa.settings.icecast]\nurl = "{server.url}"\nmount = "/muong-la"\n'
                         'fallback_mount = "/muong-la-lang"\npassword_env = "CCHC_ICECAST_PASSWORD"'})
    monkeypatch.setenv("CCHC_ICECAST_PASSWORD", server.password)
    app = make_app(settings, clock)
    approved(app, channels=LOA, title="Tin thứ nhất", body="Lịch tiêm chủng tháng mười hai.")
    broadcaster, stop = app.broadcaster(), threading.Event()
    arrivals: list[tuple[float, bytes]] = []
    problems: list[str] = []

    def listen() -> None:  # an IP loudspeaker: connects once, to the main mount, and keeps listening
        deadline = time.monotonic() + 10
        while (response := requests.get(f"{server.url}/muong-la", stream=True, timeout=10)).status_code != 200:
            if time.monotonic() > deadline:
                problems.append(f"could not connect: {response.status_code}")
                return
            time.sleep(0.1)
        for chunk in response.iter_content(1024):
            arrivals.append((time.monotonic(), chunk))
            if stop.is_set():
                return
        problems.append("the server closed the connection")

    try:
        carriers = broadcaster.start_carriers(stop)
        listener = threading.Thread(target=listen)
        listener.start()
        time.sleep(2)  # before the first slot: silence
        clock.advance(SLOT - clock.now())
        first = broadcaster.programmes.prepare(LOA[0], SLOT)
        runs = [broadcaster.play(LOA[0], SLOT)]
        time.sleep(2)  # between the slots: silence again, on the same connection
        approved(app, channels=LOA, title="Tin thứ hai", body="Họp dân bản Nà Lốc lúc 19 giờ.")
        later = SLOT + timedelta(hours=13)  # 06:00 the next morning
        clock.advance(later - clock.now())
        second = broadcaster.programmes.prepare(LOA[0], later)
        runs.append(broadcaster.play(LOA[0], later))
        time.sleep(1.5)
    finally:
        stop.set()
        server.stop()
    listener.join(15)
    for carrier in carriers:
        carrier.join(5)
    assert problems == []
    assert [run.status for run in runs] == ["played", "played"]
    assert len(carriers) == 1 and not carriers[0].is_alive()  # it ends with the service
    heard = b"".join(chunk for _, chunk in arrivals)
    silence = next((settings.data_dir / "cache" / "carrier").glob("*.mp3")).read_bytes()
    positions = []
    for prepared in (first, second):  # 64 bytes from the middle of the item's speech, found in what was heard
        part = prepared.parts[0]
        middle = (part["start_ms"] + part["duration_ms"] // 2) * 64 // 8
        mark = prepared.path.read_bytes()[middle:middle + 64]
        assert mark not in silence
        positions.append(heard.find(mark))
    assert -1 not in positions and positions[0] < positions[1]
    times = [at for at, _ in arrivals]
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) < 1.5  # never a silence on the wire
    elapsed = times[-1] - times[0]
    assert len(heard) <= 64_000 / 8 * elapsed * 1.25 + 70_000  # real time (plus one burst), never a flood


def test_a_fallback_mount_must_be_a_mount_of_its_own(short_station):
    set_channel(short_station, LOA[0], playout='"icecast"', **{
        "icecast.table": '[channels.muong-la-loa.settings.icecast]\nurl = "http://127.0.0.1:8000"\n'
                         'mount = "/muong-la"\nfallback_mount = "muong-la"\npassword_env = "CCHC_ICECAST_PASSWORD"'})
    with pytest.raises(ConfigError, match="fallback_mount phải khác mount"):
        load_config(short_station)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_icecast_pushes_only_what_is_still_approved_at_slot_time(short_station, settings, clock, icecast, monkeypatch,
                                                                 tmp_path):
    set_channel(short_station, LOA[0], playout='"icecast"', **{
        "icecast.table": f'[channels.muong-la-loa.settings.icecast]\nurl = "{icecast.url}"\nmount = "/muong-la"\n'
                         'password_env = "CCHC_ICECAST_PASSWORD"'})
    monkeypatch.setenv("CCHC_ICECAST_PASSWORD", icecast.password)
    app = make_app(settings, clock)
    keep = approved(app, channels=LOA, title="Tin giữ lại", body="Thông báo ngắn.")
    dropped = approved(app, channels=LOA, title="Tin bị hủy", body="Thông báo này dài hơn và sẽ bị hủy trước giờ "
                                                                 "phát, nên không được phát lên loa.")
    broadcaster = app.broadcaster()
    clock.advance(SLOT - timedelta(minutes=10) - clock.now())
    prepared = broadcaster.programmes.prepare("muong-la-loa", SLOT)
    assert len(prepared.parts) == 2
    cancel(app, dropped, clock)
    clock.advance(SLOT - clock.now())
    heard = bytearray()

    def listen() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            response = requests.get(f"{icecast.url}/muong-la", stream=True, timeout=10)
            if response.status_code == 200:
                for chunk in response.iter_content(4096):
                    heard.extend(chunk)
                return
            time.sleep(0.05)

    listener = threading.Thread(target=listen)
    listener.start()
    run = broadcaster.play("muong-la-loa", SLOT)
    listener.join(15)
    assert [p["ref_code"] for p in run.parts] == [f"{keep.ref_code}.1"] and run.duration_ms < prepared.duration_ms
    (tmp_path / "heard.mp3").write_bytes(bytes(heard))
    received = AudioSegment.from_file(tmp_path / "heard.mp3", format="mp3", codec="mp3")
    assert len(received) / 1000 == pytest.approx(run.duration_ms / 1000, abs=1.0)
    states = {ref: d.state for ref, d in deliveries(app).items()}
    assert states == {f"{keep.ref_code}.1": S.DELIVERED, f"{dropped.ref_code}.1": S.CANCELLED}


def test_icecast_wrong_password_is_explained_without_the_password(icecast, tmp_path):
    from channels.loudspeaker.playout import IcecastPlayout

    mp3 = tone(tmp_path / "a.mp3", seconds=1, volume_db=-10)
    playout = IcecastPlayout(icecast.url, "/m", "source", "sai-mat-khau-99", name="Đài xã")
    with pytest.raises(PlayoutError) as caught:
        playout.stream(mp3, 1000, lambda ms: None)
    assert "401" in str(caught.value) and "sai-mat-khau-99" not in str(caught.value)


@pytest.fixture
def radio():
    fake = FakeRadioPlatform("khoa-nen-tang-7")
    yield fake
    fake.close()


def http_channel(config_dir: Path, radio: FakeRadioPlatform) -> None:
    set_channel(config_dir, LOA[0], playout='"http"', **{
        "http.table": f'[channels.muong-la-loa.settings.http]\nurl = "{radio.url}"\ntoken_env = "CCHC_RADIO_TOKEN"\n'
                      'auth_header = "X-Api-Key"\nauth_scheme = "Token"\nfile_field = "audio"\nid_field = "data.id"\n'
                      'fields = { start_at = "play_at", external_id = "client_ref" }'})


def test_http_playout_uploads_ahead_with_the_configured_fields(short_station, settings, clock, radio, monkeypatch):
    http_channel(short_station, radio)
    monkeypatch.setenv("CCHC_RADIO_TOKEN", radio.token)
    app = make_app(settings, clock)
    approved(app, channels=LOA)
    app.broadcaster().programmes.prepare("muong-la-loa", SLOT)
    (upload,) = radio.uploads
    assert upload["fields"]["play_at"] == "2025-09-01T17:00:00+07:00"
    assert upload["fields"]["client_ref"] == "muong-la-loa/2025-09-01T17:00:00"
    assert upload["files"]["audio"][:3] in (b"ID3", b"\xff\xfb")
    assert "prog-1" in as_runs(app)[0].message


def test_http_playout_replaces_a_changed_programme_and_withdraws_an_emptied_one(short_station, settings, clock,
                                                                                radio, monkeypatch):
    http_channel(short_station, radio)
    monkeypatch.setenv("CCHC_RADIO_TOKEN", radio.token)
    app = make_app(settings, clock)
    first = approved(app, channels=LOA, title="Tin một", body="Thông báo thứ nhất của xã.")
    second = approved(app, channels=LOA, title="Tin hai", body="Thông báo thứ hai, dài hơn một chút của xã.")
    broadcaster = app.broadcaster()
    clock.advance(SLOT - timedelta(minutes=10) - clock.now())
    broadcaster.run_due()
    (upload,) = radio.uploads
    long_programme = int(upload["fields"]["duration_seconds"])
    void(app, second, clock)
    clock.advance(timedelta(minutes=1))
    broadcaster.run_due()
    (upload,) = radio.uploads  # the same external id: the platform replaced it
    assert int(upload["fields"]["duration_seconds"]) < long_programme
    cancel(app, first, clock)
    clock.advance(timedelta(minutes=1))
    broadcaster.run_due()
    assert radio.uploads == [] and radio.withdrawn == ["muong-la-loa/2025-09-01T17:00:00"]
    clock.advance(SLOT - clock.now())
    broadcaster.run_due()
    assert as_runs(app)[0].status == "skipped" and radio.uploads == []


def test_http_playout_refused_fails_the_slot_and_says_why(short_station, settings, clock, radio, monkeypatch):
    http_channel(short_station, radio)
    monkeypatch.setenv("CCHC_RADIO_TOKEN", "ma-sai-123456")
    app = make_app(settings, clock)
    ann = approved(app, channels=LOA)
    broadcaster = app.broadcaster()
    broadcaster.programmes.prepare("muong-la-loa", SLOT)
    clock.advance(SLOT - clock.now())
    run = broadcaster.play("muong-la-loa", SLOT)
    assert run.status == "failed" and radio.uploads == []
    delivery = deliveries(app)[f"{ann.ref_code}.1"]
    assert delivery.state == S.FAILED and "không tải được" in delivery.last_error
    assert "ma-sai-123456" not in (as_runs(app)[0].message or "")


# -- the gap filler inside a real slot ----------------------------------------------------------


def test_a_silent_slot_plays_an_evergreen_item_marked_automatic(short_station, settings, clock):
    from tests.test_compliance import evergreen, set_fill

    set_fill(short_station, empty_slots="true")
    app = make_app(settings, clock)
    item = evergreen(app, "Hướng dẫn nộp hồ sơ trực tuyến")
    broadcaster = app.broadcaster()
    clock.advance(SLOT - timedelta(minutes=10) - clock.now())
    assert broadcaster.programmes.prepare("muong-la-loa", SLOT, dry_run=True).parts  # a preview shows the fill...
    assert deliveries(app) == {}  # ...and records nothing
    prepared = broadcaster.programmes.prepare("muong-la-loa", SLOT)
    assert [(p["ref_code"], p["lang"]) for p in prepared.parts] == [(f"{item.ref_code}.1", "vi")]
    assert [d.origin for d in deliveries(app).values()] == ["fill"]
    clock.advance(timedelta(minutes=10))
    broadcaster.play("muong-la-loa", SLOT)
    clock.advance(timedelta(minutes=5))
    broadcaster.settle()
    assert [d.state for d in deliveries(app).values()] == [S.DELIVERED]
    app.engine.dispose()


# -- a new playout is one class and one line in PLAYOUTS ------------------------------------------


class VendorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    station_code: str


class VendorPlayout(Playout):
    """A smart-radio vendor that takes programmes ahead of the slot, as a new module would declare it."""

    name = "vendor"
    Settings = VendorSettings
    ahead = True
    handed: ClassVar[list[tuple[str, dict]]] = []
    withdrawn: ClassVar[list[str]] = []

    @classmethod
    def build(cls, settings, *, station):  # noqa: ANN001, ANN206
        assert isinstance(settings, VendorSettings)
        return cls()

    def hand_over(self, path, values):  # noqa: ANN001, ANN201
        self.handed.append((path.name, values))
        return Receipt(Outcome.SENT, remote_id="v-1", message="đã nhận")

    def withdraw(self, external_id):  # noqa: ANN001, ANN201
        self.withdrawn.append(external_id)
        return Receipt(Outcome.SENT, message="đã gỡ")


def test_a_vendor_playout_declared_in_one_class_gets_its_table_checked_and_its_programmes(
        short_station, settings, clock, monkeypatch):
    from channels.loudspeaker import playout

    monkeypatch.setitem(playout.PLAYOUTS, "vendor", "tests.test_loudspeaker:VendorPlayout")
    monkeypatch.setattr(VendorPlayout, "handed", [])
    monkeypatch.setattr(VendorPlayout, "withdrawn", [])
    original = (short_station / "channels.toml").read_text(encoding="utf-8")
    for table, problem in [("", r"settings.vendor\] \(station_code\)"),
                           ('station = "x"',
                            r"settings: vendor.station_code: thiếu khóa bắt buộc này; vendor.station: khóa không")]:
        (short_station / "channels.toml").write_text(original, encoding="utf-8")
        set_channel(short_station, LOA[0], playout='"vendor"',
                    **({"vendor.table": f"[channels.muong-la-loa.settings.vendor]\n{table}"} if table else {}))
        with pytest.raises(ConfigError, match=problem):
            load_config(short_station)
    (short_station / "channels.toml").write_text(original, encoding="utf-8")
    set_channel(short_station, LOA[0], playout='"vendor"',
                **{"vendor.table": '[channels.muong-la-loa.settings.vendor]\nstation_code = "ML-01"'})
    app = make_app(settings, clock)
    ann = approved(app, channels=LOA)
    broadcaster = app.broadcaster()
    broadcaster.programmes.prepare("muong-la-loa", SLOT)
    [(name, values)] = VendorPlayout.handed
    assert name == "0000.mp3" or name.endswith(".mp3")
    assert values["external_id"] == "muong-la-loa/2025-09-01T17:00:00"
    assert (settings.data_dir / "programmes" / "muong-la-loa").exists()
    cancel(app, ann, clock)
    clock.advance(timedelta(minutes=1))
    broadcaster.programmes.refresh_prepared()
    assert VendorPlayout.withdrawn == ["muong-la-loa/2025-09-01T17:00:00"]


def test_a_quiet_recording_with_one_click_plays_as_loud_as_a_clean_one(loa, clock, tmp_path):
    """Levelled by RMS, the click kept the gain down and the quiet recording stayed 10 LU below a clean
    clip; levelled in LUFS under a true-peak ceiling, every part is within 1 LU of the target."""
    from channels.loudspeaker.loudness import measure

    quiet = tone(tmp_path / "thai.wav", seconds=4, volume_db=-32, frequency=300)
    clicked = tmp_path / "thai-click.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(quiet), "-f", "lavfi", "-t", "0.004", "-i",
                    "anoisesrc=a=0.99:c=white:r=22050", "-filter_complex",
                    "[1]adelay=2000[c];[0][c]amix=inputs=2:normalize=0", str(clicked)], check=True)
    assert measure(clicked).true_peak > -3  # one loud click in a quiet recording
    clean = tone(tmp_path / "mong.wav", seconds=4, volume_db=-6, frequency=330)
    approved(loa, channels=LOA, languages=["vi", "blt", "hmn"], body="Thông báo lịch tiêm chủng.",
             translations={"blt": ("Bản dịch tiếng Thái", clicked), "hmn": ("Txhais lus Hmoob", clean)})
    clock.advance(SLOT - timedelta(minutes=10) - clock.now())
    prepared = loa.broadcaster().programmes.prepare("muong-la-loa", SLOT)
    target = loa.config.speech.loudness.target_lufs
    levels = {part["lang"]: loudness_of(prepared.path, part, tmp_path) for part in prepared.parts}
    assert all(abs(level - target) <= 1.0 for level in levels.values()), levels
    ceiling = loa.config.speech.loudness.true_peak_dbtp
    cached = [json.loads(path.read_text()) for path in (loa.settings.data_dir / "cache" / "tts").glob("*.json")]
    assert cached and all(clip["true_peak"] <= ceiling + 0.1 for clip in cached), cached  # the click held under it
    shown = invoke(loa.settings, "programme", "--slot", "2025-09-01 17:00", "--json", "--now", "2025-09-01 16:50")
    assert shown.returncode == 0, shown.stderr
    assert all(abs(p["lufs"] - target) <= 1.0 for p in json.loads(shown.stdout)["parts"])
