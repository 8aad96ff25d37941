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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, func, select

from scheduler.clock import show
from scheduler.compliance import STATUS_TEXT, Compliance, evaluate
from scheduler.config import Config
from scheduler.models import LANGUAGE_NAMES, Announcement, AsRun, AsRunStatus, Delivery, DeliveryState
from scheduler.periods import Span

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

    @property
    def title(self) -> str:
        return f"Kết quả thực hiện công tác thông tin, tuyên truyền cải cách hành chính {self.span.title}"

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
TOPIC_HEADERS = ["Mục", "Căn cứ", "Nội dung", "Số lượt", "Số tin, bài"]
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
        report.channels.append({"channel": channels[channel].title, "kind": channels[channel].kind,
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
    return report


def _problems(session: Session, report: Report, names: list[str], lo: datetime, hi: datetime, channels) -> None:
    failed = session.exec(
        select(Delivery.finished_at, Delivery.channel_id, Delivery.ref_code, Delivery.lang, Delivery.state,
               Delivery.last_error)
        .where(col(Delivery.channel_id).in_(names), col(Delivery.finished_at) >= lo, col(Delivery.finished_at) < hi,
               col(Delivery.state).in_(FAILED_STATES))
        .order_by(col(Delivery.finished_at)).limit(MAX_PROBLEMS)).all()
    state_text = {DeliveryState.FAILED: "không thành công", DeliveryState.EXPIRED: "quá hạn, không phát"}
    rows = [{"at": show(at), "channel": channels[ch].title, "ref": ref, "lang": LANGUAGE_NAMES.get(lang, lang),
             "state": state_text[DeliveryState(state)], "reason": reason or ""}
            for at, ch, ref, lang, state, reason in failed]
    slot_text = {AsRunStatus.MISSED: "khung giờ bị lỡ", AsRunStatus.FAILED: "khung giờ không phát được",
                 AsRunStatus.INTERRUPTED: "chương trình bị ngắt"}
    # A slot with nothing due that was missed or skipped kept nothing off the air: not a failure.
    runs = session.exec(select(AsRun).where(col(AsRun.channel_id).in_(names), AsRun.slot_at >= lo, AsRun.slot_at < hi,
                                            col(AsRun.status).in_(list(slot_text)), AsRun.items > 0)
                        .order_by(col(AsRun.slot_at)).limit(MAX_PROBLEMS)).all()
    rows += [{"at": show(run.slot_at), "channel": channels[run.channel_id].title, "ref": "", "lang": "",
              "state": slot_text[AsRunStatus(run.status)], "reason": run.message or ""} for run in runs]
    report.problem_total += len(runs)
    report.problems = sorted(rows, key=lambda r: r["at"])


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
            "topics": ", ".join(topics or []),
            "channels": ", ".join(sorted(channels[c].title for c in item["channels"])),
            "langs": ", ".join(LANGUAGE_NAMES[lang] for lang in sorted(item["langs"], key=list(LANGUAGE_NAMES).index)),
            "count": item["count"],
            "first": show(item["first"])[:10]})


# -- writers ------------------------------------------------------------------------------------


def tables(report: Report) -> list[tuple[str, list[str], list[list]]]:
    """The report's tables in order: (section title, headers, rows); shared by DOCX and XLSX."""
    c = report.compliance
    return [
        ("Kết quả thực hiện các chỉ tiêu của kế hoạch", TARGET_HEADERS, report.target_table()),
        ("Số lượt theo kênh", CHANNEL_HEADERS,
         [[r["channel"], r["kind"], r["lang"], r["delivered"], r["filled"], r["failed"]] for r in report.channels]),
        ("Số lượt theo ngôn ngữ", LANGUAGE_HEADERS,
         [[r["lang"], r["delivered"], r["failed"]] for r in report.languages]),
        ("Nội dung tuyên truyền theo kế hoạch", TOPIC_HEADERS,
         [[code, t["clause"], t["text"], t["deliveries"], t["announcements"]] for code, t in c.topics.items()]),
        ("Lượt không thành công và khung giờ bị lỡ", PROBLEM_HEADERS,
         [[p["at"], p["channel"], p["ref"], p["lang"], p["state"], p["reason"]] for p in report.problems]),
        ("Danh sách tin, bài đã phát, đăng", ITEM_HEADERS,
         [[i["no"], i["ref"], i["title"], i["topics"], i["channels"], i["langs"], i["count"], i["first"]]
          for i in report.items]),
    ]


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
            writer.writerow(row.as_dict())


def write_xlsx(report: Report, out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "Báo cáo"
    for line in [*report.issuer, "", "BÁO CÁO", report.title, f"Kính gửi: {report.addressee}",
                 f"Lập lúc {show(report.made_at)}"]:
        sheet.append([line])
    sheet["A3"].font = sheet["A4"].font = Font(bold=True)
    for number, (title, headers, rows) in enumerate(tables(report), start=1):
        ws = book.create_sheet(f"{number}. {title}"[:31])
        ws.append([f"{_roman(number)}. {title}"])
        ws["A1"].font = Font(bold=True)
        ws.append(headers)
        for cell in ws[2]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for row in rows:
            ws.append(row)
        ws.freeze_panes = "A3"
        for index, header in enumerate(headers, start=1):
            longest = max([len(str(header))] + [len(str(r[index - 1])) for r in rows[:200]])
            ws.column_dimensions[get_column_letter(index)].width = min(60, max(8, longest + 2))
    book.save(out)


def write_docx(report: Report, out: Path) -> None:
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    section.left_margin, section.right_margin = Cm(3.0), Cm(2.0)
    section.top_margin = section.bottom_margin = Cm(2.0)
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
    para(f"Thực hiện {report.compliance.plan.title}, {report.unit_name} báo cáo kết quả thực hiện công tác "
         f"thông tin, tuyên truyền cải cách hành chính {report.span.title} (từ ngày {report.span.start:%d/%m/%Y} "
         f"đến ngày {report.span.end - timedelta(days=1):%d/%m/%Y}, số liệu tính đến "
         f"{show(report.made_at)}) như sau:")
    for number, (title, headers, rows) in enumerate(tables(report), start=1):
        para(f"{_roman(number)}. {title.upper()}", bold=True)
        if not rows:
            para("Không có." if number == 5 else "Chưa có số liệu.", italic=True)
            continue
        if number == 5 and report.problem_total > len(rows):
            para(f"Liệt kê {len(rows)} trên tổng số {report.problem_total} trường hợp.", italic=True)
        grid = doc.add_table(rows=1, cols=len(headers))
        grid.style = "Table Grid"
        grid.alignment = WD_TABLE_ALIGNMENT.CENTER
        grid.autofit = False
        widths = [Cm(w) for w in _widths(headers, rows, 24.7)]
        for column, width in zip(grid.columns, widths, strict=True):
            column.width = width  # the grid LibreOffice reads; Word reads each cell's width
        for cell, header, width in zip(grid.rows[0].cells, headers, widths, strict=True):
            cell.width = width
            para(header, cell=cell, bold=True, center=True, size=11)
        for row in rows:  # add_row gives each new cell the grid's width
            for cell, value in zip(grid.add_row().cells, row, strict=True):
                para(str(value), cell=cell, size=11)
        para()
        if number == 4 and report.compliance.uncovered:
            para("Các mục chưa có lượt tuyên truyền nào trong kỳ: " + ", ".join(report.compliance.uncovered) + ".",
                 italic=True)
    para()
    sign = doc.add_table(rows=1, cols=2)
    left, right = sign.rows[0].cells
    para("Nơi nhận:", cell=left, bold=True, italic=True, size=12)
    para(f"- {report.addressee};", cell=left, size=11)
    para("- Lưu: VT.", cell=left, size=11)
    para("TM. ỦY BAN NHÂN DÂN", cell=right, bold=True, center=True)
    para("CHỦ TỊCH", cell=right, bold=True, center=True)
    doc.save(out)


def _widths(headers: list[str], rows: list[list], total: float) -> list[float]:
    """Column widths (cm) in proportion to what they hold: long texts wide, numbers and verdicts narrow
    but unbroken."""
    weights = []
    for index, header in enumerate(headers):
        values = [str(row[index]) for row in rows[:200] if str(row[index])]
        typical = sum(map(len, values)) / len(values) if values else 0
        longest_word = max(len(word) for text in [header, *values] for word in text.split())
        short = max(map(len, values), default=0)  # short texts (dates, verdicts) should not wrap at all
        weights.append(min(40.0, max(len(header) / 2, typical, longest_word + 2, short if short <= 24 else 0)))
    return [total * w / sum(weights) for w in weights]


def _roman(number: int) -> str:
    return ["I", "II", "III", "IV", "V", "VI", "VII", "VIII"][number - 1]
