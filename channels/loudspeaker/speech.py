"""Speech text for Vietnamese: what a TTS engine should read, not what the page shows.

TTS engines read "01/8/2025", "1928/QĐ-UBND" or "CCHC" badly or not at all, so before synthesis the
text is rewritten the way a station announcer reads it: dates, times, numbers, percentages, decimal
commas, ranges, document numbers, Roman numerals in headings, phone numbers, web addresses, and
abbreviations from the lexicon in ``config/speech.toml`` (staff add entries there, not here).

Numbers are read by hand rather than with num2words: its Vietnamese reads 2025 as "hai nghìn lẻ hai
mươi lăm" and 3,5 as "ba phẩy năm mươi", where announcers say "hai nghìn không trăm hai mươi lăm"
and "ba phẩy năm". The rules are the Northern reading (linh, mốt, tư, lăm), as in Sơn La.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping

DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
_GROUPS = ["", "nghìn", "triệu", "tỷ"]
_WORD = r"[^\W_]"  # a letter or digit in any script
_ROMAN = re.compile(r"^M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


class SpeechError(ValueError):
    """The text has nothing a voice can read."""


def read_number(n: int) -> str:
    """A non-negative integer in Vietnamese words: 2025 -> "hai nghìn không trăm hai mươi lăm"."""
    if n < 0:
        return "âm " + read_number(-n)
    if n == 0:
        return "không"
    if n >= 10**12:
        high, low = divmod(n, 10**9)
        return " ".join(filter(None, [read_number(high), "tỷ", _groups(low, leading=False) if low else ""]))
    return _groups(n, leading=True)


def _groups(n: int, *, leading: bool) -> str:
    groups = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        is_first = leading and index == len(groups) - 1
        words.append(_triple(group, full=not is_first))
        if _GROUPS[index]:
            words.append(_GROUPS[index])
    return " ".join(words)


def _triple(n: int, *, full: bool) -> str:
    """Three digits; ``full`` reads a leading zero hundred ("không trăm") as inside a bigger number."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if words:
                words.append("linh")
            words.append(DIGITS[units])
    elif tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else DIGITS[units])
    else:
        words += [DIGITS[tens], "mươi"]
        if units:
            words.append({1: "mốt", 4: "tư", 5: "lăm"}.get(units, DIGITS[units]))
    return " ".join(words)


def read_decimal(whole: str, fraction: str) -> str:
    """ "3", "25" -> "ba phẩy hai mươi lăm"; leading zeros of the fraction are read one by one."""
    zeros = len(fraction) - len(fraction.lstrip("0"))
    tail = fraction.lstrip("0")
    parts = [read_number(int(whole)), "phẩy", *(["không"] * zeros)]
    if tail:
        parts.append(read_number(int(tail)))
    return " ".join(parts)


def read_digits(text: str) -> str:
    return " ".join(DIGITS[int(ch)] for ch in text if ch.isdigit())


def read_day(day: int) -> str:
    return f"mùng {read_number(day)}" if day <= 10 else read_number(day)


def read_month(month: int) -> str:
    return "tư" if month == 4 else read_number(month)


def roman_value(text: str) -> int | None:
    if not text or not _ROMAN.match(text):
        return None
    total = 0
    for index, ch in enumerate(text):
        value = _ROMAN_VALUES[ch]
        following = _ROMAN_VALUES[text[index + 1]] if index + 1 < len(text) else 0
        total += -value if value < following else value
    return total


def _number(text: str) -> str:
    """A number as written in Vietnamese (dots group thousands, a comma marks decimals)."""
    whole, _, fraction = text.replace(".", "").partition(",")
    return read_decimal(whole, fraction) if fraction else read_number(int(whole))


_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
# Words after which "20/11" is a day and a month, not a fraction or a document number.
_BEFORE_DAY = "ngày|từ|đến|trước|sau|hạn|tới|vào"
# Units read in full after a number (longest first, so "m2" wins over "m").
UNITS = {"km²": "ki lô mét vuông", "km2": "ki lô mét vuông", "m²": "mét vuông", "m2": "mét vuông",
         "m³": "mét khối", "m3": "mét khối", "km": "ki lô mét", "cm": "xen ti mét", "mm": "mi li mét",
         "ha": "héc ta", "kg": "ki lô gam", "°C": "độ C", "độ C": "độ C", "ml": "mi li lít", "m": "mét",
         "g": "gam", "l": "lít", "tấn": "tấn", "mét": "mét", "lít": "lít"}
_UNITS = "|".join(re.escape(unit) for unit in sorted(UNITS, key=len, reverse=True))
FRACTIONS = {2: "một nửa"}
_ROMAN_AFTER = (
    "Phần|phần|Chương|chương|Mục|mục|Khóa|khóa|Khoá|khoá|Đại hội|đại hội|Quý|quý|Thế kỷ|thế kỷ|"
    "Hội nghị lần thứ|hội nghị lần thứ|Điều|điều|Phụ lục|phụ lục"
)


class SpeechText:
    """Rewrites Vietnamese text for a voice. ``abbreviations`` apply anywhere as whole words;
    ``document_codes`` only inside document numbers (where "TT" means thông tư)."""

    def __init__(self, abbreviations: Mapping[str, str], document_codes: Mapping[str, str] | None = None):
        self.abbreviations = dict(abbreviations)
        self.codes = {**self.abbreviations, **(document_codes or {})}
        keys = sorted(self.abbreviations, key=len, reverse=True)
        self._kept = {word for key in self.codes for word in re.findall(r"[^\W\d_]+", key)}
        self._abbrev = (
            re.compile(r"(?<![^\W_])(" + "|".join(re.escape(k) for k in keys) + r")(?![^\W_])") if keys else None
        )
        self._rules: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
            (re.compile(r"\b(?:https?://|www\.)[^\s,;()]+[^\s,;().!?]", re.I), self._url),
            (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), self._url),
            (re.compile(r"(?<![\w/])(\d+)(?:/(\d{4}))?[/-]((?:[A-ZĐ][A-Za-zĐđ]*)(?:[-/][A-ZĐ][A-Za-zĐđ]*)*)"
                        r"(?![\w])"), self._document),
            (re.compile(r"(?<![\w/])(?:(ngày)\s+)?(\d{1,2})([/.-])(\d{1,2})\3(\d{4})(?![\w/])", re.I), self._date),
            (re.compile(r"(?<![\w/])(?:(tháng)\s+)?(\d{1,2})/(\d{4})(?![\w/])", re.I), self._month_year),
            (re.compile(r"(?<![\w/])(\d{1,2})/(\d{1,2})\s*(?:-|–|đến)\s*(\d{1,2})/(\d{1,2})(?![\w/])"),
             self._dates_range),
            (re.compile(rf"(?<![\w/])(?:({_BEFORE_DAY})\s+)?(\d{{1,2}})\s*(?:-|–|đến)\s*(\d{{1,2}})/(\d{{1,2}})"
                        r"(?![\w/])", re.I), self._day_range),
            (re.compile(rf"(?<![\w/])({_BEFORE_DAY})\s+(\d{{1,2}})/(\d{{1,2}})(?![\w/])", re.I), self._day_month),
            (re.compile(r"(?i)\b(gọi(?:\s+số)?|đường dây nóng|hotline|tổng đài|số điện thoại|điện thoại|số máy)"
                        r"(\s*:?\s+)(\d(?:[\d .]{0,14}\d)?(?:\s*(?:,|hoặc|và)\s*\d(?:[\d .]{0,14}\d)?)*)(?![\w])"),
             self._dial),
            (re.compile(r"(?<![\w.,])(1800|1900)[ .]?(\d{3,4})(?:[ .]?(\d{2,4}))?(?![\w])"), self._dial_short),
            (re.compile(rf"(?<![\w.,])({_NUM})\s*(tỷ|triệu|nghìn|ngàn)?\s*(VNĐ|VND|đồng|đ)(?![^\W\d_])"), self._money),
            (re.compile(rf"(?<![\w.,])({_NUM})\s*({_UNITS})(?![^\W\d_])"), self._unit),
            (re.compile(r"(?<![\w/.,])([1-9])/([2-9])(?![\w/])"), self._fraction),
            (re.compile(r"(?<![\w:])(\d{1,2})\s*(?:h|giờ|:)\s*(\d{2})(?:\s*(?:phút|p)\b)?(?![\w:])", re.I), self._time),
            (re.compile(r"(?<![\w:])(\d{1,2})h(?![\w])", re.I), self._hour),
            (re.compile(r"(?<![\w.,])0\d{1,3}(?:[ .]?\d{2,4}){2,3}(?![\w])"), self._phone),
            (re.compile(rf"(?<![\w.,])({_NUM})\s*[-–]\s*({_NUM})(\s*%)?(?![\w])"), self._range),
            (re.compile(rf"(?<![\w.,])({_NUM})\s*%"), lambda m: f"{_number(m.group(1))} phần trăm"),
            (re.compile(r"\b(thứ|Thứ)\s+(\d+)\b"), self._ordinal),
            (re.compile(rf"\b({_ROMAN_AFTER})\s+([IVXLCDM]+)\b"), self._roman_after),
            (re.compile(r"(?m)^(\s*)([IVXLCDM]+)([.)])(?=\s)"), self._roman_heading),
            (re.compile(rf"(?<![\w])({_NUM})(?![\w])"), lambda m: _number(m.group(1))),
        ]

    def speak(self, text: str) -> str:
        """The speech text of ``text``; raises ``SpeechError`` when nothing readable is left."""
        text = unicodedata.normalize("NFC", text)
        text = "\n".join(self._heading_case(line) for line in text.split("\n"))
        for pattern, rewrite in self._rules[:3]:  # addresses and document numbers hold other patterns
            text = pattern.sub(rewrite, text)
        if self._abbrev is not None:
            text = self._abbrev.sub(lambda m: self.abbreviations[m.group(1)], text)
        for pattern, rewrite in self._rules[3:]:
            text = pattern.sub(rewrite, text)
        text = self._symbols(text)
        if not re.search(r"[^\W\d_]", text):
            raise SpeechError("nội dung không có chữ nào để đọc (chỉ có ký hiệu hoặc biểu tượng); "
                              "hãy viết nội dung bằng chữ")
        return text

    def unknown_abbreviations(self, text: str) -> list[str]:
        """Words in capitals the lexicon does not know (the voice spells them letter by letter), in
        order of appearance: staff add them to ``config/speech.toml`` ``[abbreviations]``."""
        text = unicodedata.normalize("NFC", text)
        found: list[str] = []
        for line in text.split("\n"):
            if line == line.upper() and re.search(r"[^\W\d_]{2}", line) and len(line.split()) > 2:
                continue  # an all-capitals heading is read as words, not spelled
            for word in re.findall(r"(?<![^\W_])[A-ZĐ][A-ZĐ0-9]+(?:-[A-ZĐ0-9]+)*(?![^\W_])", line):
                for part in word.split("-"):
                    if (len(part) >= 2 and part not in self.codes and not roman_value(part)
                            and not part.isdigit() and part not in found):
                        found.append(part)
        return found

    # -- rewrites ------------------------------------------------------------------------------

    def _url(self, m: re.Match[str]) -> str:
        address = re.sub(r"^(?:https?://)?(?:www\.)?", "", m.group(0), flags=re.I).split("/")[0]
        address = address.replace("@", " a còng ")
        return " chấm ".join(part for part in address.split(".") if part)

    def _document(self, m: re.Match[str]) -> str:
        number, year, code = m.groups()
        words = [read_number(int(number))]
        if year:
            words += ["năm", read_number(int(year))]
        for part in re.split(r"[-/]", code):
            words.append(self.codes.get(part) or self.codes.get(part.upper()) or _spell(part))
        return " ".join(words)

    def _date(self, m: re.Match[str]) -> str:
        day, month, year = int(m.group(2)), int(m.group(4)), int(m.group(5))
        if not (1 <= day <= 31 and 1 <= month <= 12):
            return m.group(0)
        lead = m.group(1) or "ngày"
        return f"{lead} {read_day(day)} tháng {read_month(month)} năm {read_number(year)}"

    def _month_year(self, m: re.Match[str]) -> str:
        month, year = int(m.group(2)), int(m.group(3))
        if not 1 <= month <= 12:
            return m.group(0)
        return f"{m.group(1) or 'tháng'} {read_month(month)} năm {read_number(year)}"

    def _day_month(self, m: re.Match[str]) -> str:
        day, month = int(m.group(2)), int(m.group(3))
        if not (1 <= day <= 31 and 1 <= month <= 12):
            return m.group(0)
        return f"{m.group(1)} {read_day(day)} tháng {read_month(month)}"

    def _dates_range(self, m: re.Match[str]) -> str:
        first_day, first_month, last_day, last_month = (int(g) for g in m.groups())
        if not all(1 <= d <= 31 for d in (first_day, last_day)) or not all(1 <= x <= 12 for x in (first_month,
                                                                                                  last_month)):
            return m.group(0)
        return (f"{read_day(first_day)} tháng {read_month(first_month)} đến {read_day(last_day)} tháng "
                f"{read_month(last_month)}")

    def _day_range(self, m: re.Match[str]) -> str:
        first, last, month = int(m.group(2)), int(m.group(3)), int(m.group(4))
        if not (1 <= first <= 31 and 1 <= last <= 31 and 1 <= month <= 12):
            return m.group(0)
        lead = f"{m.group(1)} " if m.group(1) else ""
        return f"{lead}{read_day(first)} đến {read_day(last)} tháng {read_month(month)}"

    def _dial(self, m: re.Match[str]) -> str:
        """A number to call, read digit by digit in its groups: "gọi 115", "hotline 0912 345 678"."""
        numbers = re.split(r"\s*(,|hoặc|và)\s*", m.group(3))
        spoken = []
        for index, number in enumerate(numbers):
            if index % 2:  # the word between two numbers
                spoken.append("," if number == "," else f" {number}")
                continue
            groups = [group for group in re.split(r"[ .]", number) if group]
            spoken.append((" " if index else "") + ", ".join(read_digits(group) for group in groups))
        return f"{m.group(1)}{m.group(2)}" + "".join(spoken)

    def _dial_short(self, m: re.Match[str]) -> str:
        return ", ".join(read_digits(group) for group in m.groups() if group)

    def _money(self, m: re.Match[str]) -> str:
        scale = f" {m.group(2)}" if m.group(2) else ""
        return f"{_number(m.group(1))}{scale} đồng"

    def _unit(self, m: re.Match[str]) -> str:
        return f"{_number(m.group(1))} {UNITS[m.group(2)]}"

    def _fraction(self, m: re.Match[str]) -> str:
        top, bottom = int(m.group(1)), int(m.group(2))
        return f"{read_number(top)} phần {read_number(bottom)}"

    def _time(self, m: re.Match[str]) -> str:
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour > 24 or minute > 59:
            return m.group(0)
        return f"{read_number(hour)} giờ" + (f" {read_number(minute)} phút" if minute else "")

    def _hour(self, m: re.Match[str]) -> str:
        hour = int(m.group(1))
        return f"{read_number(hour)} giờ" if hour <= 24 else m.group(0)

    def _phone(self, m: re.Match[str]) -> str:
        return ", ".join(read_digits(group) for group in re.split(r"[ .]", m.group(0)))

    def _range(self, m: re.Match[str]) -> str:
        percent = " phần trăm" if m.group(3) else ""
        return f"{_number(m.group(1))}{percent} đến {_number(m.group(2))}{percent}"

    def _ordinal(self, m: re.Match[str]) -> str:
        n = int(m.group(2))
        return f"{m.group(1)} " + {1: "nhất", 4: "tư"}.get(n, read_number(n))

    def _roman_after(self, m: re.Match[str]) -> str:
        value = roman_value(m.group(2))
        return f"{m.group(1)} {read_number(value)}" if value else m.group(0)

    def _roman_heading(self, m: re.Match[str]) -> str:
        value = roman_value(m.group(2))
        return f"{m.group(1)}Phần {read_number(value)}." if value else m.group(0)

    def _heading_case(self, line: str) -> str:
        """An all-capitals heading line in lower case, so engines do not spell it letter by letter;
        lexicon words and Roman numerals keep their capitals so they are still expanded."""
        if line != line.upper() or not re.search(r"[^\W\d_]{2}", line):
            return line
        return re.sub(r"[^\W\d_]+", lambda w: w.group(0) if w.group(0) in self._kept or roman_value(w.group(0))
                      else w.group(0).lower(), line)

    @staticmethod
    def _symbols(text: str) -> str:
        text = text.replace("&", " và ")
        text = re.sub(r"\s+[-–—]\s+", ", ", text)
        text = re.sub(r"(?m)^\s*[-–—•+*]\s*", "", text)
        text = re.sub(r"(?<=[^\W_])/(?=[^\W_])", " ", text)
        # Keep letters, digits, spaces and the punctuation that makes a pause; drop emoji and symbols.
        text = "".join(ch if ch.isalnum() or ch.isspace() or ch in ".,;:!?()'\"" else " " for ch in text)
        text = re.sub(r"\s*\n\s*", ". ", text.strip())
        text = re.sub(r"([.,;:!?])(?:\s*[.,;:!?])+", r"\1", text)
        text = re.sub(r"[ \t]+", " ", text)
        return re.sub(r" ([.,;:!?])", r"\1", text).strip(" ,;:")


def _spell(code: str) -> str:
    """An unknown code read letter by letter, as announcers do ("UBMTTQ" -> "U B M T T Q")."""
    return " ".join(code)


def self_reference(key: str, value: str) -> str | None:
    """Why a lexicon entry cannot be used (empty, or it contains itself), or None when it is fine."""
    if not value.strip():
        return "cách đọc đang trống; hãy viết cách đọc đầy đủ hoặc xóa dòng này"
    if re.search(rf"(?<![^\W_]){re.escape(key)}(?![^\W_])", value):
        return (f"cách đọc '{value}' lại chứa chính '{key}', nên sẽ không bao giờ đọc hết; "
                "hãy viết cách đọc bằng chữ thường, không chứa từ viết tắt")
    return None
