"""The periodic report to Sở Nội vụ (quarterly, 6-monthly, yearly): gathered once, written as DOCX,
XLSX or CSV.

The DOCX follows the usual layout of an administrative report (Nghị định 30/2020/NĐ-CP): the issuing
unit and national motto side by side, number and date left blank for the office's clerk, the title,
the addressee, then one numbered section per table. The XLSX holds the same tables, one sheet each;
the CSV is the target table in detail (one row per target, period and language) for other tools.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session, col, func, or_, select

from channels.languages import LANGUAGE_NAMES
from scheduler.clock import show_vn
from scheduler.codes import ACTIVITY_KIND
from scheduler.config import Config
from scheduler.plans.compliance import STATUS_TEXT, Compliance, Status, evaluate
from scheduler.plans.periods import Span
from scheduler.record.models import Announcement, AsRun, AsRunStatus, Delivery, DeliveryState
from scheduler.text import spreadsheet_cell

if TYPE_CHECKING:
    from scheduler.plans.province import ProvinceView

FORMATS = ("docx", "xlsx", "csv")
FAILED_STATES = (DeliveryState.FAILED, DeliveryState.EXPIRED)
MAX_PROBLEMS = 500  # rows of failures listed in full; the counts always cover every one


@dataclass
class Report:
    unit: str
    unit_name: str
    issuer: list[str]  # the issuing body's lines, upper case
    place: str
    addressee: str
    span: Span
    compliance: Compliance
    made_at: datetime
    channels: list[dict] = field(default_factory=list)
    languages: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    problem_total: int = 0
    items: list[dict] = field(default_factory=list)
    activities: list[dict] = field(default_factory=list)  # the register's activities held in the period
    communes: ProvinceView | None = None  # a province's report rolls up its communes (``scheduler.plans.province``)

    @property
    def title(self) -> str:
        return f"Kết quả thực hiện công tác thông tin, tuyên truyền cải cách hành chính {self.span.title}"

    @property
    def signer(self) -> str:
        """The body that reports, as the text names it: "Ủy ban nhân dân xã Mường La"."""
        return f"Ủy ban nhân dân {self.unit_name[:1].lower()}{self.unit_name[1:]}"

    def target_table(self) -> list[list]:
        rows = []
        for number, s in enumerate(self.compliance.summaries, start=1):
            t = s.target
            rows.append([number, t.description, t.clause, LANGUAGE_NAMES[s.lang],
                         f"{t.minimum}/{_PER[t.period]}", _periods_met(s),
                         s.delivered, STATUS_TEXT[s.status]])
        return rows


def _periods_met(s) -> str:  # noqa: ANN001
    """"3/4 tháng đạt"; periods before the plan took effect are not counted."""
    if not s.applicable:
        return "chưa áp dụng"
    skipped = len(s.rows) - len(s.applicable)
    return f"{s.met}/{len(s.applicable)} {_UNIT[s.target.period]} đạt" + (
        f" ({skipped} {_UNIT[s.target.period]} trước khi kế hoạch áp dụng)" if skipped else "")


_PER = {"week": "tuần", "month": "tháng", "quarter": "quý", "half": "6 tháng", "year": "năm"}
_UNIT = {"week": "tuần", "month": "tháng", "quarter": "quý", "half": "kỳ", "year": "năm"}
TARGET_HEADERS = ["STT", "Chỉ tiêu", "Căn cứ (mục)", "Ngôn ngữ", "Yêu cầu", "Số kỳ đạt", "Số lượt đã thực hiện",
                  "Đánh giá"]
CHANNEL_HEADERS = ["Kênh", "Loại", "Ngôn ngữ", "Đã phát/đăng", "Trong đó tự động bổ sung", "Không thành công"]
LANGUAGE_HEADERS = ["Ngôn ngữ", "Đã phát/đăng", "Không thành công"]
TOPIC_HEADERS = ["Mục", "Nội dung", "Số lượt", "Số tin, bài"]
PROBLEM_HEADERS = ["Thời gian", "Kênh", "Mã", "Ngôn ngữ", "Tình trạng", "Lý do"]
ITEM_HEADERS = ["STT", "Mã", "Tiêu đề", "Nội dung (mục)", "Kênh", "Ngôn ngữ", "Số lượt", "Lần đầu"]


def gather(session: Session, config: Config, *, unit: str, span: Span, now: datetime) -> Report:
    """Everything the report shows, for ``unit`` over ``span``, as known at ``now``."""
    result = evaluate(session, config, unit=unit, span=span, now=now)
    info = config.units[unit]
    parent = config.units.get(info.parent) if info.parent else None
    place = info.name.split(" ", 1)[1] if " " in info.name else info.name
    report = Report(
        unit=unit, unit_name=info.name, issuer=["ỦY BAN NHÂN DÂN", info.name.upper()], place=place,
        addressee=f"Sở Nội vụ {parent.name[0].lower()}{parent.name[1:]}" if parent else "Bộ Nội vụ",
        span=span, compliance=result, made_at=now)
    channels = config.channels_of(unit)
    names = sorted(channels)
    lo, hi = span.start_at, span.end_at
    counts = session.exec(
        select(Delivery.channel_id, Delivery.lang, Delivery.state, Delivery.origin, func.count())
        .where(col(Delivery.channel_id).in_(names), col(Delivery.finished_at) >= lo, col(Delivery.finished_at) < hi,
               col(Delivery.state).in_([DeliveryState.DELIVERED, *FAILED_STATES]))
        .group_by(Delivery.channel_id, Delivery.lang, Delivery.state, Delivery.origin)).all()
    per: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for channel, lang, state, origin, count in counts:
        cell = per[(channel, lang)]
        if state == DeliveryState.DELIVERED:
            cell[0] += count
            cell[1] += count if origin == "fill" else 0
        else:
            cell[2] += count
    for (channel, lang), (done, filled, failed) in sorted(per.items()):
        report.channels.append({"channel": channels[channel].title,
                                "kind": channels[channel].channel_class.label,
                                "lang": LANGUAGE_NAMES.get(lang, lang), "delivered": done, "filled": filled,
                                "failed": failed})
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (_, lang), (done, _, failed) in per.items():
        by_lang[lang][0] += done
        by_lang[lang][1] += failed
    report.languages = [{"lang": LANGUAGE_NAMES.get(lang, lang), "delivered": d, "failed": f}
                        for lang, (d, f) in sorted(by_lang.items(), key=lambda kv: list(LANGUAGE_NAMES).index(kv[0]))]
    report.problem_total = sum(c[2] for c in per.values())
    _problems(session, report, names, lo, hi, channels)
    _items(session, report, names, lo, hi, channels)
    from scheduler.plans import activities

    report.activities = [{"date": f"{a.held_on:%d/%m/%Y}", "kind": ACTIVITY_KIND[a.kind], "title": a.title,
                          "place": a.place, "participants": "" if a.participants is None else a.participants,
                          "evidence": a.evidence}
                         for a in reversed(activities.listed(session, unit=unit, since=span.start, until=span.end))]
    if info.level == "province":
        from scheduler.plans import province

        report.communes = province.gather(session, config, province=unit, span=span, now=now)
    return report


def _problems(session: Session, report: Report, names: list[str], lo: datetime, hi: datetime, channels) -> None:
    failed = session.exec(
        select(Delivery.finished_at, Delivery.channel_id, Delivery.ref_code, Delivery.lang, Delivery.state,
               Delivery.last_error)
        .where(col(Delivery.channel_id).in_(names), col(Delivery.finished_at) >= lo, col(Delivery.finished_at) < hi,
               col(Delivery.state).in_(FAILED_STATES))
        .order_by(col(Delivery.finished_at)).limit(MAX_PROBLEMS)).all()
    state_text = {DeliveryState.FAILED: "không thành công", DeliveryState.EXPIRED: "quá hạn, không phát"}
    rows = [{"at": at, "channel": channels[ch].title, "ref": ref, "lang": LANGUAGE_NAMES.get(lang, lang),
             "state": state_text[DeliveryState(state)], "reason": reason or ""}
            for at, ch, ref, lang, state, reason in failed]
    slot_text = {AsRunStatus.MISSED: "khung giờ bị lỡ", AsRunStatus.FAILED: "khung giờ không phát được",
                 AsRunStatus.INTERRUPTED: "chương trình bị ngắt"}
    # A missed slot is a failure even with nothing due: the service was not running and the station was silent
    # at its time (cchc asrun says "Bị lỡ" too). One skipped, or failed with nothing due, kept nothing off the air.
    runs = session.exec(select(AsRun).where(col(AsRun.channel_id).in_(names), AsRun.slot_at >= lo, AsRun.slot_at < hi,
                                            col(AsRun.status).in_(list(slot_text)),
                                            or_(AsRun.items > 0, AsRun.status == AsRunStatus.MISSED))
                        .order_by(col(AsRun.slot_at)).limit(MAX_PROBLEMS)).all()
    rows += [{"at": run.slot_at, "channel": channels[run.channel_id].title, "ref": "", "lang": "",
              "state": slot_text[AsRunStatus(run.status)],
              "reason": (run.message or "") + ("" if run.items else "; không có tin chờ phát")} for run in runs]
    report.problem_total += len(runs)
    report.problems = [{**row, "at": show_vn(row["at"])} for row in sorted(rows, key=lambda r: r["at"])]


def _items(session: Session, report: Report, names: list[str], lo: datetime, hi: datetime, channels) -> None:
    grouped = session.exec(
        select(Delivery.announcement_id, Delivery.channel_id, Delivery.lang, func.count(),
               func.min(Delivery.finished_at))
        .where(col(Delivery.channel_id).in_(names), Delivery.state == DeliveryState.DELIVERED,
               col(Delivery.finished_at) >= lo, col(Delivery.finished_at) < hi)
        .group_by(Delivery.announcement_id, Delivery.channel_id, Delivery.lang)).all()
    per: dict[int, dict] = {}
    for ann, channel, lang, count, first in grouped:
        item = per.setdefault(ann, {"channels": set(), "langs": set(), "count": 0, "first": first})
        item["channels"].add(channel)
        item["langs"].add(lang)
        item["count"] += count
        item["first"] = min(item["first"], first)
    ids = sorted(per)
    clauses = {code: topic["clause"] for code, topic in report.compliance.topics.items()}  # "II.1.a", not "a"
    anns: dict[int, tuple] = {}
    for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
        chunk = ids[start:start + 900]
        for row in session.exec(select(Announcement.id, Announcement.ref_code, Announcement.title, Announcement.topics,
                                       Announcement.evergreen).where(col(Announcement.id).in_(chunk))):
            anns[row[0]] = row
    order = sorted(ids, key=lambda i: (per[i]["first"], i))
    for number, ann_id in enumerate(order, start=1):
        _, ref, title, topics, evergreen = anns[ann_id]
        item = per[ann_id]
        report.items.append({
            "no": number, "ref": ref, "title": title + (" (tin dùng lại)" if evergreen else ""),
            "topics": ", ".join(clauses.get(code, code) for code in topics or []),
            "channels": ", ".join(sorted(channels[c].title for c in item["channels"])),
            "langs": ", ".join(LANGUAGE_NAMES[lang] for lang in sorted(item["langs"], key=list(LANGUAGE_NAMES).index)),
            "count": item["count"],
            "first": show_vn(item["first"], time=False)})


# -- writers ------------------------------------------------------------------------------------


def tables(report: Report) -> list[tuple[str, str, list[str], list[list]]]:
    """The report's tables in order: (section title, sheet name, headers, rows); shared by DOCX and XLSX.

    Sheet names are whole words within Excel's 31 characters."""
    c = report.compliance
    return [
        ("Kết quả thực hiện các chỉ tiêu của kế hoạch", "1. Chỉ tiêu", TARGET_HEADERS, report.target_table()),
        ("Số lượt theo kênh", "2. Theo kênh", CHANNEL_HEADERS,
         [[r["channel"], r["kind"], r["lang"], r["delivered"], r["filled"], r["failed"]] for r in report.channels]),
        ("Số lượt theo ngôn ngữ", "3. Theo ngôn ngữ", LANGUAGE_HEADERS,
         [[r["lang"], r["delivered"], r["failed"]] for r in report.languages]),
        ("Nội dung tuyên truyền theo kế hoạch", "4. Nội dung tuyên truyền", TOPIC_HEADERS,
         [[t["clause"], t["text"], t["deliveries"], t["announcements"]] for t in c.topics.values()]),
        ("Lượt không thành công và khung giờ bị lỡ", "5. Không thành công", PROBLEM_HEADERS,
         [[p["at"], p["channel"], p["ref"], p["lang"], p["state"], p["reason"]] for p in report.problems]),
        ("Danh sách tin, bài đã phát, đăng", "6. Danh sách tin, bài", ITEM_HEADERS,
         [[i["no"], i["ref"], i["title"], i["topics"], i["channels"], i["langs"], i["count"], i["first"]]
          for i in report.items]),
        (ACTIVITIES_TITLE, "7. Hoạt động", ACTIVITY_HEADERS,
         [[a["date"], a["kind"], a["title"], a["place"], a["participants"], a["evidence"]] for a in report.activities]),
        *_roll_up(report.communes),
    ]


ACTIVITIES_TITLE = "Hội nghị, đối thoại, cuộc thi và tin, bài trên báo chí, phát thanh, truyền hình"
ACTIVITY_HEADERS = ["Ngày", "Loại", "Tên hoạt động", "Địa điểm", "Số người", "Minh chứng"]
MISSED_TITLE = "Các xã chưa đạt chỉ tiêu hoặc chưa có kế hoạch"
COMMUNE_HEADERS = ["STT", "Đơn vị", "Đã thực hiện", "Yêu cầu", "Số kỳ đạt", "Đánh giá"]


def _roll_up(view: ProvinceView | None) -> list[tuple[str, str, list[str], list[list]]]:
    """A province's report: a table per target with each commune's result and the totals, then the
    communes that missed a target (none for a commune's report)."""
    if view is None:
        return []
    sections = []
    for number, (key, description) in enumerate(view.targets.items(), start=1):
        rows = [[n, c.name, c.cells[key].delivered, c.cells[key].required,
                 f"{c.cells[key].periods_met}/{c.cells[key].periods}", c.cells[key].text]
                for n, c in enumerate((c for c in view.sorted("name") if key in c.cells), start=1)]
        counts = view.totals(key)
        summary = "; ".join(f"{STATUS_TEXT[s]}: {counts[s]}" for s in STATUS_TEXT if counts.get(s))
        rows.append(["", f"Cộng {len(rows)} đơn vị ({summary})", sum(r[2] for r in rows), sum(r[3] for r in rows),
                     "", ""])
        sections.append((f"Kết quả của các xã, chỉ tiêu {number}: {description}", f"Xã {number}. {key}"[:31],
                         COMMUNE_HEADERS, rows))
    # A missed target by its number (the tables above are titled by it), not its description once a commune.
    numbers = {key: number for number, key in enumerate(view.targets, start=1)}
    missed = [[c.name, "chỉ tiêu " + ", ".join(str(numbers[k]) for k, cell in c.cells.items()
                                               if cell.status == Status.MISSED)]
              for c in view.sorted("name") if c.count(Status.MISSED)]
    missed += [[c.name, c.problem] for c in view.sorted("name") if c.problem]
    sections.append((MISSED_TITLE, "Xã chưa đạt", ["Đơn vị", "Chỉ tiêu chưa đạt"],
                     missed))
    return sections


def write(report: Report, fmt: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    {"docx": write_docx, "xlsx": write_xlsx, "csv": write_csv}[fmt](report, out)
    return out


def write_csv(report: Report, out: Path) -> None:
    """The target table in detail; UTF-8 with a byte-order mark so that Excel shows the diacritics."""
    columns = ["target", "clause", "description", "period", "period_title", "lang", "minimum", "delivered",
               "scheduled", "filled", "needed", "status", "status_text", "warning"]
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in report.compliance.rows:
            writer.writerow({key: spreadsheet_cell(value) for key, value in row.as_dict().items()})


def write_xlsx(report: Report, out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "Báo cáo"
    for line in [*report.issuer, "", "BÁO CÁO", report.title, f"Kính gửi: {report.addressee}",
                 f"Lập lúc {show_vn(report.made_at)}"]:
        sheet.append([line])
    sheet["A3"].font = sheet["A4"].font = Font(bold=True)
    for number, (title, sheet_name, headers, rows) in enumerate(tables(report), start=1):
        ws = book.create_sheet(sheet_name)
        ws.append([f"{_roman(number)}. {title}"])
        ws["A1"].font = Font(bold=True)
        ws.append(headers)
        for cell in ws[2]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for row in rows:
            ws.append([spreadsheet_cell(value) for value in row])
        ws.freeze_panes = "A3"
        for index, header in enumerate(headers, start=1):
            longest = max([len(str(header))] + [len(str(r[index - 1])) for r in rows[:200]])
            ws.column_dimensions[get_column_letter(index)].width = min(60, max(8, longest + 2))
    book.save(out)


def write_docx(report: Report, out: Path) -> None:
    from docx import Document
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    doc = Document()
    section = doc.sections[0]
    _page(section)
    _number_pages(section)
    style = doc.styles["Normal"]
    style.font.name, style.font.size = "Times New Roman", Pt(13)
    small = doc.styles.add_style("Bảng", WD_STYLE_TYPE.PARAGRAPH)
    small.base_style, small.font.size = style, Pt(11)
    small.paragraph_format.space_after = Pt(2)

    def para(text: str = "", *, bold: bool = False, italic: bool = False, center: bool = False, cell=None,
             size: int | None = None, underline: bool = False):
        if cell is None:
            p = doc.add_paragraph()
        else:  # a new cell holds one empty paragraph: write into it first
            p = cell.paragraphs[0] if not cell.paragraphs[0].runs else cell.add_paragraph()
        run = p.add_run(text)
        if bold:  # only what differs from the style: each property set costs a lookup in the XML
            run.bold = True
        if italic:
            run.italic = True
        if underline:
            run.underline = True
        if size == 11:  # by id: Paragraph.style= looks the style up by name, slow over thousands of cells
            p._p.get_or_add_pPr().style = small.style_id
        elif size:
            run.font.size = Pt(size)
        if center:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        return p

    head = doc.add_table(rows=1, cols=2)
    left, right = head.rows[0].cells
    para(report.issuer[0], cell=left, center=True, size=12)
    para(report.issuer[1], cell=left, bold=True, center=True, size=12)
    para("Số:       /BC-UBND", cell=left, center=True)
    para("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", cell=right, bold=True, center=True, size=12)
    para("Độc lập - Tự do - Hạnh phúc", cell=right, bold=True, center=True, underline=True)
    para(f"{report.place}, ngày      tháng      năm {report.made_at.year}", cell=right, italic=True, center=True)
    para()
    para("BÁO CÁO", bold=True, center=True, size=14)
    para(report.title, bold=True, center=True)
    para(f"Kính gửi: {report.addressee}.", center=True)
    para(f"Thực hiện {report.compliance.plan.title}, {report.signer} báo cáo kết quả thực hiện công tác "
         f"thông tin, tuyên truyền cải cách hành chính {report.span.title} (từ ngày {report.span.start:%d/%m/%Y} "
         f"đến ngày {report.span.end - timedelta(days=1):%d/%m/%Y}, số liệu tính đến "
         f"{show_vn(report.made_at)}) như sau:")
    for number, (title, _, headers, rows) in enumerate(tables(report), start=1):
        para(f"{_roman(number)}. {title.upper()}", bold=True).paragraph_format.keep_with_next = True
        if not rows:
            para("Không có." if number == 5 or title in (MISSED_TITLE, ACTIVITIES_TITLE) else "Chưa có số liệu.",
                 italic=True)
            continue
        if number == 5 and report.problem_total > len(rows):
            para(f"Liệt kê {len(rows)} trên tổng số {report.problem_total} trường hợp.", italic=True)
        grid = doc.add_table(rows=1, cols=len(headers))
        grid.style = "Table Grid"
        grid.alignment = WD_TABLE_ALIGNMENT.CENTER
        grid.autofit = False
        widths = [Cm(w) for w in _widths(headers, rows, TEXT_CM)]
        for column, width in zip(grid.columns, widths, strict=True):
            column.width = width  # the grid LibreOffice reads; Word reads each cell's width
        for cell, header, width in zip(grid.rows[0].cells, headers, widths, strict=True):
            cell.width = width
            para(header, cell=cell, bold=True, center=True, size=11)
        _keep_rows(grid.rows[0], header=True)  # repeated at the top of every page the table runs onto
        template = grid.add_row()  # the first row through the API (cell widths, style, kept whole)...
        for cell, value in zip(template.cells, rows[0], strict=True):
            para(str(value), cell=cell, size=11)
        _keep_rows(template)  # a row is never broken across two pages
        for row in rows[1:]:  # ...the others are copies of its XML with their own text: ~10x faster
            _copy_row(grid, template, [str(value) for value in row])
        para()
        if number == 4 and report.compliance.uncovered:
            clauses = [report.compliance.topics[code]["clause"] for code in report.compliance.uncovered]
            para("Các mục chưa có lượt tuyên truyền nào trong kỳ: " + ", ".join(clauses) + ".", italic=True)
    # The closing sentence and the signature block stay on one page: the head of office signs under text.
    closing = para(f"Trên đây là báo cáo kết quả thực hiện công tác thông tin, tuyên truyền cải cách hành chính "
                   f"{report.span.title} của {report.signer}./.")
    closing.paragraph_format.keep_with_next = True
    sign = doc.add_table(rows=1, cols=2)
    left, right = sign.rows[0].cells
    lines = [para("Nơi nhận:", cell=left, bold=True, italic=True, size=12),
             para(f"- {report.addressee};", cell=left, size=11), para("- Lưu: VT.", cell=left, size=11),
             para("TM. ỦY BAN NHÂN DÂN", cell=right, bold=True, center=True),
             para("CHỦ TỊCH", cell=right, bold=True, center=True)]
    for line in lines:
        line.paragraph_format.keep_with_next = True
    _keep_rows(sign.rows[0])
    doc.save(out)


TEXT_CM = 24.7  # the text's width on a lying A4 page with the decree's margins


def _page(section) -> None:  # noqa: ANN001
    """A lying A4 page with the margins of Nghị định 30/2020/NĐ-CP (3 cm left, 2 cm right, 2 cm top and
    bottom): the target and item tables have eight columns, which a standing page breaks inside words."""
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm

    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    section.left_margin, section.right_margin = Cm(3.0), Cm(2.0)
    section.top_margin = section.bottom_margin = Cm(2.0)
    section.header_distance = Cm(1.0)


def _number_pages(section) -> None:  # noqa: ANN001
    """The page number centred in the top margin, from the second page on (Nghị định 30/2020/NĐ-CP): a PAGE
    field, which Word and LibreOffice fill in."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    section.different_first_page_header_footer = True
    line = section.header.paragraphs[0]
    line.alignment = WD_ALIGN_PARAGRAPH.CENTER
    field, run, text = OxmlElement("w:fldSimple"), OxmlElement("w:r"), OxmlElement("w:t")
    field.set(qn("w:instr"), "PAGE")
    text.text = "2"  # shown until the field is updated
    run.append(text)
    field.append(run)
    line._p.append(field)


def _copy_row(grid, template, texts: list[str]) -> None:  # noqa: ANN001
    """Append a copy of ``template`` (a row of ``grid`` with one run a cell) holding ``texts``."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    copied = deepcopy(template._tr)
    for cell, value in zip(copied.iterchildren(qn("w:tc")), texts, strict=True):
        run = next(cell.iter(qn("w:r")))
        for child in list(run):
            if child.tag != qn("w:rPr"):
                run.remove(child)
        for number, line in enumerate(value.split("\n")):  # as python-docx writes a line break
            if number:
                run.append(OxmlElement("w:br"))
            text = OxmlElement("w:t")
            text.text = line
            if line != line.strip():
                text.set(qn("xml:space"), "preserve")
            run.append(text)
    grid._tbl.append(copied)


def _keep_rows(row, *, header: bool = False) -> None:  # noqa: ANN001
    """Word's row properties: never split across pages; ``header``: repeat on every page."""
    from docx.oxml import OxmlElement

    properties = row._tr.get_or_add_trPr()
    properties.append(OxmlElement("w:cantSplit"))
    if header:
        properties.append(OxmlElement("w:tblHeader"))


CHAR_CM = 0.23  # a wide-ish character of Times New Roman 11 pt bold (headers), with Vietnamese marks
PAD_CM = 0.45  # a cell's left and right margins, and a little air


def _widths(headers: list[str], rows: list[list], total: float) -> list[float]:
    """Column widths (cm): each at least as wide as its longest word (a header never wraps inside a
    word) and its short values (dates, verdicts: on one line); what is left goes to long texts in
    proportion to their typical length."""
    least, wants = [], []
    for index, header in enumerate(headers):
        values = [str(row[index]) for row in rows[:200] if str(row[index])]
        longest_word = max(len(word) for text in [header, *values] for word in text.split())
        short = max(map(len, values), default=0)
        least.append(max(longest_word, short if short <= 22 else 0) * CHAR_CM + PAD_CM)
        typical = sum(map(len, values)) / len(values) if values else 0
        wants.append(max(len(header) / 2, typical))
    spare = total - sum(least)
    if spare <= 0:
        return [total * w / sum(least) for w in least]
    return [w + spare * want / sum(wants) for w, want in zip(least, wants, strict=True)]


def _roman(number: int) -> str:
    """A section's number as administrative documents write it (I, II, ... XIV)."""
    digits = ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = ""
    for value, letters in digits:
        while number >= value:
            out, number = out + letters, number - value
    return out
