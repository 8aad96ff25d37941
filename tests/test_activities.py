"""The activities register: activities recorded with a checked evidence file, counted by the targets that
name their kind (the dialogue with businesses, twice a year in both seed plans), listed in the report."""

import json
from datetime import date

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlmodel import select

from scheduler.config import load_config
from scheduler.errors import ConfigError, InputError, RuleError
from scheduler.plans import activities
from scheduler.plans.compliance import Status, evaluate
from scheduler.plans.periods import parse_period
from scheduler.plans.plan_import import propose
from scheduler.record import users
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Activity
from scheduler.settings import PROJECT_ROOT
from tests.cli import invoke
from tests.helpers import add_commune, make_app


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "doi-thoai.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(path)
    return path


@pytest.fixture
def minutes_pdf(tmp_path):
    path = tmp_path / "bien-ban.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    return path


def dialogue(app, evidence, day, **more):
    with write_session(app.engine) as session:
        return activities.record(session, app.config, app.settings.data_dir, unit="muong-la", kind="dialogue",
                                 held_on=day, title="Đối thoại của lãnh đạo UBND xã với doanh nghiệp",
                                 place="Hội trường UBND xã", participants=42, evidence=evidence, actor="lan",
                                 now=app.now(), **more)


def test_two_dialogues_meet_the_yearly_target_and_their_evidence_is_kept(app, photo, minutes_pdf):
    year = parse_period("2025")
    with read_session(app.engine) as session:
        before = evaluate(session, app.config, unit="muong-la", span=year, now=app.now())
    row = next(r for r in before.rows if r.key == "business-dialogue")
    assert (row.delivered, row.status) == (0, Status.AT_RISK)  # September: two still to hold, none scheduled
    first = dialogue(app, photo, date(2025, 6, 12))
    second = dialogue(app, minutes_pdf, date(2025, 8, 20))
    kept = app.settings.data_dir / "activities" / "muong-la"
    assert (kept / first.evidence).read_bytes() == photo.read_bytes() and first.evidence.endswith(".png")
    assert second.evidence.endswith(".pdf")
    with read_session(app.engine) as session:
        after = evaluate(session, app.config, unit="muong-la", span=year, now=app.now())
        month = evaluate(session, app.config, unit="muong-la", span=parse_period("2025-08"), now=app.now())
    row = next(r for r in after.rows if r.key == "business-dialogue")
    assert (row.delivered, row.status) == (2, Status.MET)
    assert next(r for r in month.rows if r.key == "business-dialogue").delivered == 2  # the year holding August


def test_evidence_that_is_not_a_photo_or_pdf_is_refused_and_nothing_is_stored(app, tmp_path):
    fake = tmp_path / "anh.jpg"
    fake.write_text("đây không phải ảnh", encoding="utf-8")
    broken = tmp_path / "hong.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    for path in (fake, broken):
        with pytest.raises(InputError, match="không phải ảnh .* hay PDF"):
            dialogue(app, path, date(2025, 6, 12))
    with pytest.raises(InputError, match="chưa tới"):
        dialogue(app, fake, date(2026, 1, 1))
    with read_session(app.engine) as session:
        assert session.exec(select(Activity)).all() == []
    assert not (app.settings.data_dir / "activities").exists()


def test_a_commune_account_records_only_its_own_communes_activities(config_dir, settings, clock, photo):
    add_commune(config_dir)
    app = make_app(settings, clock)
    with write_session(app.engine) as session:
        users.add_user(session, name="hoa", role="editor", password="mat-khau-dung-chung-2025", unit="it-ong",
                       actor="test", now=app.now())
    with write_session(app.engine) as session, pytest.raises(RuleError, match="thuộc Xã Mường La"):
        activities.record(session, app.config, app.settings.data_dir, unit="muong-la", kind="contest",
                          held_on=date(2025, 8, 1), title="Cuộc thi tìm hiểu CCHC", evidence=photo, actor="hoa",
                          now=app.now())
    app.engine.dispose()


def test_the_command_records_lists_and_the_report_shows_them(settings, photo, tmp_path):
    assert invoke(settings, "init", "--practice").returncode == 0
    added = invoke(settings, "activity", "add", "--user", "lan", "--kind", "press", "--date", "15/07/2025",
                   "--title", "Bài “Mường La cải cách thủ tục” trên Báo Sơn La", "--note", "Báo Sơn La số 5.123",
                   "--evidence", str(photo), "--now", "2025-09-01 08:00")
    assert added.returncode == 0 and "tin, bài trên báo chí" in added.stdout, added.stderr
    wrong = invoke(settings, "activity", "add", "--user", "lan", "--kind", "press", "--date", "15/07/2025",
                   "--title", "Bài báo", "--evidence", str(tmp_path / "khong-co.pdf"), "--now", "2025-09-01 08:00")
    assert wrong.returncode == 2 and "không tìm thấy tệp minh chứng" in wrong.stderr
    listed = json.loads(invoke(settings, "activity", "list", "--json").stdout)
    assert [(a["date"], a["kind"]) for a in listed] == [("2025-07-15", "press")]
    out = tmp_path / "bao-cao.xlsx"
    made = invoke(settings, "report", "--period", "2025-Q3", "--format", "xlsx", "--out", str(out),
                  "--now", "2025-10-02 08:00")
    assert made.returncode == 0, made.stderr
    rows = [[c.value for c in row] for row in load_workbook(out)["7. Hoạt động"]]
    assert rows[2][:3] == ["15/07/2025", "tin, bài trên báo chí", "Bài “Mường La cải cách thủ tục” trên Báo Sơn La"]
    assert any(r[1] == "Đối thoại của lãnh đạo UBND xã với doanh nghiệp định kỳ 2 lần/năm"
               for r in load_workbook(out)["1. Chỉ tiêu"].iter_rows(values_only=True))


def test_plan_import_proposes_the_dialogue_from_both_seed_plans():
    config = load_config(PROJECT_ROOT / "config")
    for name, unit in (("son-la-2025.txt", "son-la"), ("muong-la-2025-ban-quet.txt", "muong-la")):
        text = (PROJECT_ROOT / "config" / "samples" / "plans" / name).read_text(encoding="utf-8")
        target = propose(text, config=config, unit=unit).targets["business-dialogue"]
        assert (target["activity"], target["minimum"], target["period"]) == ("dialogue", 2, "year")


def test_a_target_names_a_channel_or_an_activity_never_both(config_dir):
    plan = config_dir / "plans" / "muong-la-2025.toml"
    plan.write_text(plan.read_text(encoding="utf-8").replace('activity = "dialogue"',
                                                             'activity = "dialogue"\nchannel = "website"'),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="đúng một trong hai"):
        load_config(config_dir)
    plan.write_text(plan.read_text(encoding="utf-8").replace('activity = "dialogue"\nchannel = "website"',
                                                             'activity = "hop-dan"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="loại hoạt động 'hop-dan' không có"):
        load_config(config_dir)


def test_staff_record_an_activity_on_the_web_and_a_renamed_file_is_refused(staff, photo, tmp_path):
    from tests.web import logged_in

    browser, csrf = logged_in(staff, "lan")
    fields = {"csrf": csrf, "kind": "dialogue", "held_on": "12/06/2025", "title": "Đối thoại với doanh nghiệp",
              "place": "UBND xã", "participants": "38", "note": ""}
    fake = tmp_path / "nen.zip"
    fake.write_bytes(b"PK\x03\x04 not a photo")
    refused = browser.post("/activities", data=fields,
                           files={"evidence": ("anh-doi-thoai.jpg", fake.read_bytes(), "image/jpeg")})
    assert refused.status_code == 400
    assert "Minh chứng: tệp minh chứng &#39;anh-doi-thoai.jpg&#39; không phải ảnh" in refused.text
    assert 'value="Đối thoại với doanh nghiệp"' in refused.text  # the form comes back as typed
    with read_session(staff.engine) as session:
        assert session.exec(select(Activity)).all() == []
    done = browser.post("/activities", data=fields,
                        files={"evidence": ("anh-doi-thoai.png", photo.read_bytes(), "image/png")})
    assert done.status_code == 303, done.text
    page = browser.get("/activities").text
    assert "Đối thoại với doanh nghiệp" in page and "12/06/2025" in page
    with read_session(staff.engine) as session:
        row = session.exec(select(Activity)).one()
    shown = browser.get(f"/activities/{row.id}/evidence")
    assert shown.status_code == 200 and shown.content == photo.read_bytes()


def huge_png(path):
    """A PNG of a few bytes whose header claims 100,000 × 100,000 pixels (ten gigapixels to decode)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


def huge_jpeg(path, side=65_000):
    """A real small JPEG whose frame header (SOF0) is rewritten to claim ``side`` × ``side`` pixels."""
    import io
    import struct

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 120, 30)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", side, side)
    path.write_bytes(bytes(data))
    return path


def test_an_image_whose_header_claims_gigapixels_is_refused_before_it_is_decoded(app, tmp_path):
    bombs = [huge_png(tmp_path / "anh-lon.png"), huge_jpeg(tmp_path / "anh-lon.jpg"),
             huge_jpeg(tmp_path / "anh-10000.jpg", side=10_000)]  # 100 megapixels: under Pillow's own error
    for path in bombs:
        with pytest.raises(InputError, match=f"'{path.name}' quá lớn: tối đa 64 triệu điểm ảnh"):
            dialogue(app, path, date(2025, 6, 12))
    with read_session(app.engine) as session:
        assert session.exec(select(Activity)).all() == []
    assert not (app.settings.data_dir / "activities").exists()


def test_the_command_and_the_page_refuse_an_image_bomb_in_vietnamese(staff, tmp_path):
    from tests.web import logged_in

    bomb = huge_jpeg(tmp_path / "anh-doi-thoai.jpg")
    said = invoke(staff.settings, "activity", "add", "--user", "lan", "--kind", "press", "--date", "15/07/2025",
                  "--title", "Bài báo", "--evidence", str(bomb))
    assert said.returncode == 2 and "quá lớn: tối đa 64 triệu điểm ảnh" in said.stderr
    assert "Traceback" not in said.stderr
    browser, csrf = logged_in(staff, "lan")
    page = browser.post("/activities", data={"csrf": csrf, "kind": "press", "held_on": "15/07/2025", "title": "Bài"},
                        files={"evidence": ("anh.png", huge_png(tmp_path / "b.png").read_bytes(), "image/png")})
    assert page.status_code == 400 and "quá lớn: tối đa 64 triệu điểm ảnh" in page.text
