"""Staff users of the web app: accounts with Argon2id password hashes, logins with rate limiting,
and sessions whose cookie value is kept only as a SHA-256.

Every login, failed login, logout and account change goes to the audit trail.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, delete, func, select

from scheduler.errors import InputError, RuleError
from scheduler.record import audit
from scheduler.record.models import LoginAttempt, Role, Unit, User, WebSession

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")
SYSTEM = "cchc-"  # names of the service's own automatic actions (cchc-fill, cchc-service): never a person
APPROVERS = (Role.APPROVER, Role.ADMIN)
# What only approvers (and admins) may do; every active account may write, translate and submit.
APPROVER_ACTIONS = {"approve": "phê duyệt", "reject": "từ chối", "cancel": "hủy thông báo",
                    "settle": "xác nhận lượt phát", "station-sound": "đặt âm thanh của đài"}
MIN_PASSWORD = 10
SESSION_HOURS = 10  # one working day: staff log in again each morning
MAX_FAILURES = 5  # per name, and per address, within FAILURE_WINDOW
FAILURE_WINDOW = timedelta(minutes=15)
_hasher = PasswordHasher()  # Argon2id with the library's current recommended parameters


@dataclass(frozen=True)
class Login:
    """A session just opened: ``cookie`` goes to the browser once and is never stored."""

    user: User
    cookie: str
    csrf: str


def add_user(session: Session, *, name: str, role: str, password: str, unit: str, actor: str,
             now: datetime) -> User:
    """A new account of ``unit`` (``scheduler.record.scope``: a commune's account works on its commune only)."""
    name = name.strip().lower()
    if not NAME.match(name):
        raise InputError("NAME", "tên đăng nhập gồm 2–60 chữ thường không dấu, số, dấu chấm, gạch dưới hoặc "
                                 "gạch ngang, bắt đầu bằng chữ hoặc số (ví dụ: lan, nguyen.hung)")
    if name.startswith(SYSTEM):
        raise InputError("NAME", f"tên bắt đầu bằng '{SYSTEM}' dành cho các việc hệ thống tự làm; hãy chọn tên khác")
    if role not in set(Role):
        raise InputError("--role", f"vai trò '{role}' không có; hãy chọn một trong: {', '.join(Role)}")
    if session.get(User, name) is not None:
        raise RuleError(f"đã có người dùng '{name}'; hãy chọn tên khác")
    _check_unit(session, unit)
    _check_password(password)
    user = User(name=name, role=role, unit_id=unit, password_hash=_hasher.hash(password), created_at=now,
                updated_at=now)
    session.add(user)
    audit.record(session, actor=actor, action="user-add", subject=f"user:{name}", at=now, role=role, unit=unit)
    return user


def set_unit(session: Session, *, name: str, unit: str, actor: str, now: datetime) -> User:
    """Move an account to another unit; its open sessions end (what it may see has changed)."""
    user = get_user(session, name)
    _check_unit(session, unit)
    before, user.unit_id, user.updated_at = user.unit_id, unit, now
    ended = revoke_sessions(session, name=user.name, actor=actor, now=now, audit_it=False)
    audit.record(session, actor=actor, action="user-unit", subject=f"user:{user.name}", at=now, unit=unit,
                 before=before, sessions_ended=ended)
    return user


def _check_unit(session: Session, unit: str) -> None:
    if session.get(Unit, unit) is None:
        known = ", ".join(session.exec(select(Unit.id).order_by(Unit.id)).all()) or "(chưa có; chạy cchc init)"
        raise InputError("--unit", f"không có đơn vị '{unit}'; các đơn vị: {known}")


def no_account_yet(session: Session) -> bool:
    """A new install: nobody can log in yet."""
    return session.exec(select(User.name).limit(1)).first() is None


def first_admin(session: Session, *, name: str, password: str, unit: str, now: datetime) -> User:
    """The install's first administrator, made from the web (``routes/login.py``) while no account exists;
    once one does, accounts are made by an administrator (a second first administrator is refused)."""
    if not no_account_yet(session):
        raise RuleError("đã có tài khoản quản trị; hãy đăng nhập, hoặc nhờ quản trị viên tạo tài khoản cho bạn")
    return add_user(session, name=name, role=Role.ADMIN, password=password, unit=unit, actor="thiết lập ban đầu",
                    now=now)


def managing(session: Session, name: str | None) -> str:
    """Who may manage accounts from the command line: anyone while no active admin exists (the first
    accounts of an install), then only an active admin named by ``--user``."""
    admins = session.exec(select(User.name).where(User.role == Role.ADMIN, col(User.active).is_(True))).all()
    if not admins:
        return name or "cli"
    user = session.get(User, (name or "").strip().lower())
    if user is None or not user.active or user.role != Role.ADMIN:
        raise InputError("--user", "quản lý tài khoản cần một tài khoản quản trị đang hoạt động: thêm --user TÊN "
                                   f"(quản trị hiện có: {', '.join(admins)})")
    return user.name


def get_user(session: Session, name: str) -> User:
    user = session.get(User, name.strip().lower())
    if user is None:
        known = ", ".join(session.exec(select(User.name).order_by(User.name)).all()) or "(chưa có)"
        raise InputError("NAME", f"không có tài khoản '{name}'; các tài khoản: {known}")
    return user


def list_users(session: Session, now: datetime) -> list[dict]:
    """Every account with its role, whether it is active, and its open sessions."""
    open_sessions = dict(session.exec(select(WebSession.user_name, func.count()).where(WebSession.expires_at > now)
                                      .group_by(WebSession.user_name)).all())
    return [{"name": u.name, "role": u.role, "unit": u.unit_id, "active": u.active, "created": u.created_at,
             "updated": u.updated_at, "sessions": open_sessions.get(u.name, 0)}
            for u in session.exec(select(User).order_by(User.name))]


def set_password(session: Session, *, name: str, password: str, actor: str, now: datetime) -> User:
    """A new password; every open session of the account ends (whoever had it is logged out)."""
    user = get_user(session, name)
    _check_password(password)
    user.password_hash, user.updated_at = _hasher.hash(password), now
    ended = revoke_sessions(session, name=user.name, actor=actor, now=now, audit_it=False)
    audit.record(session, unit=user.unit_id, actor=actor, action="user-passwd", subject=f"user:{user.name}", at=now,
                 sessions_ended=ended)
    return user


def set_active(session: Session, *, name: str, active: bool, actor: str, now: datetime) -> User:
    """Disable (sessions end at once, logins refused) or enable an account."""
    user = get_user(session, name)
    if not active and user.role == Role.ADMIN and user.active:
        others = session.exec(select(User.name).where(User.role == Role.ADMIN, col(User.active).is_(True),
                                                      User.name != user.name)).all()
        if not others:
            raise RuleError(f"{user.name} là quản trị viên cuối cùng đang hoạt động; hãy tạo hoặc mở một quản trị "
                            "khác trước khi khóa tài khoản này")
    user.active, user.updated_at = active, now
    ended = 0 if active else revoke_sessions(session, name=user.name, actor=actor, now=now, audit_it=False)
    audit.record(session, unit=user.unit_id, actor=actor, action="user-enable" if active else "user-disable",
                 subject=f"user:{user.name}", at=now, sessions_ended=ended)
    return user


def open_sessions(session: Session, *, name: str, now: datetime) -> list[WebSession]:
    user = get_user(session, name)
    return list(session.exec(select(WebSession).where(WebSession.user_name == user.name, WebSession.expires_at > now)
                             .order_by(WebSession.created_at)).all())


def revoke_sessions(session: Session, *, name: str, actor: str, now: datetime, audit_it: bool = True) -> int:
    """End every session of an account at once; returns how many were open."""
    user = get_user(session, name)
    rows = session.exec(select(WebSession).where(WebSession.user_name == user.name)).all()
    for row in rows:
        session.delete(row)
    if audit_it:
        audit.record(session, unit=user.unit_id, actor=actor, action="user-sessions-revoked",
                     subject=f"user:{user.name}", at=now,
                     sessions_ended=len(rows))
    return len(rows)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError("password", f"mật khẩu cần ít nhất {MIN_PASSWORD} ký tự")


WRONG = "tên đăng nhập hoặc mật khẩu không đúng"


def log_in(session: Session, *, name: str, password: str, address: str, now: datetime) -> Login | None:
    """Check a password and open a session; None for a wrong name or password (the failure is
    recorded, so the caller must commit). Too many failures for the name or the address refuse even
    a right password for a while, and an unknown name costs the same time as a known one."""
    name = name.strip().lower()[:60].replace("\x00", "")  # a NUL names nobody (and PostgreSQL refuses it)
    password = password.replace("\x00", "\ufffd")
    address = address.replace("\x00", "")
    since = now - FAILURE_WINDOW
    failures = max(
        session.exec(select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.name == name, LoginAttempt.at >= since)).one(),
        session.exec(select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.address == address, LoginAttempt.at >= since)).one())
    if failures >= MAX_FAILURES:
        raise RuleError(f"đăng nhập sai quá {MAX_FAILURES} lần; hãy thử lại sau {FAILURE_WINDOW.seconds // 60} phút")
    user = session.get(User, name)
    if not _verify(user.password_hash if user else None, password) or user is None or not user.active:
        session.add(LoginAttempt(name=name, address=address[:60], at=now))
        audit.record(session, unit=user.unit_id if user else None, actor=name or "?", action="login-failed",
                     subject=f"user:{name}", at=now,
                     address=address)
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(WebSession(id_hash=_digest(cookie), user_name=user.name, csrf=csrf, created_at=now,
                           expires_at=now + timedelta(hours=SESSION_HOURS)))
    session.exec(delete(WebSession).where(col(WebSession.expires_at) < now))  # tidy up what no longer counts
    session.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < since))
    audit.record(session, unit=user.unit_id, actor=user.name, action="login", subject=f"user:{user.name}", at=now,
                 address=address)
    return Login(user, cookie, csrf)


_DUMMY = _hasher.hash("not a password of anyone")


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def current(session: Session, cookie: str | None, now: datetime) -> tuple[User, WebSession] | None:
    """The user and session of a cookie, if it is open, not expired and the user still active."""
    if not cookie:
        return None
    row = session.get(WebSession, _digest(cookie))
    if row is None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_name)
    return (user, row) if user is not None and user.active else None


def log_out(session: Session, cookie: str | None, now: datetime) -> None:
    if not cookie:
        return
    row = session.get(WebSession, _digest(cookie))
    if row is not None:
        user = session.get(User, row.user_name)
        audit.record(session, unit=user.unit_id if user else None, actor=row.user_name, action="logout",
                     subject=f"user:{row.user_name}", at=now)
        session.delete(row)


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()
