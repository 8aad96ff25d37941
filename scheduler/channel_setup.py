"""A channel as its office sets it up from the Channels page: the settings staff may change, the connection
check, and the refresh token of the channels that renew their own (Zalo, TikTok).

- **Which settings**: the channel's title, preview or live, on or off, how late it may still send, and the
  settings of its kind that an office knows (``labels.CHANNEL_FIELD``: the loudspeaker's slots and spoken
  lines, the Page's id, the site's address...). The names of the variables that hold secrets (``*_env``) and
  the engine's tuning stay the server administrator's, in the file.
- **Where**: the installation's ``channels.toml`` (``Settings.config_dir``: under the data folder, never the
  project's ``config/``), edited with tomlkit so its comments stay, and replaced in one step. Values are
  checked against the channel's own rules first (each problem named by its label), then the file is read
  back as the service reads it and put back as it was if it does not load. Each change is in the audit
  trail; the running service reads the file again within a tick and builds its channels again
  (``App.refresh_config``, ``service.Reload``).
- **The check** (``check``, also ``cchc channel check``) asks the platform whether the credentials and
  rights work; when they do, the channel's hold is released and what waited goes out.
- **No link that opens nowhere** (``loopback_links``): a live social channel links each post to its
  article on the unit's website, so it does not go live, and the service does not start, while that
  website's public address is this machine's own (the default ``127.0.0.1``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args
from urllib.parse import urlsplit

from pydantic import ValidationError

from channels.secrets import redact
from scheduler.config import ChannelConfig, Config, load_config
from scheduler.errors import ConfigError, InputError
from scheduler.labels import CHANNEL_FIELD, MODE

if TYPE_CHECKING:
    from datetime import datetime

    from channels.tokens import TokenChannel
    from scheduler.app import App

COMMON = ("title", "mode", "enabled", "grace_minutes")
LONG = frozenset({"station_id", "outro"})  # a sentence or two: a text area


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    hint: str
    shape: str  # "text", "long", "number", "bool", "list" or "mode"
    value: Any
    in_settings: bool  # under the channel's [settings] table
    required: bool

    @property
    def shown(self) -> str:
        return _shown(self.value)


def fields(config: Config, name: str) -> list[Field]:
    """The settings of channel ``name`` that its office may change, with their values now."""
    channel = config.channels[name]
    kind = channel.channel_class
    found: list[Field] = []
    for key in COMMON:
        if key == "mode" and not kind.supports_preview:
            continue
        label, hint = CHANNEL_FIELD[key]
        found.append(Field(key, label, hint, "mode" if key == "mode" else _shape(ChannelConfig.model_fields[key]),
                           getattr(channel, key), False, True))
    own = kind.Settings.model_fields
    for key, (label, hint) in CHANNEL_FIELD.items():
        if key in COMMON or key not in own:
            continue
        spec = own[key]
        value = channel.settings.get(key, None if spec.is_required() else spec.default)
        shape = "long" if key in LONG else _shape(spec)
        found.append(Field(key, label, hint, shape, value, True, spec.is_required()))
    return found


def _shape(spec: Any) -> str:  # noqa: ANN401  a pydantic FieldInfo
    kinds = {spec.annotation, *get_args(spec.annotation)}
    if bool in kinds:
        return "bool"
    if kinds & {int, float}:
        return "number"
    if any(getattr(k, "__origin__", None) is list for k in kinds):
        return "list"
    return "text"


def _shown(value: Any) -> str:  # noqa: ANN401
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if value in MODE:
        return MODE[value]
    return "" if value is None else str(value)


def read_form(found: list[Field], form: dict[str, Any]) -> dict[str, Any]:
    """The values a posted form gives the fields (a checkbox left empty is off), typed; ``InputError`` names
    the field's label when a value cannot be read."""
    values: dict[str, Any] = {}
    for f in found:
        raw = form.get(f.key)
        if f.shape == "bool":
            values[f.key] = raw in ("on", "1", "true")
            continue
        if raw is None:
            continue
        text = str(raw).strip()
        if f.shape == "number":
            if not re.fullmatch(r"\d+(?:[.,]\d+)?", text):
                raise InputError(f.label, f"hãy nhập một số (ví dụ {f.value if f.value is not None else 30})")
            number = float(text.replace(",", "."))
            values[f.key] = int(number) if number.is_integer() else number
        elif f.shape == "list":
            values[f.key] = [part.lstrip("#") for part in re.split(r"[,;\s]+", text) if part.lstrip("#")]
        elif f.shape == "mode":
            if text not in MODE:
                raise InputError(f.label, "hãy chọn Xem trước hoặc Đăng thật")
            values[f.key] = text
        elif not text and f.required:
            raise InputError(f.label, "không được để trống")
        else:
            values[f.key] = text or None
    return values


def change(config_dir: Path, config: Config, name: str, values: dict[str, Any]) -> list[str]:
    """Write ``values`` (from ``read_form``) into channel ``name``'s table; return a line per change ("Tên
    kênh: cũ → mới"), none when nothing changed. Problems raise ``InputError`` and leave the file as it was."""
    import tomlkit

    found = {f.key: f for f in fields(config, name)}
    changed = {key: value for key, value in values.items() if key in found and value != found[key].value}
    if not changed:
        return []
    channel = config.channels[name]
    settings = {**channel.settings, **{k: v for k, v in changed.items() if found[k].in_settings}}
    table = {**channel.model_dump(exclude={"settings"}),
             **{k: v for k, v in changed.items() if not found[k].in_settings}}
    _check(found, lambda: ChannelConfig.model_validate({**table, "settings": settings}))
    _check(found, lambda: channel.channel_class.Settings.model_validate({k: v for k, v in settings.items()
                                                                          if v is not None}))
    path = config_dir / "channels.toml"
    text = path.read_text(encoding="utf-8")
    doc = tomlkit.parse(text)
    entry = doc["channels"][name]
    for key, value in changed.items():
        where = entry.setdefault("settings", tomlkit.table()) if found[key].in_settings else entry
        if value is None:
            where.pop(key, None)
        else:
            where[key] = value
    _replace(path, tomlkit.dumps(doc))
    try:
        loaded = load_config(config_dir)
    except ConfigError as exc:
        _replace(path, text)
        problems = "; ".join(line.rsplit(": ", 1)[-1] for line in str(exc).splitlines() if ": " in line)
        raise InputError("Cài đặt", f"không dùng được cài đặt này ({problems}); chưa đổi gì") from None
    new = set(loopback_links(loaded, channel.unit)) - set(loopback_links(config, channel.unit))
    if new:
        _replace(path, text)
        raise InputError("Cài đặt", "; ".join(sorted(new)) + "; chưa đổi gì")
    return [f"{found[key].label}: {redact(found[key].shown) or '(trống)'} → {redact(_shown(value)) or '(trống)'}"
            for key, value in changed.items()]


def loopback_links(config: Config, unit: str | None = None) -> list[str]:
    """A line for each live channel (of ``unit``, or of every unit) whose posts would link to a website whose
    public address is this machine's own: nobody who reads the post could open it."""
    problems = []
    for channel in config.channels.values():
        if (unit and channel.unit != unit) or channel.mode != "live" or not channel.enabled \
                or not channel.channel_class.links_to_website:
            continue
        for site in config.in_category("website", channel.unit):
            address = config.channels[site].settings.get("base_url") or config.channels[site].settings.get("url")
            if address and _loopback(address):
                problems.append(f"kênh {channel.title} đăng thật nhưng địa chỉ công khai của "
                                f"{config.channels[site].title} ({address}) là địa chỉ trong máy chủ: liên kết trong "
                                "bài sẽ không mở được; hãy đặt địa chỉ thật của trang (Các kênh → trang đó → Địa "
                                "chỉ trang) hoặc để kênh ở chế độ xem trước")
    return problems


def _loopback(address: str) -> bool:
    host = (urlsplit(address).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check(found: dict[str, Field], validate: Any) -> None:  # noqa: ANN401
    try:
        validate()
    except ValidationError as exc:
        error = exc.errors()[0]
        key = next((str(part) for part in error["loc"] if str(part) in found), "")
        field = found.get(key)
        raise InputError(field.label if field else "Cài đặt", _why(error, field)) from None


def _why(error: dict[str, Any], field: Field | None) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "value_error":
        return str(ctx.get("error", "giá trị không dùng được"))
    if kind in ("missing", "too_short", "string_too_short"):
        return "không được để trống"
    if kind in ("greater_than", "greater_than_equal"):
        return f"phải từ {ctx.get('gt', ctx.get('ge'))} trở lên"
    if kind in ("less_than", "less_than_equal"):
        return f"không được quá {ctx.get('lt', ctx.get('le'))}"
    if kind in ("string_too_long", "too_long"):
        return f"dài quá {ctx.get('max_length')} ký tự"
    hint = f" ({field.hint})" if field and field.hint else ""
    return f"không đúng dạng{hint}"


def _replace(path: Path, text: str) -> None:
    """Write ``path`` in one step: a service reading it meanwhile sees the old file or the new, never half."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=".channels-",
                                     delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, path)


@dataclass(frozen=True)
class Checked:
    problems: list[str]  # what stops the channel from publishing (empty: credentials and rights work)
    held: str | None  # why the channel was held before the check
    notes: list[str]  # what staff should know even when it works

    @property
    def released(self) -> bool:
        return not self.problems and self.held is not None


def check(app: App, name: str, *, actor: str, field: str = "NAME") -> Checked:
    """Ask channel ``name``'s platform whether its credentials and rights work; when they do, release the
    channel's hold. Every message is redacted."""
    from scheduler.outbox.holds import holds, release_channel
    from scheduler.record.db import write_session

    target = app.channels.get(name)
    if target is None:
        raise InputError(field, f"kênh '{name}' đang tắt; hãy bật kênh rồi kiểm tra")
    problems = [redact(p) for p in target.secret_problems() or target.check()]
    with write_session(app.ready_engine()) as session:
        held = next((hold.reason for hold in holds(session, app.now()) if hold.channel == name), None)
        if not problems:
            release_channel(session, name, actor=actor, now=app.now())
    return Checked(problems, held, [redact(note) for note in target.notes()])


def token_channel(app: App, name: str, *, field: str) -> TokenChannel:
    """Channel ``name``, built, if it renews its own tokens (Zalo, TikTok); ``InputError`` if not."""
    from channels.tokens import TokenChannel

    target = app.channels.get(name)
    if target is None:
        raise InputError(field, f"kênh '{name}' đang tắt; hãy bật kênh rồi nhập mã")
    if not isinstance(target, TokenChannel) or target.tokens is None:
        raise InputError(field, f"kênh {name} không dùng mã làm mới; mã truy cập của kênh này do quản trị máy chủ "
                                "đặt")
    return target


def enter_token(app: App, name: str, text: str, *, field: str) -> datetime | None:
    """Seal a refresh token a person entered for channel ``name`` (Zalo, TikTok) and trade it at once for an
    access token, which proves it; return when that access token ends. ``InputError`` says what is wrong."""
    from channels.tokens import TokenProblem, Tokens, VaultError

    target = token_channel(app, name, field=field)
    if not text.strip():
        raise InputError(field, "không nhận được mã nào; hãy dán mã làm mới")
    app.ready_engine()
    try:
        stored = target.tokens.save(Tokens(access_token="", refresh_token=text.strip()))
    except VaultError as exc:
        raise InputError("CCHC_SECRET_KEY", str(exc), web="máy chủ chưa có khóa mã hoá để cất mã; hãy báo quản trị "
                                                      "máy chủ (chưa lưu gì)") from None
    try:
        fresh = target.current_tokens(force=stored)  # one renewal: proves the token, gets an access token
    except TokenProblem as exc:
        raise InputError(field, f"đã lưu mã nhưng nền tảng không nhận: {redact(exc.receipt.message)}") from None
    return fresh.access_expires_at
