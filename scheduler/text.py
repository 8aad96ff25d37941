"""Checks shared by every way text and codes enter the system (command line, config, web)."""

from __future__ import annotations

import csv
import io
import unicodedata
from pathlib import Path

from channels.languages import LANGUAGE_NAMES
from scheduler.errors import InputError

MAX_TITLE = 300
MAX_BODY = 20_000


def language_problem(code: str) -> str | None:
    """Why ``code`` is not a language we publish in, or None when it is one."""
    if code in LANGUAGE_NAMES:
        return None
    if code.lower() in {"th", "tha", "th-th"}:
        return (
            f"'{code}' là tiếng Thái Lan, không phải tiếng Thái của Sơn La; "
            "hãy dùng 'blt' cho tiếng Thái (Tai Dam) hoặc 'hmn' cho tiếng Mông"
        )
    return f"ngôn ngữ '{code}' không được hỗ trợ; hãy dùng vi (tiếng Việt), blt (tiếng Thái) hoặc hmn (tiếng Mông)"


def check_language(code: str, field: str = "--lang") -> str:
    problem = language_problem(code)
    if problem:
        raise InputError(field, problem)
    return code


def clean_text(value: str | None, field: str, *, limit: int, required: bool = True) -> str:
    """NFC-normalise and trim ``value``; refuse an empty or over-long text with a clear message."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if "\x00" in text:  # PostgreSQL cannot store it, SQLite would: refused alike, before either sees it
        raise InputError(field, "có ký tự NUL (\\0), thường do dán từ tệp nhị phân; hãy gõ hoặc dán lại văn bản")
    if required and not text:
        raise InputError(field, "đang trống; hãy nhập nội dung")
    if len(text) > limit:
        raise InputError(
            field, f"quá dài ({len(text):,} ký tự, tối đa {limit:,}); hãy rút gọn hoặc chia thành nhiều tin"
        )
    return text


def one_line(text: str) -> str:
    """``text`` as one line: every run of whitespace (line breaks and tabs too) one space, other control
    characters gone. For titles, subjects and mail headers, where a line break would mean something else."""
    kept = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return " ".join(kept.split())


def read_text_file(path: str | Path, field: str) -> str:
    """Read a UTF-8 text file typed by staff; a wrong encoding is explained, not a traceback."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise InputError(field, f"không đọc được tệp '{file}': {exc.strerror}") from exc
    return decode_text(raw, str(file), field)


def decode_text(raw: bytes, name: str, field: str) -> str:
    """Bytes of a text file (a path read, or an upload) as text; a wrong encoding is explained."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            field,
            f"tệp '{name}' không phải văn bản UTF-8 (byte lạ ở vị trí {exc.start}); "
            "hãy lưu lại tệp với bảng mã UTF-8 (trong Excel: Lưu thành... > CSV UTF-8; trong Notepad/Word: "
            "Lưu thành... > Mã hóa UTF-8)",
        ) from exc


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A value for a spreadsheet cell (XLSX, CSV): text that a spreadsheet would run as a formula (it
    starts with =, +, -, @, a tab or a carriage return) is written as text, behind an apostrophe.
    The one rule for the report, the web CSV and ``cchc logs --format csv``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return f"'{value}"
    return value


def csv_text(rows: list[dict], columns: list[str], headers: dict[str, str] | None = None) -> str:
    """``rows`` as CSV, the columns ``columns`` (other keys left out) under ``headers`` (by default
    the keys): lists joined with commas, formula-like text made safe (``spreadsheet_cell``). The one
    writer for the web's and the CLI's CSV."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writerow({column: (headers or {}).get(column, column) for column in columns})
    for row in rows:
        writer.writerow({k: spreadsheet_cell(",".join(map(str, v)) if isinstance(v, list) else v)
                         for k, v in row.items()})
    return buffer.getvalue()


def plain(text: str) -> str:
    """``text`` without diacritics, đ as d ("Xã Ít Ong" -> "Xa It Ong"): for codes and sorting."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def sort_key(text: str) -> tuple[str, str]:
    """Vietnamese alphabetical order near enough for lists of names: by the letters without their marks,
    then by the marks ("Ít Ong" before "Mường La", which code points would put after it)."""
    return plain(text).lower(), unicodedata.normalize("NFD", text).lower()
