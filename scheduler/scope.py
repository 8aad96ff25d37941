"""Which units an account may read and act on (đơn vị của tài khoản).

An account belongs to one unit. A commune account reads and acts on its commune only. A province
account reads its province and every commune below it, and acts on its own unit only: the province
supervises its communes, it does not write or approve for them. The web app, the API and the
commands all ask this module; the core's writing functions check the actor's unit again
(``check_actor``), so no path can approve or change another unit's item.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from scheduler.config import Config
from scheduler.errors import InputError, RuleError
from scheduler.models import Unit, User


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

    def reads(self, unit: str) -> bool:
        return unit in self.readable

    def reads_item(self, config: Config, unit: str, channels: list[str]) -> bool:
        """Whether the account may read an item of ``unit`` on ``channels``: its unit's, or one that goes out on
        a channel of a unit it reads (a province-wide broadcast on a commune's loudspeakers)."""
        return self.reads(unit) or any(config.channels[c].unit in self.readable for c in channels
                                       if c in config.channels)

    def check_read(self, config: Config, unit: str, what: str) -> None:
        """``RuleError`` when ``what`` (e.g. "thông báo ML-2025-0003") belongs to a unit the account cannot read."""
        if not self.reads(unit):
            raise RuleError(f"{what} thuộc đơn vị khác; tài khoản của bạn chỉ làm việc với "
                            f"{names(config, self.readable)}")

    def check_act(self, config: Config, unit: str, what: str) -> None:
        """``RuleError`` unless ``unit`` is the account's own: a province reads its communes' items but
        does not change or approve them."""
        if unit != self.home:
            if self.reads(unit):
                raise RuleError(f"{what} là của {_name(config, unit)}; tài khoản của {_name(config, self.home)} "
                                "chỉ xem, không sửa hay phê duyệt được việc của đơn vị khác")
            self.check_read(config, unit, what)

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
    raise RuleError(f"{what} thuộc {other.name if other else unit}; tài khoản {user.name} của {mine} chỉ soạn, "
                    f"sửa, gửi duyệt và phê duyệt việc của {mine}")


def _name(config: Config, unit: str) -> str:
    return config.units[unit].name if unit in config.units else unit


def names(config: Config, units: tuple[str, ...]) -> str:
    """The units' names for a message: the first four, then how many more."""
    shown = [_name(config, u) for u in units[:4]]
    return ", ".join(shown) + (f" và {len(units) - 4} đơn vị khác" if len(units) > 4 else "")
