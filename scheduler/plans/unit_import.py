"""Units in bulk (``cchc unit import FILE.csv``): a province's communes from one spreadsheet.

Each row names a unit: ``code, name, level, parent, slots, station_name`` and, optionally,
``ref_prefix``. Every row is checked first, and every problem is reported with its line number, so a
clerk fixes the file in one pass; nothing is written while any row is wrong. Then each unit is added
to or updated in ``config/units.toml`` and a new commune gets its default channels in
``config/channels.toml`` (its website and its loudspeaker system, on the row's slots); an existing
unit's loudspeaker takes the new slots. The files are edited with tomlkit, so the comments and
order staff wrote stay, and the whole configuration must load afterwards or both files are put back.
"""

from __future__ import annotations

import csv
import io
import re
import string
from dataclasses import dataclass
from pathlib import Path

from channels.loudspeaker.config import check_slots
from scheduler.config import Config, load_config
from scheduler.errors import ConfigError, InputError
from scheduler.text import plain

COLUMNS = ("code", "name", "level", "parent", "slots", "station_name")
LEVELS = {"province": "province", "tỉnh": "province", "commune": "commune", "xã": "commune", "phường": "commune"}
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_KINDS = ("Thị trấn", "Phường", "Tỉnh", "Xã")


@dataclass
class UnitRow:
    """One valid row of the file."""

    line: int
    code: str
    name: str
    level: str
    parent: str | None
    slots: list[str]
    station_name: str | None
    ref_prefix: str


def read_rows(text: str, config: Config) -> list[UnitRow]:
    """Every row of a CSV (UTF-8, comma or semicolon, a header line naming the columns); lines that begin
    with ``#`` are notes. ``InputError`` lists every problem as ``dòng N: ...``."""
    text = text.removeprefix("\ufeff")
    kept = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")]
    body = "\n".join(line for _, line in kept)
    delimiter = "," if body.count(",") >= body.count(";") else ";"  # Excel in Vietnamese settings writes ";"
    reader = csv.DictReader(io.StringIO(body), delimiter=delimiter)
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in COLUMNS[:3] if name not in header]
    if missing:
        raise InputError("FILE", f"dòng tiêu đề thiếu cột {', '.join(missing)}; cần các cột: {', '.join(COLUMNS)} "
                                 "(ref_prefix nếu muốn tự đặt mã tiền tố)")
    problems: list[str] = []
    rows: list[UnitRow] = []
    seen: dict[str, int] = {}
    prefixes = {u.ref_prefix: uid for uid, u in config.units.items()}
    for record in reader:
        values = {(k or "").strip().lower(): (v or "").strip() for k, v in record.items() if k}
        line = kept[reader.line_num - 1][0]  # the line in the file as the clerk sees it, notes included
        if not any(values.values()):
            continue
        row = _check(values, line, config, seen, prefixes, problems)
        if row is not None:
            rows.append(row)
            seen[row.code] = line
            prefixes[row.ref_prefix] = row.code
    levels = {r.code: r.level for r in rows} | {uid: u.level for uid, u in config.units.items()}
    for row in rows:
        if row.parent and levels.get(row.parent) != "province":
            problems.append(f"dòng {row.line}: đơn vị cấp trên '{row.parent}' không phải cấp tỉnh")
    if problems:
        raise InputError("FILE", "tệp có lỗi, chưa ghi gì:\n" + "\n".join(problems))
    if not rows:
        raise InputError("FILE", "tệp không có dòng đơn vị nào dưới dòng tiêu đề")
    return rows


def _check(values: dict[str, str], line: int, config: Config, seen: dict[str, int], prefixes: dict[str, str],
           problems: list[str]) -> UnitRow | None:
    found = len(problems)
    code, name = values.get("code", ""), values.get("name", "")
    if not CODE.match(code):
        problems.append(f"dòng {line}: mã '{code}' cần 1–40 chữ thường không dấu, số hoặc gạch ngang (ví dụ: it-ong)")
    elif code in seen:
        problems.append(f"dòng {line}: mã '{code}' trùng với dòng {seen[code]}")
    if not name:
        problems.append(f"dòng {line}: thiếu tên đơn vị (ví dụ: Xã Ít Ong)")
    level = LEVELS.get(values.get("level", "").lower())
    if level is None:
        problems.append(f"dòng {line}: cấp '{values.get('level', '')}' không hợp lệ; cần province (tỉnh) hoặc "
                        "commune (xã, phường)")
    parent = values.get("parent") or None
    if level == "commune" and not parent:
        problems.append(f"dòng {line}: xã '{code}' cần đơn vị cấp trên (cột parent, ví dụ: son-la)")
    elif level == "province" and parent:
        problems.append(f"dòng {line}: đơn vị cấp tỉnh không có đơn vị cấp trên; hãy để trống cột parent")
    elif parent and parent not in config.units and parent not in seen and parent != code:
        problems.append(f"dòng {line}: không có đơn vị cấp trên '{parent}' (trong units.toml hay ở dòng trên)")
    slots: list[str] = []
    try:
        slots = check_slots(re.split(r"[;\s|]+", values.get("slots", "")) if values.get("slots") else [])
    except ValueError as exc:
        problems.append(f"dòng {line}: {exc} (nhiều khung giờ cách nhau bằng dấu chấm phẩy: 06:00;17:00)")
    prefix = values.get("ref_prefix", "").upper() or _prefix(name, prefixes, code)
    if not re.fullmatch(r"[A-Z]{1,6}", prefix or ""):
        problems.append(f"dòng {line}: không tự đặt được mã tiền tố cho '{name}'; thêm cột ref_prefix (1–6 chữ in "
                        "hoa, ví dụ IO)")
    elif prefixes.get(prefix, code) != code:
        problems.append(f"dòng {line}: mã tiền tố {prefix} đã dùng cho đơn vị '{prefixes[prefix]}'; hãy ghi "
                        "ref_prefix khác")
    if len(problems) > found:
        return None
    return UnitRow(line, code, name, level, parent, slots, values.get("station_name") or None, prefix)


def _prefix(name: str, taken: dict[str, str], code: str) -> str:
    """Initials of the name without its kind and diacritics ("Xã Mường La" -> "ML"); if another unit has
    them, one more letter (of the last word, then the first, then any) until one is free."""
    for kind in _KINDS:
        name = name.removeprefix(kind + " ")
    words = re.findall(r"[A-Za-z]+", plain(name))
    if not words:
        return ""
    base = "".join(w[0] for w in words).upper()[:5]
    for extra in ["", *words[-1][1:].upper(), *words[0][1:].upper(), *string.ascii_uppercase]:
        if taken.get(base + extra, code) == code:
            return base + extra
    return ""


def apply(config_dir: Path, rows: list[UnitRow], config: Config) -> list[str]:
    """Write the rows into units.toml and channels.toml; return a line per change. If the configuration
    does not load afterwards, both files are put back as they were and the ``ConfigError`` is raised."""
    import tomlkit

    units_path, channels_path = config_dir / "units.toml", config_dir / "channels.toml"
    units_text, channels_text = units_path.read_text(encoding="utf-8"), channels_path.read_text(encoding="utf-8")
    units_doc, channels_doc = tomlkit.parse(units_text), tomlkit.parse(channels_text)
    changes: list[str] = []
    for row in rows:
        wanted = {"name": row.name, "level": row.level, "parent": row.parent, "ref_prefix": row.ref_prefix,
                  "station_name": row.station_name, "slots": row.slots}
        table = units_doc["units"].get(row.code)
        if table is None:
            table = tomlkit.table()
            units_doc["units"].append(row.code, table)
            changes.append(f"đơn vị {row.code} ({row.name}): thêm mới")
        diff = [key for key, value in wanted.items() if table.get(key) != value and (value or key in table)]
        for key in diff:
            if wanted[key] in (None, []) and key in table:
                del table[key]
            elif wanted[key] not in (None, []):
                table[key] = wanted[key]
        if diff and row.code in config.units:
            changes.append(f"đơn vị {row.code}: sửa {', '.join(diff)}")
        if row.level == "commune":
            changes += _default_channels(channels_doc, row)
    try:
        units_path.write_text(tomlkit.dumps(units_doc), encoding="utf-8")
        channels_path.write_text(tomlkit.dumps(channels_doc), encoding="utf-8")
        load_config(config_dir)
    except (ConfigError, OSError):  # a file that could not be written, or a result that does not load
        for path, text in ((units_path, units_text), (channels_path, channels_text)):
            if path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
        raise
    return changes


def _province_group(doc, province: str | None, loudspeaker: str) -> list[str]:  # noqa: ANN001
    """Every commune loudspeaker of a province in the group ``loa-<province>``: a province-wide broadcast
    names that group (``cchc queue --unit son-la --channel loa-son-la``)."""
    import tomlkit

    if not province:
        return []
    name = f"loa-{province}"
    groups = doc.setdefault("groups", tomlkit.table())
    if name not in groups:
        groups[name] = tomlkit.array().multiline(True)
    if loudspeaker in groups[name]:
        return []
    groups[name].append(loudspeaker)
    return [f"nhóm {name}: thêm {loudspeaker}"]


def _default_channels(doc, row: UnitRow) -> list[str]:  # noqa: ANN001  a tomlkit document
    """A new commune's website and loudspeaker; an existing loudspeaker gets the row's slots."""
    import tomlkit

    place = row.name[:1].lower() + row.name[1:]
    channels = doc["channels"]
    made: list[str] = []
    website, loudspeaker = f"{row.code}-website", f"{row.code}-loa"
    if website not in channels:
        channels.append(website, tomlkit.table())
        channels[website].update({"unit": row.code, "kind": "website", "title": f"Trang thông tin điện tử {place}",
                                  "languages": ["vi"], "grace_minutes": 1440,
                                  "settings": {"site_title": f"Trang thông tin điện tử {place}",
                                               "base_url": f"http://127.0.0.1:8080/{website}/"}})
        made.append(f"kênh {website}: thêm mới")
    if not row.slots:
        return made
    made += _province_group(doc, row.parent, loudspeaker)
    if loudspeaker in channels:
        if list(channels[loudspeaker]["settings"].get("slots", [])) != row.slots:
            channels[loudspeaker]["settings"]["slots"] = row.slots
            made.append(f"kênh {loudspeaker}: khung giờ {', '.join(row.slots)}")
        return made
    station = row.station_name or f"Đài truyền thanh {place}"
    channels.append(loudspeaker, tomlkit.table())
    channels[loudspeaker].update({
        "unit": row.code, "kind": "loudspeaker", "title": f"Hệ thống truyền thanh {place}",
        "languages": ["vi", "blt", "hmn"], "grace_minutes": 30,
        "settings": {"slots": row.slots, "max_minutes": 20, "playout": "folder",
                     "station_id": f"Đây là {station}. Sau đây là chương trình thông tin cải cách hành chính.",
                     "outro": f"Chương trình thông tin cải cách hành chính của {station} đến đây là kết thúc. "
                              "Cảm ơn bà con đã lắng nghe."}})
    made.append(f"kênh {loudspeaker}: thêm mới ({', '.join(row.slots)})")
    return made
