"""Read a plan document (kế hoạch tuyên truyền CCHC) as text and propose its plan config.

Plans share one shape: roman sections (I. Mục đích, yêu cầu; II. Nội dung, hình thức; III. Kinh
phí; IV. Tổ chức thực hiện), numbered parts, lettered items a) b) c) d) đ) e) g) h) i) k). Every line
gets its clause (``II.1.đ``, ``IV.9``) from that outline. The content items are the letters of II.1;
quotas come from items that give a number and a period ("04 số/tháng", "ít nhất 02 tin, bài" +
"hằng tháng"), and from items that name a channel without a number, read as a careful official
would (each such choice carries a note saying so).

Scanned plans lose diacritics and pick up OCR errors ("04 sd/thang", "¢)" for "c)", a second "d)"
where "đ)" was, "I1." for "II."): matching is done on a folded form (no diacritics, lower case) and
the outline by order, so a garbled mark still lands on the right clause.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from scheduler.config import Config, PlanFile
from scheduler.errors import InputError

LETTERS = "a b c d đ e g h i k l m n o p q r s t u v x y".split()
OCR_LETTERS = {"¢": "c", "€": "e"}
# Letters only Vietnamese writes; a plan with almost none of them was scanned and lost its diacritics.
VIETNAMESE_ONLY = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
ROMANS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII"]
_ROMAN = re.compile(r"^\s*([IVXl1|]{1,4})\s*\.\s+(\S.*)$")
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*\.\s+(\S.*)$")
_LETTER = re.compile(r"^\s*([A-Za-zđĐ¢€])\s*\)\s*(.*)$")
_PERIODS = {"tuan": "week", "thang": "month", "thing": "month", "quy": "quarter", "nam": "year", "nim": "year"}
_COUNT_PER = re.compile(r"(\d{1,3})\s*[a-z0-9]{1,4}(?:,\s*[a-z]{2,4})?\s*/\s*(tuan|thang|thing|quy|nam|nim)\b")
_AT_LEAST = re.compile(r"(?:it nhat|toi thieu)\s*(\d{1,3})\s*(?:tin|bai|so|luot|ban)")
_EVERY = re.compile(r"\b(?:hang|moi)\s+(tuan|thang|thing|quy|nam|nim)\b")


def fold(text: str) -> str:
    """Lower case without diacritics (đ → d), for matching scanned and typed text alike."""
    text = "".join(OCR_LETTERS.get(ch, ch) for ch in text).replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch)).lower()


@dataclass
class Block:
    """The text of one leaf clause of the plan."""

    clause: str
    letter: str | None
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        joined = " ".join(" ".join(self.lines).split())
        return re.sub(r"\s+([,.;:)])", r"\1", joined)

    @property
    def folded(self) -> str:
        return fold(self.text)


@dataclass
class Proposal:
    title: str
    year: int | None
    topics: dict[str, dict] = field(default_factory=dict)
    targets: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def outline(text: str) -> list[Block]:
    """Split the document into leaf clauses, numbering by order where a scan garbled the marks."""
    blocks: list[Block] = []
    roman, number, letter_index = 0, 0, -1
    current: Block | None = None

    def start(clause: str, letter: str | None, first: str) -> Block:
        block = Block(clause, letter, [first])
        blocks.append(block)
        return block

    for raw in unicodedata.normalize("NFC", text).splitlines():
        line = raw.rstrip()
        if not line.strip() or re.match(r"^\s*https?://", line):
            continue
        heading = _ROMAN.match(line)
        if heading and _mostly_upper(heading.group(2)) and roman < len(ROMANS):
            roman, number, letter_index = roman + 1, 0, -1
            current = start(ROMANS[roman - 1], None, heading.group(2))
            continue
        numbered = _NUMBER.match(line)
        if roman and numbered and int(numbered.group(1)) == number + 1:
            number, letter_index = number + 1, -1
            current = start(f"{ROMANS[roman - 1]}.{number}", None, numbered.group(2))
            continue
        lettered = _LETTER.match(line)
        if roman and lettered and letter_index + 1 < len(LETTERS):
            expected = LETTERS[letter_index + 1]
            found = fold(OCR_LETTERS.get(lettered.group(1), lettered.group(1)))
            if found == fold(expected):  # "d)" read where "đ)" is due: the outline says which
                letter_index += 1
                parent = f"{ROMANS[roman - 1]}.{number}" if number else ROMANS[roman - 1]
                current = start(f"{parent}.{expected}", expected, lettered.group(2))
                continue
        if current is not None:
            current.lines.append(line)
    return blocks


def _mostly_upper(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 4 and sum(ch.isupper() for ch in letters) >= 0.7 * len(letters)


def propose(text: str, *, config: Config | None = None, unit: str | None = None) -> Proposal:
    """The plan config a careful reader would write from ``text`` (to be confirmed by a person)."""
    blocks = outline(text)
    proposal = Proposal(title=_title(text), year=_year(text))
    letters = [ch for ch in unicodedata.normalize("NFC", text).lower() if ch.isalpha()]
    if letters and sum(ch in VIETNAMESE_ONLY for ch in letters) < 0.01 * len(letters):
        proposal.notes.append("Văn bản có vẻ là bản quét đã mất dấu: hãy gõ lại tiêu đề và nội dung các mục có dấu.")
    contents = [b for b in blocks if b.letter and b.clause.startswith("II.1.")]
    for block in contents:
        proposal.topics[block.letter] = {"clause": block.clause, "text": block.text}
    website_counted = False
    for block in blocks:
        folded = block.folded
        count = _count(folded)
        if count is None or not _is_website(folded):
            continue
        minimum, period = count
        website_counted = True
        if "ban tin dien" in folded:  # "Bản tin điện tử" (scans: "dién tt")
            topic = block.letter if block.clause.startswith("II.1.") else "ban-tin"
            if topic == "ban-tin":
                proposal.topics[topic] = {"clause": block.clause, "text": block.text}
            _target(proposal, "bulletin", block, "website", minimum, period, topics=[topic], about="ban tin")
        else:
            _target(proposal, "portal-articles", block, "website", minimum, period, about=r"\d")
    for block in blocks:  # a website item with a period but no number ("hằng tháng, đăng tin, bài")
        folded = block.folded
        every = _EVERY.search(folded)
        if _count(folded) is None and every and _is_website(folded) and "portal-articles" not in proposal.targets:
            period = _PERIODS[every.group(1)]
            _target(proposal, "portal-articles", block, "website", 1, period,
                    note=f"Kế hoạch ghi '{every.group(0)}' nhưng không ghi số lượng; {_assumed(config, unit, period)}")
    loud = next((b for b in blocks if b.clause.startswith("II.2.") and _is_loudspeaker(b.folded)), None)
    if loud is not None:
        languages, clause = ["vi"], loud.clause
        ethnic = next((b for b in blocks if "tieng dan toc" in b.folded), None)
        if ethnic is not None:
            languages += [code for code, pattern in (("blt", r"\bthai\b"), ("hmn", r"\bmo?n?g\b|\bmn?g\b"))
                          if re.search(pattern, ethnic.folded.split("tieng dan toc", 1)[1][:40])]
            clause = f"{loud.clause}; {ethnic.clause}"
        _target(proposal, "loudspeaker", loud, "loudspeaker", 1, "week", languages=languages, clause=clause,
                about="truyen thanh",
                note="Kế hoạch không ghi tần suất; đề xuất mỗi tuần ít nhất 01 lượt cho mỗi ngôn ngữ để yêu cầu "
                     "'thường xuyên, liên tục' đo được.")
    social = next((b for b in blocks if b.clause.startswith("II.2.") and _is_social(b.folded)), None)
    if social is not None:
        _target(proposal, "social", social, "social", 4, "month", about="zalo|facebook|tiktok",
                note="Kế hoạch không ghi số lượng; đề xuất 01 tin/tuần (04 tin/tháng) để 'duy trì' đo được.")
    for block in blocks:  # "đối thoại của lãnh đạo UBND ... với doanh nghiệp định kỳ 2 lần/năm": an activity
        folded = block.folded
        count = _count(folded)
        if count and re.search(r"d[o0-9]i thoai", folded) and "doanh ngh" in folded:
            _target(proposal, "business-dialogue", block, "", count[0], count[1], about="thoai",
                    note="Đếm các buổi đối thoại đã ghi trong sổ hoạt động (cchc activity add --kind dialogue).")
            proposal.targets["business-dialogue"]["activity"] = "dialogue"
    bulletin, articles = proposal.targets.get("bulletin"), proposal.targets.get("portal-articles")
    if bulletin and articles:  # an issue of the bulletin is not also one of the month's articles
        articles["exclude_topics"] = list(bulletin["topics"])
    if not website_counted and "portal-articles" not in proposal.targets:
        proposal.notes.append("Không tìm thấy chỉ tiêu có số lượng cho Cổng/Trang thông tin điện tử.")
    if not proposal.topics and not proposal.targets:
        raise InputError("FILE", "không tìm thấy mục nội dung (II.1 a, b, c...) hay chỉ tiêu nào; tệp có phải "
                                 "kế hoạch tuyên truyền CCHC (có phần 'II. NỘI DUNG, HÌNH THỨC') không?")
    return proposal


def _count(folded: str) -> tuple[int, str] | None:
    """(minimum, period) when the text gives a number and a period."""
    per = _COUNT_PER.search(folded)
    if per:
        return int(per.group(1)), _PERIODS[per.group(2)]
    least, every = _AT_LEAST.search(folded), _EVERY.search(folded)
    if least and every:
        return int(least.group(1)), _PERIODS[every.group(1)]
    return None


def _is_website(folded: str) -> bool:
    return bool(re.search(r"(cong|trang)\s+thong\s+tin\s+dien\s+t", folded))


def _is_loudspeaker(folded: str) -> bool:
    return "truyen thanh" in folded


def _is_social(folded: str) -> bool:
    return bool(re.search(r"\b(zalo|facebook|tiktok)\b", folded))


def _assumed(config: Config | None, unit: str | None, period: str) -> str:
    """Why a website item without a number is "at least 01": the least that meets "every period"; the parent
    unit's figure for the same period is named, not taken over (it is for the parent's own portal)."""
    parent = config.units[unit].parent if config and unit in config.units else None
    said = "đã giả định tối thiểu 01 (mức thấp nhất thỏa 'hằng kỳ')"
    for plan in (config.plans.values() if config and parent else []):
        target = plan.targets.get("portal-articles")
        if plan.unit == parent and target and target.period == period:
            return (f"{said}; kế hoạch cấp trên ({plan.id}, mục {target.clause}) yêu cầu {target.minimum:02d} cho "
                    "cổng thông tin của cấp trên: hãy sửa nếu đơn vị cũng thực hiện theo mức đó.")
    return f"{said}; hãy sửa nếu kế hoạch cấp trên yêu cầu nhiều hơn."


def _target(proposal: Proposal, key: str, block: Block, channel: str, minimum: int, period: str, *,
            topics: list[str] | None = None, languages: list[str] | None = None, clause: str | None = None,
            note: str = "", about: str = "") -> None:
    """Add a target unless one with ``key`` exists; its description is the sentence matching ``about``."""
    if key in proposal.targets:
        return
    sentences = re.split(r"(?<=[.;:])\s", block.text)
    description = next((x for x in sentences if about and re.search(about, fold(x))), sentences[0]).rstrip(".;:")
    proposal.targets[key] = {"clause": clause or block.clause, "description": description, "channel": channel,
                             "minimum": minimum, "period": period, "languages": languages or ["vi"],
                             "topics": topics or [], "exclude_topics": [], "note": note}


def _title(text: str) -> str:
    lines = [line.strip() for line in unicodedata.normalize("NFC", text).splitlines() if line.strip()]
    for index, line in enumerate(lines[:-1]):
        if fold(line) == "ke hoach":
            subject = lines[index + 1]
            return f"Kế hoạch {subject[0].lower()}{subject[1:]}"
    return "Kế hoạch tuyên truyền công tác cải cách hành chính"


def _year(text: str) -> int | None:
    found = re.search(r"\bn[aă]m\s+(20\d\d)\b", fold(text))
    return int(found.group(1)) if found else None


def _place(name: str) -> str:
    """A unit's name without its kind: "Xã Mường La" -> "Mường La"."""
    return name.split(" ", 1)[1] if name.split(" ", 1)[0] in ("Xã", "Phường", "Tỉnh") and " " in name else name


def to_toml(proposal: Proposal, *, plan_id: str, unit: str, source: str) -> str:
    """The proposal as a plan file for ``config/plans/`` (strings written as TOML basic strings)."""
    def q(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    out = [f"# ĐỀ XUẤT từ {source}: hãy đọc lại từng mục với văn bản gốc trước khi dùng.",
           *(f"# {note}" for note in proposal.notes),
           f"id = {q(plan_id)}", f"unit = {q(unit)}", f"year = {proposal.year}", f"title = {q(proposal.title)}",
           f"source = {q(source)}",
           "# Ngày ban hành và ngày bắt đầu áp dụng của kế hoạch (các kỳ trước ngày áp dụng: chưa áp dụng):",
           "# issued = 2025-08-01", "# effective = 2025-08-01", ""]
    for code, topic in proposal.topics.items():
        out += [f"[topics.{q(code)}]", f"clause = {q(topic['clause'])}", f"text = {q(topic['text'])}", ""]
    for key, target in proposal.targets.items():
        out += [f"[targets.{key}]", f"clause = {q(target['clause'])}", f"description = {q(target['description'])}",
                (f"activity = {q(target['activity'])}" if target.get("activity")
                 else f"channel = {q(target['channel'])}"),
                f"minimum = {target['minimum']}", f"period = {q(target['period'])}"]
        if not target.get("activity"):  # an activity is not in a language
            out.append(f"languages = [{', '.join(q(lang) for lang in target['languages'])}]")
        for field_name in ("topics", "exclude_topics"):
            if target[field_name]:
                out.append(f"{field_name} = [{', '.join(q(t) for t in target[field_name])}]")
        if target["note"]:
            out.append(f"note = {q(target['note'])}")
        out.append("")
    return "\n".join(out)


def copy_for_year(config_dir, config: Config, source_id: str, year: int,  # noqa: ANN001
                  plan_id: str | None = None, unit: str | None = None) -> tuple[str, str]:
    """A new year's plan from an earlier one (``cchc plan new``): the same topics and targets, the
    year and its id changed, "năm <old>" in the texts made "năm <new>" (dates and document numbers
    keep their years), the decision it implements and its signing and start dates cleared for the
    clerk to fill. Returns the new plan's id and its TOML text; nothing is written."""
    import tomllib

    source = config.plans.get(source_id)
    if source is None:
        known = ", ".join(sorted(config.plans)) or "chưa có"
        raise InputError("--from", f"không có kế hoạch '{source_id}'; các kế hoạch: {known}")
    unit = unit or source.unit
    if unit not in config.units:
        raise InputError("--unit", f"không có đơn vị '{unit}'; xem các đơn vị: cchc unit list")
    plan_id = plan_id or f"{unit}-{year}"
    taken = [p.id for p in config.plans.values() if p.unit == unit and p.year == year]
    if taken:
        raise InputError("--year", f"đơn vị '{unit}' đã có kế hoạch năm {year} ({taken[0]}); "
                                   "xem bằng: cchc plan show",
                         web=f"{config.units[unit].name} đã có kế hoạch năm {year} ({taken[0]}); không tạo thêm")
    if plan_id in config.plans:
        raise InputError("--id", f"đã có kế hoạch '{plan_id}'; hãy chọn mã khác")
    # Another commune's copy speaks of that commune: "xã Mường La" -> "xã Ít Ong".
    places = [(_place(config.units[source.unit].name), _place(config.units[unit].name))] if unit != source.unit else []
    path = next(p for p in sorted(Path(config_dir, "plans").glob("*.toml"))
                if tomllib.loads(p.read_text(encoding="utf-8")).get("id") == source_id)
    old = str(source.year)
    lines = [f"# Sao từ kế hoạch {source_id} bằng cchc plan new: hãy đối chiếu từng chỉ tiêu và nội dung với",
             f"# văn bản kế hoạch năm {year}, ghi ngày ban hành (issued) và ngày áp dụng (effective),",
             "# rồi chạy cchc config check."]
    for line in path.read_text(encoding="utf-8").splitlines():
        key = line.split("=", 1)[0].strip()
        if line.startswith("#"):
            continue  # the old plan's comments describe the old document
        if key == "id":
            line = f'id = "{plan_id}"'
        elif key == "unit":
            line = f'unit = "{unit}"'
        elif key == "year":
            line = f"year = {year}"
        elif key == "decision":
            line = 'decision = ""  # the decision the new plan implements: to fill in'
        elif key in ("issued", "effective", "source"):
            continue
        else:
            line = re.sub(rf"(?i)\b(năm|nam)\s+{old}\b", lambda m: f"{m.group(1)} {year}", line)
            for before, after in places:
                line = line.replace(before, after)
        lines.append(line)
    return plan_id, "\n".join(lines) + "\n"


def new_year(config_dir: Path, config: Config, source_id: str, year: int, units: list[str | None],
             plan_id: str | None = None) -> list[str]:
    """Write a copy of plan ``source_id`` for ``year`` for each of ``units`` (None: the plan's own unit) into
    the install's configuration (``copy_for_year``); every copy is checked with the rest before any is kept,
    so a refusal leaves the folder as it was. Returns the new plans' ids."""
    from scheduler.config import load_config

    if not 2000 <= year <= 2100:
        raise InputError("--year", f"năm {year} không hợp lệ; ví dụ: --year 2026")
    if plan_id and len(units) > 1:
        raise InputError("--id", "--id chỉ dùng khi tạo một kế hoạch")
    made: list[tuple[str, Path]] = []
    try:
        for unit in units:
            new_id, text = copy_for_year(config_dir, config, source_id, year, plan_id, unit)
            target = Path(config_dir) / "plans" / f"{new_id}.toml"
            if target.exists():
                raise InputError("--id", f"đã có tệp kế hoạch tên '{new_id}'; hãy chọn mã khác bằng --id")
            target.write_text(text, encoding="utf-8")
            made.append((new_id, target))
        load_config(config_dir)  # the copies must load with the rest, or none is kept
    except Exception:
        for _, target in made:
            target.unlink(missing_ok=True)
        raise
    return [new_id for new_id, _ in made]


def latest_plan(config: Config, unit: str, before: int) -> PlanFile | None:
    """The unit's most recent plan of a year before ``before``: what a new year's plan is copied from."""
    earlier = [p for p in config.plans.values() if p.unit == unit and p.year < before]
    return max(earlier, key=lambda p: p.year) if earlier else None
