"""The configuration in ``config/`` (TOML): units, plans, channels, sample announcements.

Everything is validated at load time, and every problem is reported as ``file:line: key: what is
expected``, all of them at once, so a person can fix a file in one pass. Secrets never live here:
a channel names the environment variable that holds its secret.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from channels.base import CATEGORIES
from channels.loudspeaker.config import SpeechFile, check_slots
from scheduler.codes import activity_kind_problem
from scheduler.errors import ConfigError
from scheduler.text import language_problem

if TYPE_CHECKING:
    from channels.base import Channel

Period = Literal["week", "month", "quarter", "half", "year"]



class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _languages(values: list[str]) -> list[str]:
    for value in values:
        problem = language_problem(value)
        if problem:
            raise ValueError(problem)
    return values


class UnitConfig(_Strict):
    name: str
    level: Literal["province", "commune"]
    parent: str | None = None
    ref_prefix: str = Field(pattern=r"^[A-Z]{1,6}$")
    station_name: str | None = None
    slots: list[str] = []

    @field_validator("slots")
    @classmethod
    def _slots(cls, values: list[str]) -> list[str]:
        return check_slots(values)


class UnitsFile(_Strict):
    default_unit: str
    units: dict[str, UnitConfig]


class TopicConfig(_Strict):
    clause: str
    text: str


class TargetConfig(_Strict):
    clause: str
    description: str
    channel: str = ""  # a category of channels, a group or a channel: what broadcasts and posts count
    activity: str | None = None  # or a kind of activity of the register (scheduler.plans.activities): these count
    minimum: int = Field(ge=1)
    period: Period
    languages: list[str] = ["vi"]
    topics: list[str] = []  # only items about one of these topics count (none: every item)
    exclude_topics: list[str] = []  # items about any of these never count (the bulletin is not an article)
    note: str = ""

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, values: list[str]) -> list[str]:
        return _languages(values)

    @model_validator(mode="after")
    def _what_counts(self) -> TargetConfig:
        if bool(self.channel) == bool(self.activity):
            raise ValueError("chỉ tiêu cần đúng một trong hai: channel (kênh phát, đăng) hoặc activity (loại hoạt "
                             "động, ví dụ activity = \"dialogue\")")
        if self.activity and (problem := activity_kind_problem(self.activity)):
            raise ValueError(problem)
        if self.activity and self.languages != ["vi"]:
            raise ValueError("chỉ tiêu về hoạt động không theo ngôn ngữ; hãy bỏ dòng languages")
        return self

    def counts(self, topics: list[str] | tuple[str, ...]) -> bool:
        """Whether an item about ``topics`` counts for this target."""
        about = set(topics)
        return (not self.topics or bool(about & set(self.topics))) and not about & set(self.exclude_topics)


class ComplianceConfig(_Strict):
    warn_at: float = Field(default=0.5, gt=0, le=1)  # fraction of a period after which "at risk" is a warning


class FillConfig(_Strict):
    """Rules for the gap filler, which draws on approved evergreen items (``cchc queue --evergreen``)."""

    empty_slots: bool = False  # fill loudspeaker slots that would otherwise stay silent
    quotas: bool = True  # fill loudspeaker slots while a loudspeaker target is at risk (a warning)
    max_per_week: int = Field(default=2, ge=1, le=50)  # the same item on the same channel, per calendar week
    max_per_slot: int = Field(default=1, ge=1, le=10)


class PlanFile(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    unit: str
    year: int = Field(ge=2000, le=2100)
    title: str
    decision: str = ""
    source: str = ""
    issued: date | None = None  # the day it was signed
    effective: date | None = None  # the first day it applies (default: 1 January of its year)
    topics: dict[str, TopicConfig]
    targets: dict[str, TargetConfig] = {}
    compliance: ComplianceConfig = ComplianceConfig()
    fill: FillConfig = FillConfig()

    @property
    def starts(self) -> date:
        """The first day the plan applies: periods that end before it are "not yet applicable"."""
        return self.effective or date(self.year, 1, 1)

    @model_validator(mode="after")
    def _dates(self) -> PlanFile:
        if self.effective and self.issued and self.effective < self.issued:
            raise ValueError("effective (ngày áp dụng) không thể trước issued (ngày ban hành)")
        if self.effective and self.effective.year != self.year:
            raise ValueError(f"effective (ngày áp dụng) phải trong năm {self.year} của kế hoạch")
        return self


class ChannelConfig(_Strict):
    unit: str
    kind: str
    title: str
    languages: list[str] = ["vi"]
    mode: Literal["live", "preview"] = "live"
    grace_minutes: int = Field(default=1440, ge=1)
    # Hand posts to the platform this long before their due time, for it to publish them then (only
    # kinds that schedule posts themselves): they go out on time even if this server is down.
    send_ahead_minutes: int = Field(default=0, ge=0, le=29 * 24 * 60)
    # Whether a daily or weekly repeat puts the item out again on this channel. Unset: loudspeakers
    # repeat (a broadcast heard again), websites and social pages post once (the same article five
    # times is noise); set true to repost on a channel that wants it.
    repeats: bool | None = None
    # Sends on this channel in flight at once (each pass starts at one and doubles while the platform
    # answers well): more is faster on a slow platform, one is gentlest.
    in_flight: int = Field(default=4, ge=1, le=16)
    enabled: bool = True
    settings: dict[str, Any] = {}

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, values: list[str]) -> list[str]:
        return _languages(values)

    @property
    def channel_class(self) -> type[Channel]:
        """The class of this kind, which knows its category, label and whether it waits for slots
        (its module is imported on first use). Only for a loaded ``Config``: kinds are checked there."""
        from channels import REGISTRY  # late import: loading the config names kinds, not their libraries

        return REGISTRY[self.kind]

    @property
    def category(self) -> str:
        return self.channel_class.category

    @property
    def slotted(self) -> bool:
        return self.channel_class.slotted


class ChannelsFile(_Strict):
    groups: dict[str, list[str]] = {}
    channels: dict[str, ChannelConfig]


class SampleSchedule(_Strict):
    next_slot: bool = False
    in_days: int = Field(default=1, ge=0, le=60)
    time: str = "06:00"
    repeat: Literal["none", "daily", "weekly"] = "none"
    days: int = Field(default=0, ge=0, le=90)


class SampleTranslation(_Strict):
    title: str
    body: str


class SampleAnnouncement(_Strict):
    unit: str
    author: str
    title: str
    body: str
    topics: list[str] = []
    channels: list[str]
    languages: list[str] = ["vi"]
    priority: Literal["normal", "priority", "emergency"] = "normal"
    schedule: SampleSchedule = SampleSchedule()
    translations: dict[str, SampleTranslation] = {}


class SamplesFile(_Strict):
    announcements: dict[str, SampleAnnouncement]


_EMAIL = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"


class SmtpConfig(_Strict):
    """The office's mail server: STARTTLS on the submission port, a login from the environment."""

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True  # false only for a relay on this machine
    username_env: str | None = None
    password_env: str | None = None
    sender: str
    cafile: str | None = None  # a private CA that signed the server's certificate
    timeout_seconds: float = Field(default=20, gt=0, le=120)


class UnitNotify(_Strict):
    approvers: list[str] = []  # told when an item waits for review
    head: list[str] = []  # the head of office: the daily digest, a channel put on hold, an emergency that failed
    digest_at: str = "07:30"  # Vietnam time

    @field_validator("digest_at")
    @classmethod
    def _digest_at(cls, value: str) -> str:
        return check_slots([value])[0]


class NotifyFile(_Strict):
    """``config/notify.toml``: email notices (``scheduler.notify``); absent or ``enabled = false``: none."""

    enabled: bool = True
    base_url: str = Field(pattern=r"^https?://")  # where the staff web app is reached: links in notices
    smtp: SmtpConfig
    people: dict[str, Annotated[str, Field(pattern=_EMAIL)]] = {}  # account name -> email address
    units: dict[str, UnitNotify] = {}
    keep_trying_hours: int = Field(default=72, ge=1, le=24 * 14)  # a mail server down: retried until then


@dataclass
class _Loaded:
    """A validated file with its text, kept to find line numbers for cross-file checks."""

    model: Any
    text: str
    path: Path


@dataclass
class Config:
    """The whole validated configuration."""

    directory: Path
    default_unit: str
    units: dict[str, UnitConfig]
    plans: dict[str, PlanFile]
    groups: dict[str, list[str]]
    channels: dict[str, ChannelConfig]
    samples: dict[str, SampleAnnouncement] = field(default_factory=dict)
    speech: SpeechFile = field(default_factory=lambda: SpeechFile(engines={"vi": ["espeak-ng"]}))
    notify: NotifyFile | None = None  # None: no email notices

    def expand_channels(self, names: list[str], unit: str) -> list[str]:
        """Channel names, with groups replaced by their members, in first-seen order."""
        result: list[str] = []
        for name in names:
            for member in self.groups.get(name, [name]):
                if member not in result:
                    result.append(member)
        return result

    def channels_of(self, unit: str) -> dict[str, ChannelConfig]:
        return {name: ch for name, ch in self.channels.items() if ch.unit == unit}

    def repeats(self, name: str) -> bool:
        """Whether a repeating announcement goes out again on channel ``name`` (see ``ChannelConfig.repeats``)."""
        channel = self.channels[name]
        return channel.repeats if channel.repeats is not None else channel.slotted

    def in_category(self, category: str, unit: str | None = None) -> list[str]:
        """The channels of ``category`` (of ``unit``, when given), enabled or not, in config order."""
        return [name for name, ch in self.channels.items()  # the unit first: a category loads its class
                if (unit is None or ch.unit == unit) and ch.category == category]


def fingerprint(directory: Path) -> tuple:
    """What changes when any configuration file under ``directory`` is written, added or removed."""
    return tuple(sorted((str(path.relative_to(directory)), stat.st_mtime_ns, stat.st_size)
                        for path in directory.rglob("*.toml") if (stat := path.stat())))


def load_config(directory: Path) -> Config:
    """Load and validate ``directory``; raise ``ConfigError`` listing every problem found."""
    problems: list[str] = []
    units = _load(directory / "units.toml", UnitsFile, problems, directory)
    channels = _load(directory / "channels.toml", ChannelsFile, problems, directory)
    plans = [
        loaded
        for path in sorted((directory / "plans").glob("*.toml"))
        if (loaded := _load(path, PlanFile, problems, directory)) is not None
    ]
    samples_path = directory / "samples" / "announcements.toml"
    samples = _load(samples_path, SamplesFile, problems, directory) if samples_path.exists() else None
    speech = _load(directory / "speech.toml", SpeechFile, problems, directory)
    if speech is not None:
        _check_speech(directory, speech, problems)
    notify_path = directory / "notify.toml"
    notify = _load(notify_path, NotifyFile, problems, directory) if notify_path.exists() else None
    if channels is not None:
        _cross_check(directory, units, channels, plans, samples, problems)
    if notify is not None and units is not None and notify.model.enabled:  # a switched-off sample blocks nothing
        _check_notify(directory, units, notify, problems)
    if problems or units is None or channels is None or speech is None:
        raise ConfigError(problems)
    return Config(
        directory=directory,
        default_unit=units.model.default_unit,
        units=units.model.units,
        plans={loaded.model.id: loaded.model for loaded in plans},
        groups=channels.model.groups,
        channels=channels.model.channels,
        samples=samples.model.announcements if samples else {},
        speech=speech.model,
        notify=notify.model if notify is not None else None,
    )


def _check_notify(root: Path, units: _Loaded, notify: _Loaded, problems: list[str]) -> None:
    """Every unit named in notify.toml exists, and every person has an address in ``[people]``."""
    shown = _shown(notify.path, root)
    for unit, who in notify.model.units.items():
        if unit not in units.model.units:
            line = locate(notify.text, ("units", unit))
            problems.append(f"{shown}:{line}: units.{unit}: không có đơn vị '{unit}' trong units.toml")
        for role in ("approvers", "head"):
            for person in getattr(who, role):
                if person not in notify.model.people:
                    line = locate(notify.text, ("units", unit, role))
                    problems.append(f"{shown}:{line}: units.{unit}.{role}: '{person}' chưa có địa chỉ email trong "
                                    f"[people]; thêm dòng {person} = \"ten@donvi.gov.vn\"")


def _load(path: Path, model: type[BaseModel], problems: list[str], root: Path) -> _Loaded | None:
    shown = _shown(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{shown}: tệp không tồn tại; hãy tạo nó (xem các tệp mẫu trong config/)")
        return None
    except UnicodeDecodeError:
        problems.append(f"{shown}: tệp không phải UTF-8; hãy lưu lại với bảng mã UTF-8")
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{shown}:{match.group(1)}" if match else shown
        problems.append(f"{where}: lỗi cú pháp TOML: {str(exc).split(' (at line')[0]}")
        return None
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = locate(text, loc)
            key = ".".join(str(part) for part in loc) or "(tệp)"
            problems.append(f"{shown}:{line}: {key}: {_explain(error, model, loc)}")
        return None
    return _Loaded(result, text, path)


def _shown(path: Path, root: Path) -> str:
    try:
        return str(Path(root.name) / path.relative_to(root))
    except ValueError:
        return str(path)


def _explain(error: dict[str, Any], model: type[BaseModel], loc: tuple) -> str:
    kind = error["type"]
    if kind == "missing":
        return "thiếu khóa bắt buộc này; hãy thêm nó"
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted(_fields_at(model, loc[:-1])))
        return f"khóa không hợp lệ (gõ nhầm?); các khóa được phép: {allowed}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind in {"int_type", "int_parsing"}:
        return f"cần một số nguyên, nhận được {error['input']!r}"
    if kind in {"string_type"}:
        return f"cần một chuỗi trong ngoặc kép, nhận được {error['input']!r}"
    if kind == "literal_error":
        expected = error['ctx']['expected'].replace(' or ', ', ')
        return f"giá trị {error['input']!r} không hợp lệ; cần một trong: {expected}"
    if kind == "greater_than_equal":
        return f"phải lớn hơn hoặc bằng {error['ctx']['ge']}, nhận được {error['input']!r}"
    if kind == "greater_than":
        return f"phải lớn hơn {error['ctx']['gt']}, nhận được {error['input']!r}"
    if kind == "less_than_equal":
        return f"phải nhỏ hơn hoặc bằng {error['ctx']['le']}, nhận được {error['input']!r}"
    if kind == "string_pattern_mismatch":
        return f"giá trị {error['input']!r} không đúng dạng {error['ctx']['pattern']}"
    return error["msg"]


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names allowed at ``loc`` (for "did you mean" help)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        info = getattr(current, "model_fields", {}).get(part)
        if info is None:
            # a dict value: step into the dict's value type
            continue
        current = _inner_model(info.annotation)
    return list(getattr(current, "model_fields", {}).keys())


def _inner_model(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


_HEADER = re.compile(r"^\s*\[(\[)?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = r"""(?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)"""
_ASSIGN = re.compile(rf"^\s*({_KEY}(?:\s*\.\s*{_KEY})*)\s*=")


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_\-]+)', text)
    return tuple(next(p for p in group if p) for group in parts)


def locate(text: str, loc: tuple) -> int:
    """The line in TOML ``text`` that best matches the key path ``loc`` (1 when nothing matches).

    tomllib keeps no positions, so this scans table headers and ``key =`` lines and keeps the line
    whose full key path shares the longest prefix with ``loc``.
    """
    wanted = tuple(str(part) for part in loc if not isinstance(part, int))
    best_line, best_len = 1, 0
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_key(header.group(2))
            path = table
        else:
            assign = _ASSIGN.match(line)
            if not assign or line.lstrip().startswith("#"):
                continue
            path = table + _split_key(assign.group(1))
        common = 0
        for a, b in zip(path, wanted, strict=False):
            if a != b:
                break
            common += 1
        if common == len(path) and common > best_len:
            best_line, best_len = number, common
    return best_line


def _check_speech(root: Path, loaded: _Loaded, problems: list[str]) -> None:
    from channels.loudspeaker.speech import self_reference  # late import, as in _cross_check

    speech: SpeechFile = loaded.model
    where = _shown(loaded.path, root)
    for lang in speech.engines:
        problem = language_problem(lang)
        if problem:
            problems.append(f"{where}:{locate(loaded.text, ('engines', lang))}: engines.{lang}: {problem}")
    for section in ("abbreviations", "document_codes", "addresses"):
        for key, value in getattr(speech, section).items():
            problem = self_reference(key, value)
            if problem:
                problems.append(f"{where}:{locate(loaded.text, (section, key))}: {section}.{key}: {problem}")


def _cross_check(
    root: Path,
    units_file: _Loaded | None,
    channels_file: _Loaded,
    plans: list[_Loaded],
    samples_file: _Loaded | None,
    problems: list[str],
) -> None:
    from channels import REGISTRY  # late import: channels depend on this module's types

    def report(loaded: _Loaded, loc: tuple, message: str) -> None:
        key = ".".join(str(p) for p in loc)
        problems.append(f"{_shown(loaded.path, root)}:{locate(loaded.text, loc)}: {key}: {message}")

    channels: ChannelsFile = channels_file.model
    # When units.toml itself is broken, unit references cannot be checked: skip just those.
    unit_ids = set(units_file.model.units) if units_file else None
    known_units = ", ".join(sorted(unit_ids or ()))
    if units_file is not None:
        units: UnitsFile = units_file.model
        if units.default_unit not in unit_ids:
            report(units_file, ("default_unit",), f"không có đơn vị '{units.default_unit}'")
        for uid, unit in units.units.items():
            if unit.parent and unit.parent not in unit_ids:
                report(units_file, ("units", uid, "parent"), f"không có đơn vị '{unit.parent}'")
    for name, channel in channels.channels.items():
        if unit_ids is not None and channel.unit not in unit_ids:
            report(channels_file, ("channels", name, "unit"),
                   f"không có đơn vị '{channel.unit}'; các đơn vị: {known_units}")
        cls = REGISTRY.get(channel.kind)
        if cls is None:
            report(channels_file, ("channels", name, "kind"),
                   f"loại kênh '{channel.kind}' không tồn tại; các loại: {', '.join(sorted(REGISTRY))}")
            continue
        for key, message in cls.settings_problems(channel.settings):
            report(channels_file, ("channels", name, "settings", *key), message)
        if channel.send_ahead_minutes and cls.schedules_ahead is None:
            report(channels_file, ("channels", name, "send_ahead_minutes"),
                   f"kênh loại '{channel.kind}' không tự hẹn giờ đăng bài; hãy bỏ dòng này")
        elif channel.send_ahead_minutes and timedelta(minutes=channel.send_ahead_minutes) < cls.least_send_ahead():
            report(channels_file, ("channels", name, "send_ahead_minutes"),
                   f"cần từ {cls.least_send_ahead().total_seconds() / 60:.0f} phút trở lên với kênh loại "
                   f"'{channel.kind}' "
                   "(hoặc 0: gửi đúng giờ)")
        if channel.mode == "preview" and not cls.supports_preview:
            report(channels_file, ("channels", name, "mode"),
                   f"kênh loại '{channel.kind}' không có chế độ xem trước; hãy dùng mode = \"live\"")
    for group, members in channels.groups.items():
        if group in channels.channels:
            report(channels_file, ("groups", group), "trùng tên với một kênh; hãy đổi tên nhóm")
        for member in members:
            if member not in channels.channels:
                report(channels_file, ("groups", group), f"không có kênh '{member}'")
    targets_ok = set(CATEGORIES) | set(channels.groups) | set(channels.channels)
    for loaded in plans:
        plan: PlanFile = loaded.model
        if unit_ids is not None and plan.unit not in unit_ids:
            report(loaded, ("unit",), f"không có đơn vị '{plan.unit}'; các đơn vị: {known_units}")
        for key, target in plan.targets.items():
            if target.channel and target.channel not in targets_ok:
                report(loaded, ("targets", key, "channel"),
                       f"'{target.channel}' không phải loại kênh ({', '.join(CATEGORIES)}), "
                       "nhóm hay tên kênh đã khai báo")
            for field_name in ("topics", "exclude_topics"):
                for code in getattr(target, field_name):
                    if code not in plan.topics:
                        report(loaded, ("targets", key, field_name), f"kế hoạch không có mục '{code}'")
    if samples_file is not None:
        names = set(channels.channels) | set(channels.groups)
        for key, sample in samples_file.model.announcements.items():
            if unit_ids is not None and sample.unit not in unit_ids:
                report(samples_file, ("announcements", key, "unit"), f"không có đơn vị '{sample.unit}'")
            for name in sample.channels:
                if name not in names:
                    report(samples_file, ("announcements", key, "channels"), f"không có kênh '{name}'")
            for lang in [*sample.languages, *sample.translations]:
                problem = language_problem(lang)
                if problem:
                    report(samples_file, ("announcements", key, "languages"), problem)
