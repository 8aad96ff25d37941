"""Which units an account may read and act on (đơn vị của tài khoản).

An account belongs to one unit. A commune account reads and acts on its commune only. A province
account reads its province and every commune below it, and acts on its own unit only: the province
supervises its communes, it does not write or approve for them. The web app, the API and the
commands all ask this module; the core's writing functions check the actor's unit again
(``check_actor``), so no path can approve or change another unit's item. A command's ``--user`` is an
``Actor`` (``resolve``): the same account, scope and role as on the web; what belongs to another unit is an
``OtherUnitError`` everywhere (403 on the web, exit code 1 at the command line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from scheduler.config import Config
from scheduler.errors import InputError, OtherUnitError, RuleError
from scheduler.record.models import Role, Unit, User


def below(config: Config, unit: str) -> list[str]:
    """``unit`` and every unit under it, the unit first, then the others in config order."""
    found = [unit]
    for uid, info in config.units.items():
        parent, seen = info.parent, {uid}
        while parent and parent not in seen:
            if parent == unit:
                found.append(uid)
                break
            seen.add(parent)
            parent = config.units[parent].parent if parent in config.units else None
    return found


@dataclass(frozen=True)
class Scope:
    """The units one account reads (``readable``) and the one it acts on (``home``)."""

    home: str
    readable: tuple[str, ...]

    def reads_all(self, config: Config) -> bool:
        """Every unit of the install: the top unit's view (its administrator works on the installation)."""
        return set(self.readable) >= set(config.units)

    def reads(self, unit: str) -> bool:
        return unit in self.readable

    def reads_item(self, config: Config, unit: str, channels: list[str]) -> bool:
        """Whether the account may read an item of ``unit`` on ``channels``: its unit's, or one that goes out on
        a channel of a unit it reads (a province-wide broadcast on a commune's loudspeakers)."""
        return self.reads(unit) or any(config.channels[c].unit in self.readable for c in channels
                                       if c in config.channels)

    def check_read(self, config: Config, unit: str, what: str) -> None:
        """``OtherUnitError`` when ``what`` (e.g. "thông báo ML-2025-0003") belongs to a unit the account cannot
        read."""
        if not self.reads(unit):
            raise OtherUnitError(f"{what} thuộc đơn vị khác; tài khoản của bạn chỉ làm việc với "
                                 f"{names(config, self.readable)}")

    def check_act(self, config: Config, unit: str, what: str) -> None:
        """``OtherUnitError`` unless ``unit`` is the account's own: a province reads its communes' items but
        does not change or approve them."""
        if unit != self.home:
            if self.reads(unit):
                raise OtherUnitError(f"{what} là của {_name(config, unit)}; tài khoản của "
                                     f"{_name(config, self.home)} chỉ xem, không sửa hay phê duyệt được việc của "
                                     "đơn vị khác")
            self.check_read(config, unit, what)

    def channel(self, config: Config, name: str, field: str = "--channel", *, loudspeaker: bool = False) -> str:
        """A channel named on a command or a page, if it belongs to a unit the account reads; another unit's
        channel is as unknown as one that does not exist, and the list offered names only the account's."""
        found = config.channels.get(name)
        if found is None or found.unit not in self.readable or (loudspeaker and not found.slotted):
            kind = "kênh truyền thanh" if loudspeaker else "kênh"
            mine = ", ".join(self.channels(config, loudspeaker=loudspeaker)) or "(chưa có)"
            raise InputError(field, f"không có {kind} '{name[:60]}' trong các đơn vị bạn làm việc; các {kind}: {mine}")
        return name

    def channels(self, config: Config, *, loudspeaker: bool = False) -> list[str]:
        """The channels of the units the account reads (only the loudspeakers, with ``loudspeaker``)."""
        return [name for name, ch in config.channels.items()
                if ch.unit in self.readable and (ch.slotted or not loudspeaker)]

    def item(self, config: Config, detail: dict[str, Any]) -> dict[str, Any]:
        """An item as this account may see it (``queries.announcement``'s dict): ``OtherUnitError`` unless it may
        read it; a province item read by a commune shows only the commune's own channels and deliveries."""
        if not self.reads_item(config, detail["unit"], detail["channels"]):
            self.check_read(config, detail["unit"], f"thông báo {detail['ref']}")
        if self.reads(detail["unit"]):
            return detail
        mine = {name for name in detail["channels"] if name in config.channels
                and config.channels[name].unit in self.readable}
        return {**detail, "channels": [name for name in detail["channels"] if name in mine],
                "deliveries": [row for row in detail["deliveries"] if row["channel"] in mine]}

    def check_manage(self, config: Config, user: User) -> None:
        """An account may be managed (password, lock, sessions, unit) by an admin of its unit, or of a unit
        above it: a commune admin manages its commune's accounts only."""
        if not self.reads(user.unit_id or ""):
            raise OtherUnitError(f"tài khoản {user.name} thuộc đơn vị khác; bạn chỉ quản lý tài khoản của "
                                 f"{names(config, self.readable)}")

    def pick(self, config: Config, unit: str | None, field: str = "--unit") -> str:
        """The unit asked for (``--unit``, the header's choice), or the account's own; an unknown unit or one
        the account cannot read is an ``InputError`` listing the ones it can."""
        if not unit:
            return self.home
        if unit not in config.units:
            raise InputError(field, f"không có đơn vị '{unit}'; các đơn vị bạn xem được: "
                                    f"{', '.join(self.readable)}")
        if not self.reads(unit):
            raise InputError(field, f"tài khoản của bạn không xem được {_name(config, unit)}; các đơn vị bạn "
                                    f"xem được: {', '.join(self.readable)}")
        return unit


def of_unit(config: Config, unit: str) -> Scope:
    return Scope(home=unit, readable=tuple(below(config, unit)))


def of_user(config: Config, user: User) -> Scope:
    """The scope of an account; one whose unit has left the configuration reads nothing but its own name."""
    unit = user.unit_id or config.default_unit
    if unit not in config.units:
        raise RuleError(f"tài khoản {user.name} thuộc đơn vị '{unit}', không còn trong config/units.toml; quản trị "
                        f"hãy chuyển tài khoản sang đơn vị khác: cchc user unit {user.name} MÃ_ĐƠN_VỊ")
    return of_unit(config, unit)


def everything(config: Config) -> Scope:
    """No account named (a first install before accounts, the service itself): the default unit, reading
    every unit."""
    return Scope(home=config.default_unit, readable=tuple(config.units))


def check_actor(session: Session, actor: str, unit: str, what: str) -> None:
    """The core's own check before it changes an item of ``unit`` for ``actor``: an account acts on its own
    unit only. A name without an account (the service's automatic actions, an install before its first
    account) is left to the entry layer, which already refuses unknown people once accounts exist."""
    user = session.get(User, actor)
    if user is None or user.unit_id == unit:
        return
    if user.unit_id is None:
        raise RuleError(f"tài khoản {user.name} chưa thuộc đơn vị nào; quản trị hãy chạy cchc init (tài khoản cũ "
                        f"về đơn vị mặc định) hoặc: cchc user unit {user.name} MÃ_ĐƠN_VỊ")
    own, other = session.get(Unit, user.unit_id), session.get(Unit, unit)
    mine = own.name if own else user.unit_id
    raise OtherUnitError(f"{what} thuộc {other.name if other else unit}; tài khoản {user.name} của {mine} chỉ "
                         f"soạn, sửa, gửi duyệt và phê duyệt việc của {mine}")


def _name(config: Config, unit: str) -> str:
    return config.units[unit].name if unit in config.units else unit


def names(config: Config, units: tuple[str, ...]) -> str:
    """The units' names for a message: the first four, then how many more."""
    shown = [_name(config, u) for u in units[:4]]
    return ", ".join(shown) + (f" và {len(units) - 4} đơn vị khác" if len(units) > 4 else "")


@dataclass(frozen=True)
class Actor:
    """Who a command acts as. ``--user`` (or ``CCHC_USER``) names an account, which works within its scope
    and role exactly as on the web; with no name, the server's operator at the command line reads every
    unit but does nothing that needs a person (write, approve). Before the first account exists a name is
    taken as given (a first install, the tests)."""

    name: str | None
    role: str | None
    scope: Scope
    account: bool = False  # the name is an account of the install

    def person(self, action: str) -> str:
        """The name to act under for ``action`` (an ``InputError`` without one, or when the account's role
        may not: approving needs an approver)."""
        from scheduler.record.users import APPROVER_ACTIONS, APPROVERS

        if not self.name:
            raise InputError("--user", "hãy cho biết bạn là ai: thêm --user TÊN hoặc đặt biến CCHC_USER")
        if self.account and action in APPROVER_ACTIONS and self.role not in APPROVERS:
            raise InputError("--user", f"tài khoản {self.name} có vai trò biên tập, không được "
                                       f"{APPROVER_ACTIONS[action]}; việc này cần vai trò thẩm định hoặc quản trị")
        return self.name

    def unit(self, config: Config, unit: str | None, *, every: bool = False) -> str | None:
        """The unit a command works on: ``--unit`` if the account reads it, else the account's own; the
        operator's default is the default unit, or every unit (None) for a listing (``every``)."""
        if unit or self.account:
            return self.scope.pick(config, unit)
        return None if every else config.default_unit

    def check_install(self, config: Config, what: str) -> None:
        """Commands that work on the whole installation (the service, the database, backups, the shared
        configuration) are the operator's, or an administrator's of the top unit, which reads every unit."""
        if not self.account or (self.role == Role.ADMIN and self.scope.reads_all(config)):
            return
        raise OtherUnitError(f"{what} làm việc với cả hệ thống (mọi đơn vị); tài khoản {self.name} của "
                             f"{_name(config, self.scope.home)} không dùng được lệnh này. Hãy nhờ người quản trị "
                             "máy chủ (chạy lệnh không kèm --user) hoặc quản trị của đơn vị cấp trên cùng")


def resolve(session: Session, config: Config, name: str | None) -> Actor:
    """The ``Actor`` a command runs as (``--user``/``CCHC_USER``): an active account, the operator (no name),
    or, before any account exists, the name as given."""
    name = (name or "").strip()
    if not name:
        return Actor(None, None, everything(config))
    user = session.get(User, name.lower())
    if user is None and session.exec(select(User.name).limit(1)).first() is None:
        return Actor(name, None, everything(config))
    if user is None or not user.active:
        raise InputError("--user", f"'{name[:60]}' không phải tài khoản đang hoạt động; hãy dùng tên đăng nhập của "
                                   "mình (tài khoản do quản trị tạo bằng: cchc user add)")
    return Actor(user.name, user.role, of_user(config, user), account=True)
