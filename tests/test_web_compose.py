"""Composing and editing in the web app: translations with their recordings (and the uploads a form
must refuse), the live per-channel preview, the audio preview, and edits that void an approval."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from sqlmodel import select

from scheduler.record.db import read_session
from scheduler.record.models import Announcement, Approval, Translation
from tests.helpers import tone
from tests.web import approve, compose, logged_in

TAI_VIET = "ꪎꪳ ꪼꪕ ꪀꪱꪙ ꪻꪊ ꪁꪮꪉ"  # Thái text in the Tai Viet script
HMONG = "Tsoom fwv teb chaws tshaj tawm txog kev hloov kho kev tswj hwm"


def seconds_of(audio: bytes, tmp_path: Path) -> float:
    path = tmp_path / "nghe.mp3"
    path.write_bytes(audio)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name",
                            "-of", "json", str(path)], capture_output=True, text=True, check=True)
    info = json.loads(probe.stdout)
    assert info["streams"][0]["codec_name"] == "mp3"
    return float(info["format"]["duration"])


def form(csrf: str, **fields) -> dict:
    return {"csrf": csrf, "title": "Thông báo lịch tiếp công dân", "body": "Chủ tịch UBND xã tiếp công dân.",
            "topics": "a", "channels": ["muong-la-website", "muong-la-loa"], "languages": ["vi", "blt", "hmn"],
            "at": "2025-09-02T06:30", "priority": "normal", "repeat": "none", **fields}


def stored(app, ann_id: int) -> tuple[Announcement, dict[str, Translation]]:
    with read_session(app.engine) as session:
        ann = session.get(Announcement, ann_id)
        rows = session.exec(select(Translation).where(Translation.announcement_id == ann_id)).all()
        return ann, {t.lang: t for t in rows}


def created_id(answer) -> int:
    assert answer.status_code == 303, answer.text
    return int(re.search(r"/announcements/(\d+)", answer.headers["location"]).group(1))


def test_translations_and_recordings_are_saved_with_the_announcement(staff, tmp_path):
    lan, csrf = logged_in(staff, "lan")
    recording = tone(tmp_path / "ban-thai.wav", seconds=3, volume_db=-12)
    answer = lan.post("/announcements", data=form(csrf, title_blt="ꪋꪱꪙ", body_blt=TAI_VIET, body_hmn=HMONG),
                      files={"audio_blt": ("ban-thai.wav", recording.read_bytes(), "audio/wav")})
    ann_id = created_id(answer)
    ann, translations = stored(staff, ann_id)
    assert ann.languages == ["vi", "blt", "hmn"]
    assert translations["blt"].body == TAI_VIET and translations["blt"].title == "ꪋꪱꪙ"
    assert translations["hmn"].title == ann.title and translations["hmn"].audio_path is None
    assert Path(translations["blt"].audio_path).read_bytes() == recording.read_bytes()
    assert list((staff.settings.data_dir / "uploads").iterdir()) == []  # the upload's temporary file is gone
    page = lan.get(f"/announcements/{ann_id}").text
    assert TAI_VIET in page and HMONG in page and "có ghi âm" in page and "chưa có ghi âm" in page


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("name", "content", "expected"), [
    ("ghi-am.exe", b"MZ\x90\x00 a program", "không phải tệp âm thanh"),
    ("ghi-am.mp3", b"PK\x03\x04 a zip file named .mp3", "không phải âm thanh"),
    ("ghi-am.mp3", b"", "trống"),
    ("ghi-am.wav", b"\0" * (50 * 2**20 + 1), "quá lớn (tối đa 50 MB)"),
])
def test_a_wrong_or_oversize_upload_is_refused_and_nothing_is_stored(staff, name, content, expected):
    lan, csrf = logged_in(staff, "lan")
    answer = lan.post("/announcements", data=form(csrf, body_blt=TAI_VIET, title="Tin có tệp lạ"),
                      files={"audio_blt": (name, content, "application/octet-stream")})
    assert answer.status_code == 400 and expected in answer.text and "Ghi âm tiếng Thái" in answer.text
    assert "Traceback" not in answer.text
    assert 'value="Tin có tệp lạ"' in answer.text and TAI_VIET in answer.text  # what was typed comes back
    with read_session(staff.engine) as session:
        assert session.exec(select(Announcement)).all() == []
    uploads = staff.settings.data_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_submitting_without_a_translation_says_what_to_fill_in_on_the_page_not_a_command(staff):
    """The fault: the web showed "hãy thêm bằng: cchc translate 1 --lang blt …", a command staff never run,
    naming an id that was not kept."""
    lan, csrf = logged_in(staff, "lan")
    answer = lan.post("/announcements", data=form(csrf, body_hmn=HMONG, title="Tin thiếu bản Thái", submit="1"))
    assert answer.status_code in (400, 409) and "thiếu bản dịch tiếng Thái" in answer.text
    assert "cchc" not in answer.text and "ô Bản tiếng Thái" in answer.text
    with read_session(staff.engine) as session:
        assert session.exec(select(Announcement)).all() == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_form_larger_than_two_recordings_is_refused_before_it_is_read(staff):
    lan, csrf = logged_in(staff, "lan")
    answer = lan.post("/announcements", data=form(csrf, body_blt=TAI_VIET),
                      files={"audio_blt": ("a.wav", b"\0" * (101 * 2**20 + 10), "audio/wav")})
    assert answer.status_code == 413 and "quá lớn: tối đa 101 MB" in answer.text and "tệp ghi âm" in answer.text


def test_editing_the_text_voids_the_approval_and_saving_unchanged_keeps_it(staff, clock):
    lan, lan_csrf = logged_in(staff, "lan")
    ann_id = created_id(lan.post("/announcements", data=form(lan_csrf, body_blt=TAI_VIET, body_hmn=HMONG,
                                                             submit="1")))
    hung, hung_csrf = logged_in(staff, "hung")
    assert approve(hung, hung_csrf, ann_id).status_code == 303

    editing = lan.get(f"/announcements/{ann_id}/edit").text
    assert "Sửa thông báo ML-2025-0001" in editing and TAI_VIET in editing and "đã được duyệt" in editing
    same = form(lan_csrf, body_blt=TAI_VIET, body_hmn=HMONG)
    answer = lan.post(f"/announcements/{ann_id}/edit", data=same)
    assert answer.status_code == 303
    ann, _ = stored(staff, ann_id)
    assert ann.status == "approved"  # nothing changed: the approval stands

    changed = lan.post(f"/announcements/{ann_id}/edit", data={**same, "body": "Đổi giờ tiếp công dân.",
                                                              "body_hmn": HMONG + " (kho)"})
    assert changed.status_code == 303 and "h%E1%BA%BFt+hi%E1%BB%87u+l%E1%BB%B1c" in changed.headers["location"]
    ann, translations = stored(staff, ann_id)
    assert ann.status == "draft" and ann.body == "Đổi giờ tiếp công dân." and translations["hmn"].body.endswith("(kho)")
    with read_session(staff.engine) as session:
        approval = session.exec(select(Approval).where(Approval.announcement_id == ann_id)).one()
    assert approval.voided_at is not None


def test_the_live_preview_shows_each_channel_before_saving(staff):
    lan, csrf = logged_in(staff, "lan")
    fields = form(csrf, title="Lịch <b>tiếp</b> dân", body="Nội dung " * 800, body_blt=TAI_VIET,
                  channels=["muong-la-website", "muong-la-facebook"])
    fields.pop("csrf")
    assert lan.post("/api/preview", data=fields).status_code == 403  # the header token is needed
    answer = lan.post("/api/preview", data=fields, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200
    previews = {(p["channel"], p["lang"]): p for p in answer.json()["previews"]}
    assert set(previews) == {("muong-la-website", "vi"), ("muong-la-website", "blt"), ("muong-la-website", "hmn"),
                             ("muong-la-facebook", "vi")}
    assert previews[("muong-la-website", "hmn")]["problem"] == "chưa nhập bản tiếng Mông"
    facebook = previews[("muong-la-facebook", "vi")]
    assert facebook["limit"] == 5000 and facebook["length"] <= 5000  # Facebook's text is cut to its limit
    assert TAI_VIET in previews[("muong-la-website", "blt")]["text"]
    assert "XEM-TRUOC" not in answer.text and "ML-2025-" in facebook["text"]  # the unit's numbering, not a code
    empty = lan.post("/api/preview", data={"channels": "muong-la-website"}, headers={"X-CSRF-Token": csrf})
    assert [(p["channel"], p["lang"], p["text"]) for p in empty.json()["previews"]] == [("muong-la-website", "vi", "")]
    with read_session(staff.engine) as session:
        assert session.exec(select(Announcement)).all() == []  # a preview saves nothing
    page = lan.get("/announcements/new").text
    assert 'id="live-preview"' in page and 'enctype="multipart/form-data"' in page


def test_the_audio_preview_plays_the_voice_and_the_recording(staff, tmp_path, monkeypatch):
    lan, csrf = logged_in(staff, "lan")
    recording = tone(tmp_path / "thai.mp3", seconds=4, volume_db=-12)
    ann_id = created_id(lan.post("/announcements", data=form(csrf, body_blt=TAI_VIET, languages=["vi", "blt"]),
                                 files={"audio_blt": ("thai.mp3", recording.read_bytes(), "audio/mpeg")}))
    page = lan.get(f"/announcements/{ann_id}").text
    assert f'src="/announcements/{ann_id}/audio/vi"' in page and f'src="/announcements/{ann_id}/audio/blt"' in page
    spoken = lan.get(f"/announcements/{ann_id}/audio/vi")
    assert spoken.status_code == 200 and spoken.headers["content-type"] == "audio/mpeg"
    assert 1 < seconds_of(spoken.content, tmp_path) < 30
    thai = lan.get(f"/announcements/{ann_id}/audio/blt")
    assert abs(seconds_of(thai.content, tmp_path) - 4) < 0.3  # the translator's recording, as recorded
    from channels.loudspeaker import tts

    def no_second_decoding(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("the preview was decoded again")

    monkeypatch.setattr(tts, "decode", no_second_decoding)
    assert lan.get(f"/announcements/{ann_id}/audio/blt").content == thai.content  # decoded once, then cached


def lying_wav(path: Path, *, rate: int, minutes: float, size: int = 100_000) -> Path:
    """A WAV file whose header claims ``minutes`` at ``rate`` Hz but which holds only ``size`` bytes."""
    import struct

    claimed = int(minutes * 60 * rate * 2)
    header = b"RIFF" + struct.pack("<I", 36 + claimed) + b"WAVE" + b"fmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", claimed)
    path.write_bytes(header + bytes(range(256)) * ((size - len(header)) // 256))
    return path


def long_quiet_mp3(path: Path, minutes: int) -> Path:
    """A small file that plays for a long time: an hour of near silence at 8 kbit/s."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t",
                    str(minutes * 60), "-b:a", "8k", str(path)], check=True)
    return path


@pytest.mark.parametrize("bomb", ["384 kHz", "dài 60 phút"])
def test_a_recording_is_measured_before_it_is_decoded(staff, tmp_path, monkeypatch, bomb):
    """100 KB claiming 14 minutes at 384 kHz, or an hour in a few MB: refused from ffprobe's reading."""
    from channels.loudspeaker import tts

    def never(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("a recording over its limits was decoded")

    path = (lying_wav(tmp_path / "bom.wav", rate=384_000, minutes=14) if bomb == "384 kHz"
            else long_quiet_mp3(tmp_path / "bom.mp3", 60))
    monkeypatch.setattr(tts, "decode", never)
    lan, csrf = logged_in(staff, "lan")
    answer = lan.post("/announcements", data=form(csrf, body_blt=TAI_VIET, languages=["vi", "blt"]),
                      files={"audio_blt": (path.name, path.read_bytes(), "audio/mpeg")})
    words = bomb
    assert answer.status_code == 400 and words in answer.text and "Ghi âm tiếng Thái" in answer.text
    with read_session(staff.engine) as session:
        assert session.exec(select(Announcement)).all() == []


def test_an_announcement_without_a_recording_says_so_instead_of_playing(staff):
    lan, csrf = logged_in(staff, "lan")
    ann_id = compose(lan, csrf, channels="muong-la-loa", languages=["vi", "hmn"], body_hmn=HMONG)
    answer = lan.get(f"/announcements/{ann_id}/audio/hmn")
    assert answer.status_code == 409 and "Chưa nghe thử được" in answer.text and "ghi âm" in answer.text


def test_dates_are_typed_and_shown_as_vietnamese_write_them(staff):
    """No browser date picker (it shows mm/dd/yyyy in an English browser): staff type dd/mm/yyyy hh:mm,
    and the form shows what is stored the same way."""
    from scheduler.clock import show

    lan, csrf = logged_in(staff, "lan")
    ann_id = created_id(lan.post("/announcements", data=form(csrf, at="02/09/2025 06:30", repeat="daily",
                                                             until="05/09/2025")))
    ann, _ = stored(staff, ann_id)
    assert show(ann.first_at) == "2025-09-02 06:30" and ann.repeat_until is not None
    page = lan.get(f"/announcements/{ann_id}/edit").text
    assert 'value="02/09/2025 06:30"' in page and 'value="05/09/2025"' in page and 'type="date' not in page
    wrong = lan.post("/announcements", data=form(csrf, at="31/02/2025 06:30"))
    assert wrong.status_code == 400 and "không tồn tại trong lịch" in wrong.text
