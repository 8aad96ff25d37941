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
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channels.loudspeaker.config import SpeechFile

DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
_GROUPS = ["", "nghìn", "triệu", "tỷ"]
_WORD = r"[^\W_]"  # a letter or digit in any script
_ROMAN = re.compile(r"^M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


class SpeechError(ValueError):
    """The text has nothing a voice can read."""


@dataclass(frozen=True)
class Reading:
    """How numbers sound in one dialect: the zero ten in 105, a 4 after "mươi", the thousand."""

    zero_ten: str  # 105: "một trăm linh năm" / "một trăm lẻ năm"
    four: str  # 24: "hai mươi tư" / "hai mươi bốn"
    thousand: str  # "nghìn" / "ngàn"


DIALECTS = {
    "north": Reading(zero_ten="linh", four="tư", thousand="nghìn"),
    "south": Reading(zero_ten="lẻ", four="bốn", thousand="ngàn"),
}
NORTH = DIALECTS["north"]


def read_number(n: int, reading: Reading = NORTH) -> str:
    """A non-negative integer in Vietnamese words: 2025 -> "hai nghìn không trăm hai mươi lăm"."""
    if n < 0:
        return "âm " + read_number(-n, reading)
    if n == 0:
        return "không"
    if n >= 10**12:
        high, low = divmod(n, 10**9)
        return " ".join(filter(None, [read_number(high, reading), "tỷ",
                                      _groups(low, reading, leading=False) if low else ""]))
    return _groups(n, reading, leading=True)


def _groups(n: int, reading: Reading, *, leading: bool) -> str:
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
        words.append(_triple(group, reading, full=not is_first))
        if index:
            words.append(reading.thousand if index == 1 else _GROUPS[index])
    return " ".join(words)


def _triple(n: int, reading: Reading, *, full: bool) -> str:
    """Three digits; ``full`` reads a leading zero hundred ("không trăm") as inside a bigger number."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if words:
                words.append(reading.zero_ten)
            words.append(DIGITS[units])
    elif tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else DIGITS[units])
    else:
        words += [DIGITS[tens], "mươi"]
        if units:
            words.append({1: "mốt", 4: reading.four, 5: "lăm"}.get(units, DIGITS[units]))
    return " ".join(words)


def read_decimal(whole: str, fraction: str, reading: Reading = NORTH) -> str:
    """ "3", "25" -> "ba phẩy hai mươi lăm"; leading zeros of the fraction are read one by one."""
    zeros = len(fraction) - len(fraction.lstrip("0"))
    tail = fraction.lstrip("0")
    parts = [read_number(int(whole), reading), "phẩy", *(["không"] * zeros)]
    if tail:
        parts.append(read_number(int(tail), reading))
    return " ".join(parts)


def read_digits(text: str) -> str:
    return " ".join(DIGITS[int(ch)] for ch in text if ch.isdigit())


def read_day(day: int, reading: Reading = NORTH) -> str:
    return f"mùng {read_number(day, reading)}" if day <= 10 else read_number(day, reading)


def read_month(month: int, reading: Reading = NORTH) -> str:
    return "tư" if month == 4 else read_number(month, reading)


def roman_value(text: str) -> int | None:
    if not text or not _ROMAN.match(text):
        return None
    total = 0
    for index, ch in enumerate(text):
        value = _ROMAN_VALUES[ch]
        following = _ROMAN_VALUES[text[index + 1]] if index + 1 < len(text) else 0
        total += -value if value < following else value
    return total


def _number(text: str, reading: Reading = NORTH) -> str:
    """A number as written in Vietnamese (dots group thousands, a comma marks decimals)."""
    whole, _, fraction = text.replace(".", "").partition(",")
    return read_decimal(whole, fraction, reading) if fraction else read_number(int(whole), reading)


_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
# Words after which "20/11" is a day and a month, not a fraction or a document number.
_BEFORE_DAY = "ngày|từ|đến|trước|sau|hạn|tới|vào|Quốc khánh|dịp|lễ|Tết|sáng|trưa|chiều|tối|đêm|hôm"
# Units read in full after a number (longest first, so "m2" wins over "m").
UNITS = {"km²": "ki lô mét vuông", "km2": "ki lô mét vuông", "m²": "mét vuông", "m2": "mét vuông",
         "m³": "mét khối", "m3": "mét khối", "km": "ki lô mét", "cm": "xen ti mét", "mm": "mi li mét",
         "ha": "héc ta", "kg": "ki lô gam", "°C": "độ C", "độ C": "độ C", "ml": "mi li lít", "m": "mét",
         "g": "gam", "l": "lít", "tấn": "tấn", "mét": "mét", "lít": "lít", "kWh": "ki lô oát giờ",
         "kW": "ki lô oát", "MW": "mê ga oát"}
_UNITS = "|".join(re.escape(unit) for unit in sorted(UNITS, key=len, reverse=True))
# Words that may follow "/" after an amount ("đồng/tháng", "10 kg/khẩu"): read "một tháng", "một khẩu".
PER = {"h": "giờ", **{unit: UNITS[unit] for unit in UNITS},
       **{word: word for word in ("tháng", "năm", "tuần", "ngày", "quý", "giờ", "phút", "người", "hộ", "khẩu",
                                  "trẻ", "lượt", "lần", "suất", "con", "giấy", "học sinh", "xã", "bản", "lớp",
                                  "cháu", "em", "buổi", "bộ", "thẻ", "sào", "mẫu", "cây")}}
_PER = "|".join(re.escape(word) for word in sorted(PER, key=len, reverse=True))
WEEKDAYS = {2: "hai", 3: "ba", 4: "tư", 5: "năm", 6: "sáu", 7: "bảy"}
# How letters are named when an address part is spelled ("vn" -> "vê en", "cchc" -> "xê xê hát xê").
LETTERS = {"a": "a", "b": "bê", "c": "xê", "d": "dê", "đ": "đê", "e": "e", "f": "ép", "g": "giê", "h": "hát",
           "i": "i", "j": "gi", "k": "ca", "l": "e lờ", "m": "em", "n": "en", "o": "o", "p": "pê", "q": "quy",
           "r": "e rờ", "s": "ét", "t": "tê", "u": "u", "v": "vê", "w": "vê kép", "x": "ích", "y": "i dài",
           "z": "dét"}
_DOMAIN = r"(?:[A-Za-z0-9-]+\.)+(?:vn|com|net|org|gov|edu|info)(?![\w.]*[A-Za-z0-9])"
_ROMAN_AFTER = (
    "Phần|phần|Chương|chương|Mục|mục|Khóa|khóa|Khoá|khoá|Đại hội|đại hội|Quý|quý|Thế kỷ|thế kỷ|"
    "Điều|điều|Phụ lục|phụ lục|Cấp|cấp"
)


class SpeechText:
    """Rewrites Vietnamese text for a voice. ``abbreviations`` apply anywhere as whole words;
    ``document_codes`` only inside document numbers (where "TT" means thông tư)."""

    def __init__(self, abbreviations: Mapping[str, str], document_codes: Mapping[str, str] | None = None,
                 addresses: Mapping[str, str] | None = None, *, dialect: str = "north"):
        self.reading = DIALECTS[dialect]
        self.addresses = {key.lower(): value for key, value in (addresses or {}).items()}
        self.abbreviations = dict(abbreviations)
        self.codes = {**self.abbreviations, **(document_codes or {})}
        keys = sorted(self.abbreviations, key=len, reverse=True)
        self._spelled = {key.lower() for key in self.abbreviations if key.isupper()}
        self._kept = {word for key in self.codes for word in re.findall(r"[^\W\d_]+", key)}
        self._abbrev = (
            re.compile(r"(?<![^\W_])(" + "|".join(re.escape(k) for k in keys) + r")(?![^\W_])") if keys else None
        )
        self._rules: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
            (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), self._url),
            (re.compile(rf"\b(?:(?:https?://|www\.)[^\s,;()]+|{_DOMAIN}(?:/[^\s,;()]*)?)(?<![.!?])", re.I), self._url),
            (re.compile(r"(?<![\w/])(\d+)(?:/(\d{4}))?[/-]((?:[A-ZĐ][A-Za-zĐđ]*\d*)(?:[-/][A-ZĐ][A-Za-zĐđ]*\d*)*)"
                        r"(?![\w])"), self._document),
            # "/" after an amount means "per": "đồng/tháng", "04 số/tháng", "10 kg gạo/khẩu/tháng", "%/năm"
            # (and not elsewhere: "phường/xã", "ngày/tháng/năm sinh" are read as two words).
            (re.compile(rf"(\d[\d.,]*\s*(?:%|°C|[^\W\d_]+)?(?:\s+[^\W\d_]+){{0,2}})"
                        rf"((?:\s*/\s*(?:{_PER})(?![^\W\d_]))+)"), self._per),
            (re.compile(r"\b([Tt]hứ\s+[2-7])(\s*(?:,|và|-|–|đến)\s*)CN\b"),
             lambda m: f"{m.group(1)}{m.group(2)}chủ nhật"),
            (re.compile(r"\b([Tt]hứ)\s+([2-7])\s*[-–]\s*(?:thứ\s+)?([2-7])\b"),
             lambda m: f"{m.group(1)} {WEEKDAYS[int(m.group(2))]} đến thứ {WEEKDAYS[int(m.group(3))]}"),
            (re.compile(r"\b([Tt]hứ)\s+([2-7])((?:\s*,\s*[2-7](?![\d/]))+)"), self._weekdays),
            (re.compile(rf"(?<![\w/])(?:({_BEFORE_DAY})\s+)?(\d{{1,2}})\s*(-|–|đến|và)\s*(\d{{1,2}})/(\d{{1,2}})"
                        r"(?:/(\d{4}))?(?![\w/])", re.I), self._day_range),
            (re.compile(r"(?<![\w/])(?:(ngày)\s+)?(\d{1,2})([/.-])(\d{1,2})\3(\d{4})(?![\w/])", re.I), self._date),
            (re.compile(r"(?<![\w/])(?:(tháng)\s+)?(\d{1,2})/(\d{4})(?![\w/])", re.I), self._month_year),
            (re.compile(r"(?<![\w/])(\d{1,2})/(\d{1,2})\s*(?:-|–|đến)\s*(\d{1,2})/(\d{1,2})(?![\w/])"),
             self._dates_range),
            (re.compile(rf"(?<![\w/])({_BEFORE_DAY})\s+(\d{{1,2}})/(\d{{1,2}})(?![\w/])", re.I), self._day_month),
            (re.compile(r"(?i)\b(gọi(?:\s+ngay)?(?:\s+số)?|cấp cứu|đường dây nóng|hotline|tổng đài|số điện thoại|"
                        r"điện thoại|số máy|mã bưu chính)"
                        r"(\s*:?\s+)(\d(?:[\d .]{0,14}\d)?(?:\s*(?:,|hoặc|và)\s*\d(?:[\d .]{0,14}\d)?)*)(?![\w])"),
             self._dial),
            (re.compile(r"(?<![\w.,])(1800|1900)[ .]?(\d{3,4})(?:[ .]?(\d{2,4}))?(?![\w])"), self._dial_short),
            (re.compile(r"\b(Km|km)\s*(\d+)\s*\+\s*(\d+)\b"),
             lambda m: f"ki lô mét {self._read(int(m.group(2)))} cộng {self._read(int(m.group(3)))}"),
            (re.compile(r"\b(Quốc lộ|quốc lộ|Tỉnh lộ|tỉnh lộ|Đường tỉnh|đường tỉnh|Đường huyện|đường huyện)\s+"
                        r"(\d+)([A-Z])?\b"), self._road),
            (re.compile(r"\b(Đề án|đề án)\s+(0\d+)\b"), lambda m: f"{m.group(1)} {read_digits(m.group(2))}"),
            (re.compile(rf"(?<![\w.,])({_NUM})\s*[-–]\s*(?=({_NUM})\s*(?:(?:tỷ|triệu|nghìn|ngàn)?\s*(?:VNĐ|VND|đồng|đ)|"
                        rf"{_UNITS})(?![^\W\d_]))"), lambda m: f"{self._num(m.group(1))} đến "),
            (re.compile(rf"(?<![\w.,])({_NUM})\s*(tỷ|triệu|nghìn|ngàn)?\s*(VNĐ|VND|đồng|đ)(?![^\W\d_])"), self._money),
            (re.compile(rf"(?<![\w.,])({_NUM})\s*({_UNITS})(?![^\W\d_])"), self._unit),
            (re.compile(r"(?<![\w/.,])([1-9])/([2-9])(?![\w/])"), self._fraction),
            (re.compile(rf"(?<![\w/.,])({_NUM})/({_NUM})(?![\w/])"), self._ratio),
            (re.compile(r"(?<![\w:])(\d{1,2})\s*(?:h|giờ|:)\s*(\d{2})(?:\s*(?:phút|p)\b)?(?![\w:])", re.I), self._time),
            (re.compile(r"(?<![\w:])(\d{1,2})h(?![\w])", re.I), self._hour),
            (re.compile(r"(?<![\w.,])0\d{1,3}(?:[ .]?\d{2,4}){2,3}(?![\w])"), self._phone),
            (re.compile(rf"(?<![\w.,])({_NUM})\s*[-–]\s*({_NUM})(\s*%)?(?![\w])"), self._range),
            (re.compile(rf"(?<![\w.,])({_NUM})\s*%"), lambda m: f"{self._num(m.group(1))} phần trăm"),
            (re.compile(r"\b(thứ|Thứ)\s+(\d+)\b"), self._ordinal),
            (re.compile(r"\b([Ll]ần thứ)\s+([IVXLC]+)\b"), self._ordinal_roman),
            (re.compile(rf"\b({_ROMAN_AFTER})\s+([IVXLCDM]+)\b"), self._roman_after),
            (re.compile(r"(?m)^(\s*)([IVXLCDM]+)([.)])(?=\s)"), self._roman_heading),
            (re.compile(rf"(?<![\w])({_NUM})(?![\w])"), lambda m: self._num(m.group(1))),
        ]

    @classmethod
    def from_config(cls, speech: SpeechFile) -> SpeechText:
        """The reader ``config/speech.toml`` describes: its lexicon, addresses and dialect."""
        return cls(speech.abbreviations, speech.document_codes, speech.addresses, dialect=speech.dialect)

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
                    letters = part.rstrip("0123456789")  # "QH15": a term after a known code
                    if (len(part) >= 2 and part not in self.codes and letters not in self.codes
                            and not roman_value(part) and not part.isdigit() and part not in found):
                        found.append(part)
        return found

    # -- numbers in this dialect ---------------------------------------------------------------

    def _read(self, n: int) -> str:
        return read_number(n, self.reading)

    def _num(self, text: str) -> str:
        return _number(text, self.reading)

    def _day(self, day: int) -> str:
        return read_day(day, self.reading)

    def _month(self, month: int) -> str:
        return read_month(month, self.reading)

    def _day_month_words(self, day: int, month: int) -> str:
        return f"{self._day(day)} tháng {self._month(month)}"

    def _nth(self, n: int) -> str:
        """An ordinal's number: "thứ nhất", "thứ tư", "thứ mười"."""
        return {1: "nhất", 4: "tư"}.get(n) or self._read(n)

    # -- rewrites ------------------------------------------------------------------------------

    def _url(self, m: re.Match[str]) -> str:
        """An address as a listener would type it: "muongla.sonla.gov.vn" -> "mường la chấm sơn la chấm gờ o
        vê chấm vê en"; a page name after the host is kept ("facebook.com/xa" -> "... gạch chéo xa"),
        a longer path is left out (nobody types it from the radio)."""
        address = re.sub(r"^(?:https?://)?(?:www\.)?", "", m.group(0), flags=re.I)
        host, _, path = address.partition("/")
        words = " a còng ".join(self._dotted(part) for part in host.split("@"))
        segments = [segment for segment in path.split("/") if segment]
        if len(segments) == 1 and re.fullmatch(r"[A-Za-z0-9._-]+", segments[0]):
            words += " gạch chéo " + self._dotted(segments[0])
        return words

    def _dotted(self, text: str) -> str:
        return " chấm ".join(" gạch ngang ".join(self._label(piece) for piece in part.split("-") if piece)
                             for part in text.split(".") if part)

    def _label(self, label: str) -> str:
        known = self.addresses.get(label.lower())
        if known:
            return known
        if label.isdigit():
            return read_digits(label)
        if not re.search(r"[aeiouyAEIOUY]", label) or label.lower() in self._spelled:
            return " ".join(LETTERS.get(ch, ch) for ch in label.lower())
        return label

    def _document(self, m: re.Match[str]) -> str:
        number, year, code = m.groups()
        words = [self._read(int(number))]
        if year:
            words += ["năm", self._read(int(year))]
        for part in re.split(r"[-/]", code):
            letters, digits = re.fullmatch(r"(\D+)(\d*)", part).groups()
            if letters == "QH" and digits:  # a law or resolution of the National Assembly and its term
                words += ["Quốc hội khóa", self._read(int(digits))]
                continue
            words.append(self.codes.get(letters) or self.codes.get(letters.upper()) or _spell(letters))
            if digits:
                words.append(self._read(int(digits)))
        return " ".join(words)

    def _date(self, m: re.Match[str]) -> str:
        day, month, year = int(m.group(2)), int(m.group(4)), int(m.group(5))
        if not _is_day_month(day, month):
            return m.group(0)
        lead = m.group(1) or "ngày"
        return f"{lead} {self._day_month_words(day, month)} năm {self._read(year)}"

    def _month_year(self, m: re.Match[str]) -> str:
        month, year = int(m.group(2)), int(m.group(3))
        if not 1 <= month <= 12:
            return m.group(0)
        return f"{m.group(1) or 'tháng'} {self._month(month)} năm {self._read(year)}"

    def _day_month(self, m: re.Match[str]) -> str:
        day, month = int(m.group(2)), int(m.group(3))
        if not _is_day_month(day, month):
            return m.group(0)
        return f"{m.group(1)} {self._day_month_words(day, month)}"

    def _dates_range(self, m: re.Match[str]) -> str:
        first_day, first_month, last_day, last_month = (int(g) for g in m.groups())
        if not (_is_day_month(first_day, first_month) and _is_day_month(last_day, last_month)):
            return m.group(0)
        return f"{self._day_month_words(first_day, first_month)} đến {self._day_month_words(last_day, last_month)}"

    def _day_range(self, m: re.Match[str]) -> str:
        """ "20-25/11", "ngày 5 và 6/8", "01-02/01/2026": days of one month, the month said once."""
        lead, first, joiner, last, month, year = m.groups()
        first, last, month = int(first), int(last), int(month)
        if not (_is_day_month(first, month) and _is_day_month(last, month)):
            return m.group(0)
        spoken = f"{lead} " if lead else ""
        spoken += f"{self._day(first)} {'và' if joiner == 'và' else 'đến'} {self._day_month_words(last, month)}"
        return spoken + (f" năm {self._read(int(year))}" if year else "")

    @staticmethod
    def _per(m: re.Match[str]) -> str:
        return m.group(1) + "".join(f" một {PER[word]}" for word in re.findall(rf"/\s*({_PER})", m.group(2)))

    def _weekdays(self, m: re.Match[str]) -> str:
        days = [m.group(2), *re.findall(r"\d", m.group(3))]
        return f"{m.group(1)} " + ", ".join(WEEKDAYS[int(day)] for day in days)

    def _road(self, m: re.Match[str]) -> str:
        letter = f" {LETTERS[m.group(3).lower()]}" if m.group(3) else ""
        return f"{m.group(1)} {self._read(int(m.group(2)))}{letter}"

    def _ratio(self, m: re.Match[str]) -> str:
        """ "22/12" is a day and a month; "45/63" or "2.856/3.120" is a count out of a total."""
        top, bottom = m.group(1), m.group(2)
        if (top, bottom) == ("24", "7"):  # around the clock
            return f"{self._read(24)} trên bảy"
        if len(top) <= 2 and len(bottom) <= 2 and _is_day_month(int(top), int(bottom)):
            return self._day_month_words(int(top), int(bottom))
        return f"{self._num(top)} trên {self._num(bottom)}"

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
        return f"{self._num(m.group(1))}{scale} đồng"

    def _unit(self, m: re.Match[str]) -> str:
        return f"{self._num(m.group(1))} {UNITS[m.group(2)]}"

    def _fraction(self, m: re.Match[str]) -> str:
        top, bottom = int(m.group(1)), int(m.group(2))
        if (top, bottom) == (1, 2):
            return "một nửa"  # said as a word, not "một phần hai"
        return f"{self._read(top)} phần {'tư' if bottom == 4 else self._read(bottom)}"

    def _time(self, m: re.Match[str]) -> str:
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour > 24 or minute > 59:
            return m.group(0)
        return f"{self._read(hour)} giờ" + (f" {self._read(minute)} phút" if minute else "")

    def _hour(self, m: re.Match[str]) -> str:
        hour = int(m.group(1))
        return f"{self._read(hour)} giờ" if hour <= 24 else m.group(0)

    def _phone(self, m: re.Match[str]) -> str:
        return ", ".join(read_digits(group) for group in re.split(r"[ .]", m.group(0)))

    def _range(self, m: re.Match[str]) -> str:
        percent = " phần trăm" if m.group(3) else ""
        return f"{self._num(m.group(1))}{percent} đến {self._num(m.group(2))}{percent}"

    def _ordinal(self, m: re.Match[str]) -> str:
        return f"{m.group(1)} {self._nth(int(m.group(2)))}"

    def _ordinal_roman(self, m: re.Match[str]) -> str:
        n = roman_value(m.group(2))
        return f"{m.group(1)} {self._nth(n)}" if n else m.group(0)

    def _roman_after(self, m: re.Match[str]) -> str:
        value = roman_value(m.group(2))
        return f"{m.group(1)} {self._read(value)}" if value else m.group(0)

    def _roman_heading(self, m: re.Match[str]) -> str:
        value = roman_value(m.group(2))
        return f"{m.group(1)}Phần {self._read(value)}." if value else m.group(0)

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


def _is_day_month(day: int, month: int) -> bool:
    return 1 <= day <= 31 and 1 <= month <= 12


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
