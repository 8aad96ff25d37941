"""The station's own sound: a jingle, station ID and outro recorded by the station replace the chime
and the voiced texts in every programme, checked like recordings on the way in."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from scheduler.record.db import read_session
from scheduler.record.models import AuditEvent, StationSound
from tests.cli import invoke, snapshot
from tests.helpers import approved, tone
from tests.test_loudspeaker import LOA, SLOT, loudness_of

CHIME_MS = 180 * 3 + 520  # programme.JINGLE_NOTES
GAP_MS = 300  # the short_station fixture's gap between languages


def test_the_station_s_jingle_and_its_thai_station_id_open_the_programmes_that_carry_thai(loa, settings, clock,
                                                                                           tmp_path):
    approved(loa, channels=LOA, languages=["vi"], body="Lịch tiếp công dân tháng 12.")
    before = loa.broadcaster().programmes.prepare(LOA[0], SLOT, dry_run=True)
    jingle = tone(tmp_path / "nhac-hieu.mp3", seconds=4, volume_db=-3, frequency=660)
    thai = tone(tmp_path / "gioi-thieu-thai.m4a", seconds=2.5, volume_db=-28, frequency=300)
    for args in (["jingle", str(jingle)], ["station_id", str(thai), "--lang", "blt"]):
        done = invoke(settings, "station", "set", *args, "--user", "hung")
        assert done.returncode == 0, done.stderr
    assert "Đã đặt nhạc hiệu của kênh muong-la-loa" in invoke(settings, "station", "set", "jingle", str(jingle),
                                                              "--user", "hung").stdout

    vi_only = loa.broadcaster().programmes.prepare(LOA[0], SLOT, dry_run=True)
    shift = vi_only.parts[0]["start_ms"] - before.parts[0]["start_ms"]
    assert shift == pytest.approx(4000 - CHIME_MS, abs=30)  # the jingle changed; no Thai station ID
    assert vi_only.duration_ms - before.duration_ms == pytest.approx(2 * (4000 - CHIME_MS), abs=60)
    target = loa.config.speech.loudness.target_lufs
    assert loudness_of(vi_only.path, {"start_ms": 0, "duration_ms": 4000}, tmp_path) == pytest.approx(target, abs=1)

    approved(loa, channels=LOA, languages=["vi", "blt"], title="Tin có tiếng Thái",
             translations={"blt": ("Bản dịch", tone(tmp_path / "thai-item.wav", seconds=2, volume_db=-12))})
    with_thai = loa.broadcaster().programmes.prepare(LOA[0], SLOT, dry_run=True)
    opening = with_thai.parts[0]["start_ms"] - vi_only.parts[0]["start_ms"]
    assert opening == pytest.approx(GAP_MS + 2500, abs=30)  # the Thai station ID after the Vietnamese one
    thai_id = {"start_ms": with_thai.parts[0]["start_ms"] - 500 - 2500, "duration_ms": 2500}
    assert loudness_of(with_thai.path, thai_id, tmp_path) == pytest.approx(target, abs=1)  # a -28 dB recording

    listed = invoke(settings, "station", "list", "--json")
    sources = {(row["kind"], row["lang"]): row["source"] for row in json.loads(listed.stdout)}
    assert sources[("jingle", "-")].startswith("bản ghi của đài (4.0 giây")
    assert sources[("station_id", "vi")] == "giọng đọc lời trong cấu hình"
    assert sources[("station_id", "blt")].startswith("bản ghi của đài")

    cleared = invoke(settings, "station", "clear", "jingle", "--user", "hung")
    assert cleared.returncode == 0 and "dùng mặc định" in cleared.stdout
    back = loa.broadcaster().programmes.prepare(LOA[0], SLOT, dry_run=True)
    assert back.parts[0]["start_ms"] == pytest.approx(with_thai.parts[0]["start_ms"] - (4000 - CHIME_MS), abs=30)
    with read_session(loa.engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.subject == "channel:muong-la-loa")).all()
        actions = [event.action for event in events]
    assert actions == ["station-sound", "station-sound", "station-sound", "station-sound-cleared"]


def test_a_station_recording_that_cannot_be_used_is_refused_in_vietnamese_and_nothing_is_stored(loa, settings,
                                                                                                tmp_path):
    for name, role in (("lan", "editor"), ("hung", "approver")):
        made = invoke(settings, "user", "add", name, "--role", role, "--password-stdin",
                      input_text="mat-khau-dai-2025\n")
        assert made.returncode == 0, made.stderr
    not_audio = tmp_path / "nhac-hieu.mp3"
    not_audio.write_text("đây không phải âm thanh", encoding="utf-8")
    long_jingle = tone(tmp_path / "dai.wav", seconds=40, volume_db=-6)
    silent = tone(tmp_path / "im.wav", seconds=3, volume_db=-90)
    good = tone(tmp_path / "tot.wav", seconds=3, volume_db=-6)
    before = snapshot(settings.url)
    for args, words in [
        (["jingle", str(not_audio)], "nhac-hieu.mp3"),
        (["jingle", str(long_jingle)], "tối đa 30 giây"),
        (["outro", str(silent)], "im lặng"),
        (["outro", str(good), "--lang", "fr"], "không phát tiếng 'fr'"),
        (["outro", str(good), "--channel", "muong-la-web"], "không có kênh truyền thanh 'muong-la-web'"),
        (["outro", str(tmp_path / "khong-co.wav")], "không tìm thấy"),
    ]:
        refused = invoke(settings, "station", "set", *args, "--user", "hung")
        assert refused.returncode == 2, (args, refused.stdout)
        assert words in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    editor = invoke(settings, "station", "set", "outro", str(good), "--user", "lan")
    assert editor.returncode == 2 and "không được đặt âm thanh của đài" in editor.stderr
    assert snapshot(settings.url) == before
    with read_session(loa.engine) as session:
        assert session.exec(select(StationSound)).all() == []
    assert not list((settings.data_dir / "station").glob("**/*.*"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_approvers_upload_listen_to_and_clear_the_station_s_sound_on_the_channels_page(staff, tmp_path):
    from tests.web import logged_in

    hung, csrf = logged_in(staff, "hung")
    outro = tone(tmp_path / "loi-ket-mong.m4a", seconds=3, volume_db=-10)
    page = hung.get("/channels").text
    assert "Âm thanh của đài" in page and "tiếng chuông tự tạo" in page and "giọng đọc lời trong cấu hình" in page
    answer = hung.post("/channels/muong-la-loa/station", data={"csrf": csrf, "kind": "outro", "lang": "hmn"},
                       files={"file": ("loi-ket-mong.m4a", outro.read_bytes(), "audio/mp4")})
    assert answer.status_code == 303 and "loi-ket-mong.m4a" in answer.headers["location"]
    page = hung.get("/channels").text
    assert "bản ghi của đài (3.0 giây)" in page and 'src="/channels/muong-la-loa/station/outro/hmn"' in page
    heard = hung.get("/channels/muong-la-loa/station/outro/hmn")
    assert heard.status_code == 200 and heard.content == outro.read_bytes()
    assert list((staff.settings.data_dir / "uploads").iterdir()) == []  # the upload's temporary file is gone

    noise = hung.post("/channels/muong-la-loa/station", data={"csrf": csrf, "kind": "jingle", "lang": ""},
                      files={"file": ("nhac-hieu.mp3", b"PK\x03\x04 a zip file named .mp3", "audio/mpeg")})
    assert noise.status_code == 400 and "Tệp ghi âm: " in noise.text and "nhac-hieu.mp3" in noise.text
    assert "Traceback" not in noise.text
    lan, lan_csrf = logged_in(staff, "lan")
    editor = lan.post("/channels/muong-la-loa/station", data={"csrf": lan_csrf, "kind": "jingle", "lang": ""},
                      files={"file": ("nhac-hieu.m4a", outro.read_bytes(), "audio/mp4")})
    assert editor.status_code == 403 and "Thẩm định hoặc Quản trị" in editor.text
    assert "Tải lên" not in lan.get("/channels").text  # an editor sees the sounds, not the forms
    with read_session(staff.engine) as session:
        assert [(row.kind, row.lang) for row in session.exec(select(StationSound))] == [("outro", "hmn")]

    cleared = hung.post("/channels/muong-la-loa/station/clear", data={"csrf": csrf, "kind": "outro", "lang": "hmn"})
    assert cleared.status_code == 303
    assert hung.get("/channels/muong-la-loa/station/outro/hmn").status_code == 404


def test_a_station_id_as_long_as_allowed_uploads_as_a_wav_file(staff, tmp_path):
    """A station ID may last two minutes; a WAV file of one is far larger than a form without files."""
    from tests.web import logged_in

    hung, csrf = logged_in(staff, "hung")
    recorded = tone(tmp_path / "gioi-thieu-dai.wav", seconds=30, volume_db=-12)
    assert recorded.stat().st_size > 1_000_000
    answer = hung.post("/channels/muong-la-loa/station", data={"csrf": csrf, "kind": "station_id", "lang": "vi"},
                       files={"file": ("gioi-thieu-dai.wav", recorded.read_bytes(), "audio/wav")})
    assert answer.status_code == 303, answer.text
    assert "bản ghi của đài (30.0 giây)" in hung.get("/channels").text


def test_a_thai_item_rolled_over_to_the_next_slot_takes_its_thai_station_id_with_it(loa, settings, clock, tmp_path):
    from tests.helpers import make_app, set_channel

    approved(loa, channels=LOA, languages=["vi"], body="Lịch tiếp công dân.")
    vi_only = loa.broadcaster().programmes.prepare(LOA[0], SLOT, dry_run=True)
    thai_id = tone(tmp_path / "gioi-thieu-thai.m4a", seconds=2.5, volume_db=-12, frequency=300)
    assert invoke(settings, "station", "set", "station_id", str(thai_id), "--lang", "blt", "--user", "hung"
                  ).returncode == 0
    approved(loa, channels=LOA, languages=["vi", "blt"], title="Tin có tiếng Thái",
             body="Thông báo về lịch tiêm phòng cho đàn gia súc của các bản trong toàn xã.",
             translations={"blt": ("Bản dịch", tone(tmp_path / "thai-item.wav", seconds=4, volume_db=-12))})
    both = loa.broadcaster().programmes.prepare(LOA[0], SLOT, dry_run=True)
    assert len(both.parts) == 3 and both.parts[0]["start_ms"] > vi_only.parts[0]["start_ms"]  # the Thai ID
    # A slot just too short for the Thai item: it rolls over, and the Thai station ID goes with it.
    set_channel(settings.config_dir, LOA[0], max_minutes=f"{(both.duration_ms - 1500) / 60_000:.4f}")
    short = make_app(settings, clock)
    rolled = short.broadcaster().programmes.prepare(LOA[0], SLOT, dry_run=True)
    assert [p["lang"] for p in rolled.parts] == ["vi"] and len(rolled.rolled) == 2
    assert rolled.parts[0]["start_ms"] == vi_only.parts[0]["start_ms"]
    short.engine.dispose()


def test_a_long_mp3_given_as_a_jingle_is_refused_from_its_header_before_it_is_decoded(loa, settings, tmp_path,
                                                                                        monkeypatch):
    """A 14-minute MP3 (3.3 MB) as a 30-second jingle: ffprobe's reading of its header refuses it; nothing of
    it is decoded (decoding it whole would take some 80 MB more for one upload)."""
    import subprocess

    from channels.loudspeaker import tts

    long_mp3 = tmp_path / "nhac-hieu-dai.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=f=440:r=22050", "-t", "840", "-ac", "1",
                    "-b:a", "32k", str(long_mp3)], check=True)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the recording was decoded before its length was checked")

    monkeypatch.setattr(tts, "decode", no_decoding)
    before = snapshot(settings.url)
    refused = invoke(settings, "station", "set", "jingle", str(long_mp3), "--user", "hung")
    assert refused.returncode == 2 and "dài 840 giây, tối đa 30 giây" in refused.stderr, refused.stderr
    assert snapshot(settings.url) == before
