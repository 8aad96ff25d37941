"""Time: stored in UTC, shown and typed in Asia/Ho_Chi_Minh, and replaceable for tests and ``--now``."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.errors import InputError

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
INPUT_FORMAT = "%Y-%m-%d %H:%M"
# Years a person may type: plans run 2000-2100; anything else is a typo (0001, 9999) that would
# overflow date arithmetic further on.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def check_year(year: int, field: str) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InputError(field, f"năm {year} nằm ngoài khoảng {FIRST_YEAR}–{LAST_YEAR}; hãy kiểm tra lại năm")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Clock:
    """A source of "now". ``Clock.starting_at(t)`` acts as if the process had started at ``t``.

    The offset keeps running, so ``cchc run --now ...`` moves forward in real time from that moment.
    """

    def __init__(self, offset: timedelta = timedelta(0)):
        self.offset = offset

    @classmethod
    def starting_at(cls, moment: datetime) -> Clock:
        return cls(moment - utc_now())

    def now(self) -> datetime:
        return utc_now() + self.offset

    def monotonic(self) -> float:
        return time.monotonic()


class FrozenClock(Clock):
    """A clock that only moves when told to (tests, simulation)."""

    def __init__(self, moment: datetime):
        super().__init__()
        self.moment = moment.astimezone(UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


_VN_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?=$|[ T])")


def from_vn(text: str) -> str:
    """``dd/mm/yyyy[ HH:MM]`` (as Vietnamese write dates) rewritten ``YYYY-MM-DD[ HH:MM]``; other text as it is."""
    raw = (text or "").strip()
    match = _VN_DATE.match(raw)
    if not match:
        return raw
    day, month, year = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}{raw[match.end():]}"


def vn_input(text: object) -> str:
    """A ``YYYY-MM-DD[ HH:MM]`` value (or a datetime) as staff read and type it, ``dd/mm/yyyy[ HH:MM]``;
    other text as it is."""
    if isinstance(text, datetime):
        return show_vn(text)
    raw = str(text or "").strip()
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}:\d{2}))?", raw)
    if not match:
        return raw
    year, month, day, clock = match.groups()
    return f"{day}/{month}/{year}" + (f" {clock}" if clock else "") + raw[match.end():]


def parse_local(text: str, field: str) -> datetime:
    """Parse ``dd/mm/yyyy HH:MM`` or ``YYYY-MM-DD HH:MM`` typed in Vietnam time into an aware UTC datetime."""
    raw = from_vn(text)
    try:
        naive = datetime.strptime(raw, INPUT_FORMAT)
    except ValueError as exc:
        shape = raw[:10]
        try:
            datetime.strptime(shape, "%Y-%m-%d")
        except ValueError:
            if _looks_like_date(shape):
                raise InputError(
                    field, f"ngày '{shape}' không tồn tại trong lịch; hãy kiểm tra ngày và tháng"
                ) from exc
        raise InputError(
            field, f"'{raw}' không đúng dạng; hãy viết ngày giờ, ví dụ 01/09/2025 06:00 (hoặc 2025-09-01 06:00)"
        ) from exc
    check_year(naive.year, field)
    return naive.replace(tzinfo=LOCAL_TZ).astimezone(UTC)


def parse_local_date(text: str, field: str) -> date:
    """Parse ``dd/mm/yyyy`` or ``YYYY-MM-DD`` (a calendar day in Vietnam)."""
    raw = from_vn(text)
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError as exc:
        if _looks_like_date(raw):
            raise InputError(field, f"ngày '{raw}' không tồn tại trong lịch") from exc
        raise InputError(field, f"'{raw}' không đúng dạng; hãy viết ngày, ví dụ 01/09/2025 (hoặc 2025-09-01)") from exc
    check_year(day.year, field)
    return day


def _looks_like_date(text: str) -> bool:
    parts = text.split("-")
    return len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[0]) == 4


def to_local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(LOCAL_TZ) if moment else None


def show(moment: datetime | None) -> str:
    """A UTC datetime as Vietnam local time, ``YYYY-MM-DD HH:MM``; empty for None."""
    return to_local(moment).strftime(INPUT_FORMAT) if moment else ""


def show_vn(moment: datetime | None, *, time: bool = True) -> str:
    """A UTC datetime as Vietnamese documents write it, in Vietnam time: ``dd/mm/yyyy HH:MM``."""
    if not moment:
        return ""
    return to_local(moment).strftime("%d/%m/%Y %H:%M" if time else "%d/%m/%Y")


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), LOCAL_TZ).astimezone(UTC)


def slot_times(slots: list[str], start: datetime, end: datetime) -> list[datetime]:
    """The daily ``HH:MM`` slots (Vietnam time) in ``(start, end]``, as UTC datetimes, in order."""
    found = []
    day = start.astimezone(LOCAL_TZ).date()
    while True:
        for slot in sorted(slots):
            hour, minute = map(int, slot.split(":"))
            moment = datetime.combine(day, datetime.min.time().replace(hour=hour, minute=minute), LOCAL_TZ)
            if moment > end:
                return found
            if moment > start:
                found.append(moment.astimezone(UTC))
        day += timedelta(days=1)


def next_slot(slots: list[str], moment: datetime, *, inclusive: bool = False) -> datetime:
    """The first slot after ``moment`` (or at it, when ``inclusive``), in UTC."""
    start = moment - timedelta(microseconds=1) if inclusive else moment
    return slot_times(slots, start, moment + timedelta(days=2))[0]
