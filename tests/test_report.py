"""The periodic report to Sở Nội vụ: what it gathers, and the DOCX as LibreOffice renders it
(PDF text and a PNG page), the XLSX as openpyxl reads it, the CSV as Excel would."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from scheduler import queries
from scheduler.plans import report as reports
from scheduler.plans.periods import parse_period
from scheduler.record.db import read_session
from tests.conftest import START
from tests.helpers import approved
from tests.test_compliance import dispatch_at

SEPTEMBER = parse_period("2025-09")
SLOT = START + timedelta(hours=10)  # 1 September 17:00


@pytest.fixture
def september(app, clock):
    """A September with two articles published, one loudspeaker slot missed, seen on 2 October."""
    approved(app, title="Lịch tiếp công dân tháng 9/2025", channels=["muong-la-website"], topics=["d"],
             at=START + timedelta(days=2))
    approved(app, title="Kết quả Chỉ số CCHC (PAR INDEX) năm 2024", channels=["muong-la-website"], topics=["b"],
             at=START + timedelta(days=9))
    approved(app, title="Thông báo về dịch vụ bưu chính công ích", channels=["muong-la-loa"], at=SLOT)
    app.broadcaster().mark_missed("muong-la-loa", SLOT, SLOT + timedelta(hours=1))
    dispatch_at(app, clock, START + timedelta(days=2, minutes=1))
    dispatch_at(app, clock, START + timedelta(days=9, minutes=1))
    clock.moment = START + timedelta(days=31, hours=1)
    with read_session(app.engine) as session:
        return reports.gather(session, app.config, unit="muong-la", span=SEPTEMBER, now=clock.now())


def test_the_report_gathers_targets_channels_topics_failures_and_items(september):
    r = september
    assert (r.issuer, r.addressee, r.place) == (["ỦY BAN NHÂN DÂN", "XÃ MƯỜNG LA"], "Sở Nội vụ tỉnh Sơn La", "Mường La")
    targets = {row[1]: row for row in r.target_table()}
    articles = targets["Hằng tháng đăng tin, bài về công tác CCHC trên Cổng thông tin điện tử của xã"]
    assert articles[2:] == ["II.2.đ", "tiếng Việt", "2/tháng", "1/1 tháng đạt", 2, "đạt"]
    assert [c["delivered"] for c in r.channels if c["kind"] == "Trang thông tin điện tử"] == [2]
    assert r.languages == [{"lang": "tiếng Việt", "delivered": 2, "failed": 1}]
    assert {p["state"] for p in r.problems} == {"quá hạn, không phát", "khung giờ bị lỡ"}
    assert r.problem_total == 2 and all("bị lỡ" in p["reason"] for p in r.problems)
    assert [i["title"] for i in r.items] == ["Lịch tiếp công dân tháng 9/2025",
                                             "Kết quả Chỉ số CCHC (PAR INDEX) năm 2024"]
    assert r.compliance.topics["b"]["deliveries"] == 1 and "a" in r.compliance.uncovered


def soffice(docx: Path, out: Path) -> Path:
    subprocess.run(["soffice", f"-env:UserInstallation=file://{out / 'profile'}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(out), str(docx)], check=True, capture_output=True,
                   timeout=180)
    return out / f"{docx.stem}.pdf"


def dark_rows(pgm: Path) -> int:
    """Rows of a greyscale page image with a dark run across most of the text width: table rules."""
    data = pgm.read_bytes()
    parts = data.split(maxsplit=4)
    assert parts[0] == b"P5"
    width, height, pixels = int(parts[1]), int(parts[2]), parts[4]
    rows = 0
    for y in range(height):
        line = pixels[y * width:(y + 1) * width]
        if sum(1 for value in line if value < 128) > width * 0.6:
            rows += 1
    return rows


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_docx_renders_with_header_and_target_table(september, tmp_path):
    docx = reports.write(september, "docx", tmp_path / "bao-cao.docx")
    pdf = soffice(docx, tmp_path)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    for line in ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "XÃ MƯỜNG LA", "/BC-UBND",
                 "BÁO CÁO", "tháng 9/2025", "Kính gửi: Sở Nội vụ tỉnh Sơn La", "I. KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU",
                 "Căn cứ", "không đạt", "khung giờ bị lỡ", "Lịch tiếp công dân", "TM. ỦY BAN NHÂN DÂN"]:
        assert line in text, line
    # the target table's row for the portal articles reads across, cell by cell, on one line
    assert any("II.2.đ" in row and "tiếng Việt" in row and "2/tháng" in row and "1/1 tháng đạt" in row
               for row in text.splitlines())
    subprocess.run(["pdftoppm", "-r", "50", "-gray", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True)
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True)
    [pgm] = tmp_path.glob("page*.pgm")
    assert dark_rows(pgm) >= 4  # the target table's rules are drawn on the first page
    assert next(tmp_path.glob("page*.png")).stat().st_size > 5000


def test_the_xlsx_has_one_sheet_per_table(september, tmp_path):
    book = load_workbook(reports.write(september, "xlsx", tmp_path / "bao-cao.xlsx"))
    assert book.sheetnames[0] == "Báo cáo" and len(book.sheetnames) == 8
    targets = book.worksheets[1]
    assert [c.value for c in targets[2]] == reports.TARGET_HEADERS
    assert any(row[2] == "II.2.đ" and row[7] == "đạt" for row in targets.iter_rows(min_row=3, values_only=True))
    items = book.worksheets[6]
    assert items.cell(3, 3).value == "Lịch tiếp công dân tháng 9/2025"


def test_the_csv_opens_in_excel_with_its_diacritics(september, tmp_path):
    path = reports.write(september, "csv", tmp_path / "bao-cao.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    with path.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    portal = [r for r in rows if r["target"] == "portal-articles"]
    assert portal == [{**portal[0], "period": "2025-09", "delivered": "2", "status_text": "đạt"}]
    assert {r["period"] for r in rows if r["target"] == "loudspeaker"} == {f"2025-W{w}" for w in range(36, 40)}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_commands_write_the_report_and_refuse_bad_input(settings, tmp_path):
    from tests.cli import invoke as run

    assert run(settings, "init").returncode == 0
    shown = run(settings, "compliance", "--period", "2025-09", "--json", "--now", "2025-09-16 09:00")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["period_title"] == "tháng 9/2025" and {r["status"] for r in data["rows"]} >= {"at_risk", "missed"}
    out = tmp_path / "bc.xlsx"
    made = run(settings, "report", "--period", "2025-Q3", "--format", "xlsx", "--out", str(out))
    assert made.returncode == 0 and out.stat().st_size > 0 and "quý III năm 2025" in made.stdout
    for args, message in [
        (["--period", "2025-Q5"], "không phải một kỳ"),
        (["--period", "2026-Q1"], "chưa có kế hoạch năm 2026"),
        (["--period", "2025-Q3", "--unit", "ha-noi"], "không có đơn vị 'ha-noi'"),
        (["--period", "2025-Q3", "--format", "docx", "--out", str(tmp_path / "bc.pdf")], "không có đuôi .docx"),
    ]:
        refused = run(settings, "report", *args)
        assert (refused.returncode, "Traceback" in refused.stderr) == (2, False), refused.stderr
        assert message in refused.stderr


def test_a_slot_skipped_with_nothing_due_is_not_a_failure_but_a_missed_slot_is(app, clock):
    approved(app, title="Thông báo về dịch vụ bưu chính công ích", channels=["muong-la-loa"], at=SLOT)
    broadcaster = app.broadcaster()
    broadcaster.mark_missed("muong-la-loa", SLOT, SLOT + timedelta(hours=1))  # it had an item: a failure
    empty = SLOT + timedelta(hours=13)  # 06:00 on 2 September, nothing due
    broadcaster.mark_missed("muong-la-loa", empty, empty + timedelta(hours=1))  # the service was down: silent
    skipped = SLOT + timedelta(days=1)  # 17:00 on 2 September, nothing due, the service ran
    clock.moment = skipped
    assert broadcaster.play("muong-la-loa", skipped).status == "skipped"
    clock.moment = START + timedelta(days=31, hours=1)
    with read_session(app.engine) as session:
        data = reports.gather(session, app.config, unit="muong-la", span=SEPTEMBER, now=clock.now())
    slots = [p for p in data.problems if p["state"] == "khung giờ bị lỡ"]
    assert [p["at"] for p in slots] == ["01/09/2025 17:00", "02/09/2025 06:00"]  # not the one skipped
    assert data.problem_total == 3  # the missed slots and the item of the first, which expired


def test_slots_missed_while_the_service_was_down_are_in_the_report_as_asrun_shows_them(app, clock):
    """Found by the sweep when the service comes back: with an item waiting (it expired) and without one (the
    station was silent at its time all the same); both read "Bị lỡ" in cchc asrun, both are failures here."""
    approved(app, title="Thông báo về dịch vụ bưu chính công ích", channels=["muong-la-loa"], at=SLOT)
    broadcaster = app.broadcaster()
    broadcaster.sweep_missed()  # the service ran at 07:00 on 1 September, then stopped
    clock.moment = SLOT + timedelta(hours=16)  # back at 09:00 on 2 September: 17:00 and 06:00 passed unplayed
    broadcaster.sweep_missed()
    with read_session(app.engine) as session:
        shown = [(row["slot"], row["status"]) for row in queries.as_run(
            session, since=START, until=clock.moment, channel="muong-la-loa")]
    assert shown == [("2025-09-01 17:00", "missed"), ("2025-09-02 06:00", "missed")]  # "Bị lỡ" in cchc asrun
    clock.moment = START + timedelta(days=31, hours=1)
    with read_session(app.engine) as session:
        data = reports.gather(session, app.config, unit="muong-la", span=SEPTEMBER, now=clock.now())
    slots = [(p["at"], p["reason"]) for p in data.problems if p["state"] == "khung giờ bị lỡ"]
    assert [at for at, _ in slots] == ["01/09/2025 17:00", "02/09/2025 06:00"]
    assert "không có tin chờ phát" in slots[1][1]


def pdf_pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


@pytest.fixture
def long_september(app, clock):
    """September with 24 articles whose titles take two lines of the table, and a missed slot."""
    for day in range(24):
        approved(app, title=f"Bài {day + 1}: kết quả thực hiện cải cách thủ tục hành chính và chuyển đổi số ở "
                            f"các bản của xã Mường La, ý kiến của người dân và doanh nghiệp về dịch vụ công",
                 channels=["muong-la-website"], topics=["d", "ban-tin"] if day % 2 else ["d"],
                 at=START + timedelta(days=day % 29, hours=2))
    approved(app, title="Thông báo về dịch vụ bưu chính công ích", channels=["muong-la-loa"], at=SLOT)
    app.broadcaster().mark_missed("muong-la-loa", SLOT, SLOT + timedelta(hours=1))
    for day in range(29):
        dispatch_at(app, clock, START + timedelta(days=day, hours=3))
    clock.moment = START + timedelta(days=31, hours=1)
    with read_session(app.engine) as session:
        return reports.gather(session, app.config, unit="muong-la", span=SEPTEMBER, now=clock.now())


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_docx_can_be_signed_as_it_comes_out(long_september, tmp_path):
    """Rendered by LibreOffice: the signature never stands alone on a page, table headers repeat on every
    page and rows are never split, dates read dd/mm/yyyy, no code is shown, headers never break a word."""
    import dataclasses

    docs = []
    for count in range(0, 25, 2):  # the end of the report falls at every height of a page
        docs.append(reports.write(dataclasses.replace(long_september, items=long_september.items[:count]), "docx",
                                  tmp_path / f"bao-cao-{count:02d}.docx"))
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), *map(str, docs)], check=True,
                   capture_output=True, timeout=300)
    for docx in docs:
        pages = pdf_pages(docx.with_suffix(".pdf"))
        signed = next(page for page in pages if "TM. ỦY BAN NHÂN DÂN" in page)
        above = signed.split("Nơi nhận")[0]
        assert "Trên đây là báo cáo kết quả" in above, f"{docx.name}: the signature block is alone on its page"
    pages = pdf_pages(docs[-1].with_suffix(".pdf"))
    assert len(pages) >= 3
    listed = [page for page in pages if "ML-2025-" in page]
    assert len(listed) >= 2 and all("Tiêu đề" in page and "Lần đầu" in page for page in listed)  # header repeats
    for item in long_september.items:  # a row is whole on one page: its number, code and date together
        holding = [page for page in listed if item["ref"] in page]
        assert len(holding) == 1 and item["first"] in holding[0], item["ref"]
    text = "\n".join(pages)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text), "dates are written dd/mm/yyyy"
    assert "01/10/2025" in text or "02/10/2025" in text
    for code in ("loudspeaker", "website", "ban-tin", "facebook", "muong-la"):
        assert code not in text, code
    assert "Trang thông tin điện tử" in text and "II.2.d" in text  # kinds and topics by their names
    words = {word for header in (*reports.TARGET_HEADERS, *reports.ITEM_HEADERS, *reports.PROBLEM_HEADERS)
             for word in header.split()}
    tokens = set(text.split())
    assert words <= tokens, sorted(words - tokens)  # no header word broken over two lines
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(docs[-1].with_suffix(".pdf")),
                    str(tmp_path / "page")], check=True)
    assert next(tmp_path.glob("page*.png")).stat().st_size > 5000


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_docx_pages_are_numbered_at_the_top_from_page_two(long_september, tmp_path):
    """As Nghị định 30/2020/NĐ-CP numbers a document's pages: centred in the top margin, none on the first page;
    the national motto on one line above its underline."""
    docx = reports.write(long_september, "docx", tmp_path / "bao-cao.docx")
    pages = pdf_pages(soffice(docx, tmp_path))
    tops = [next(line.strip() for line in page.splitlines() if line.strip()) for page in pages]
    assert len(pages) >= 3 and "ỦY BAN NHÂN DÂN" in tops[0]  # no number on the first page
    assert tops[1:] == [str(n) for n in range(2, len(pages) + 1)]
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in pages[0] and "Độc lập - Tự do - Hạnh phúc" in pages[0]


def test_the_xlsx_sheet_names_are_whole_words(september, tmp_path):
    book = load_workbook(reports.write(september, "xlsx", tmp_path / "bao-cao.xlsx"))
    assert book.sheetnames == ["Báo cáo", "1. Chỉ tiêu", "2. Theo kênh", "3. Theo ngôn ngữ", "4. Nội dung tuyên truyền",
                               "5. Không thành công", "6. Danh sách tin, bài", "7. Hoạt động"]
    channels = book["2. Theo kênh"]
    assert sorted(row[1] for row in channels.iter_rows(min_row=3, values_only=True)) == ["Trang thông tin điện tử",
                                                                                         "Truyền thanh"]


def test_every_table_row_of_the_docx_holds_its_own_values_whole_and_unsplittable(long_september, tmp_path):
    """Rows after the first are copies of its XML with their own text: each must say exactly its row,
    keep the cell widths and never split across pages, line breaks and leading spaces included."""
    import dataclasses

    from docx import Document
    from docx.oxml.ns import qn

    items = [dict(item) for item in long_september.items[:6]]
    items[3]["title"] = "  Dòng một\nDòng hai"
    data = dataclasses.replace(long_september, items=items)
    doc = Document(str(reports.write(data, "docx", tmp_path / "bc.docx")))
    [(_, _, headers, rows)] = [table for table in reports.tables(data) if table[2] == reports.ITEM_HEADERS]
    grid = next(t for t in doc.tables if [c.text for c in t.rows[0].cells] == list(headers))
    assert len(grid.rows) == len(rows) + 1
    first = [cell._tc.tcPr.find(qn("w:tcW")).get(qn("w:w")) for cell in grid.rows[1].cells]
    for row, values in zip(grid.rows[1:], rows, strict=True):
        assert [cell.text for cell in row.cells] == [str(v) for v in values]
        assert row._tr.trPr.find(qn("w:cantSplit")) is not None
        assert [cell._tc.tcPr.find(qn("w:tcW")).get(qn("w:w")) for cell in row.cells] == first
