"""Running: the service, the web app, dispatch by hand, accounts, the audit trail and the delivery log."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import click

from scheduler.clock import show, show_vn
from scheduler.codes import DeliveryState, Role
from scheduler.errors import InputError
from scheduler.text import check_language
from scripts.commands.common import (
    LOG_COLUMNS,
    CchcGroup,
    Commands,
    fmt_option,
    hidden_input,
    moment,
    with_app,
)
from scripts.output import emit, to_json

if TYPE_CHECKING:
    from scheduler.app import App
    from scheduler.record.scope import Actor

cli = Commands()


@cli.command()
@with_app(log_level=logging.INFO)
def run(app: App, actor: Actor) -> None:
    """Chạy dịch vụ: gửi các lượt đến hạn theo lịch, cho đến khi Ctrl-C hoặc SIGTERM."""
    from scheduler.service import run as run_service

    actor.check_install(app.config, "cchc run")
    run_service(app)


@cli.command()
@click.option("--host", help="Địa chỉ nghe (mặc định CCHC_WEB_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Cổng (mặc định CCHC_WEB_PORT, 8090).")
@with_app(log_level=logging.INFO)
def web(app: App, actor: Actor, host: str | None, port: int | None) -> None:
    """Chạy riêng ứng dụng web cho cán bộ (soạn, duyệt, xem lịch và nhật ký phát)."""
    from scheduler.web.server import server

    actor.check_install(app.config, "cchc web")
    app.ready_engine()
    host, port = host or app.settings.web_host, port or app.settings.web_port
    click.echo(f"Ứng dụng web: http://{host}:{port}/ (Ctrl-C để dừng)", err=True)
    server(app, host, port).run()


@cli.group("user", cls=CchcGroup)
def user_group() -> None:
    """Tài khoản cán bộ đăng nhập ứng dụng web."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return hidden_input("Mật khẩu", "--password-stdin", "echo 'Mật-khẩu-dài' | cchc user add TÊN --role editor "
                        "--password-stdin", confirm="Nhập lại mật khẩu")


def _manager(app: App, actor: Actor, name: str | None = None) -> str:
    """Who manages accounts here (``users.managing``: anyone before the first admin, then an active admin),
    and, with ``name``, that the account managed belongs to a unit the admin reads: a commune admin manages
    its commune's accounts only, as on the web."""
    from scheduler.record import users
    from scheduler.record.db import read_session

    with read_session(app.ready_engine()) as session:
        manager = users.managing(session, actor.name)
        if name is not None:
            actor.scope.check_manage(app.config, users.get_user(session, name))
    return manager


@user_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["editor", "approver", "admin"]),
              help="editor: soạn; approver: soạn và duyệt bài của người khác; admin: toàn quyền.")
@click.option("--unit", help="Đơn vị của tài khoản (mặc định: đơn vị mặc định); tài khoản tỉnh xem được các xã.")
@click.option("--password-stdin", "from_stdin", is_flag=True, help="Đọc mật khẩu từ đầu vào chuẩn (một dòng).")
@with_app()
def user_add(app: App, actor: Actor, name: str, role: str, unit: str | None, from_stdin: bool) -> None:
    """Tạo tài khoản; mật khẩu được hỏi (không hiện khi gõ) hoặc đọc từ đầu vào chuẩn."""
    from scheduler.record import users
    from scheduler.record.db import write_session

    manager = _manager(app, actor)
    unit = actor.scope.pick(app.config, unit) if unit or actor.account else app.config.default_unit
    password = _password(from_stdin)
    with write_session(app.ready_engine()) as session:
        added = users.add_user(session, name=name, role=role, password=password, unit=unit, actor=manager,
                               now=app.now())
    from scheduler.labels import ROLE

    click.echo(f"Đã tạo tài khoản {added.name} ({ROLE[Role(role)].lower()}, {app.config.units[unit].name}).")


@user_group.command("unit")
@click.argument("name")
@click.argument("unit")
@with_app()
def user_unit(app: App, actor: Actor, name: str, unit: str) -> None:
    """Chuyển một tài khoản sang đơn vị khác; các phiên đăng nhập của nó kết thúc ngay."""
    from scheduler.record import users
    from scheduler.record.db import write_session

    manager = _manager(app, actor, name)
    unit = actor.scope.pick(app.config, unit)  # a province admin moves accounts among its units only
    with write_session(app.ready_engine()) as session:
        changed = users.set_unit(session, name=name, unit=unit, actor=manager, now=app.now())
    click.echo(f"Đã chuyển tài khoản {changed.name} sang {app.config.units[unit].name}.")


@user_group.command("list")
@fmt_option
@with_app(writes=False)
def user_list(app: App, actor: Actor, as_json: bool) -> None:
    """Các tài khoản: vai trò, đang hoạt động hay đã khóa, số phiên đăng nhập đang mở."""
    from scheduler import labels
    from scheduler.record import users
    from scheduler.record.db import read_session

    with read_session(app.ready_engine()) as session:
        rows = [row for row in users.list_users(session, app.now()) if actor.scope.reads(row["unit"] or "")]
    units = app.config.units
    shown = [{**row, "role": labels.ROLE[row["role"]], "active": "hoạt động" if row["active"] else "đã khóa",
              "unit": units[row["unit"]].name if row["unit"] in units else row["unit"] or "",
              "created": show_vn(row["created"], time=False)} for row in rows]
    emit(rows if as_json else shown, ["name", "role", "unit", "active", "sessions", "created"],
         fmt="json" if as_json else "table", empty="Chưa có tài khoản nào; tạo bằng: cchc user add TÊN --role admin")


@user_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", "from_stdin", is_flag=True, help="Đọc mật khẩu mới từ đầu vào chuẩn (một dòng).")
@with_app()
def user_passwd(app: App, actor: Actor, name: str, from_stdin: bool) -> None:
    """Đặt mật khẩu mới cho một tài khoản; các phiên đăng nhập của nó kết thúc ngay."""
    from scheduler.record import users
    from scheduler.record.db import write_session

    manager = _manager(app, actor, name)
    password = _password(from_stdin)
    with write_session(app.ready_engine()) as session:
        changed = users.set_password(session, name=name, password=password, actor=manager, now=app.now())
    click.echo(f"Đã đổi mật khẩu của {changed.name}; các phiên đăng nhập cũ đã kết thúc.")


def _set_active(name: str, active: bool, help_text: str) -> None:
    @click.argument("name")
    @with_app()
    def command(app: App, actor: Actor, name: str) -> None:
        from scheduler.record import users
        from scheduler.record.db import write_session

        manager = _manager(app, actor, name)
        with write_session(app.ready_engine()) as session:
            changed = users.set_active(session, name=name, active=active, actor=manager, now=app.now())
        click.echo(f"Đã {'mở khóa' if active else 'khóa'} tài khoản {changed.name}"
                   + ("." if active else "; các phiên đăng nhập của nó đã kết thúc."))

    command.__doc__ = help_text
    user_group.command(name)(command)


_set_active("disable", False, "Khóa một tài khoản: không đăng nhập được nữa, các phiên đang mở kết thúc ngay.")
_set_active("enable", True, "Mở khóa một tài khoản đã khóa.")


@user_group.command("sessions")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Kết thúc mọi phiên đăng nhập của tài khoản này ngay.")
@with_app(writes=False)
def user_sessions(app: App, actor: Actor, name: str, revoke: bool) -> None:
    """Các phiên đăng nhập đang mở của một tài khoản; --revoke để kết thúc tất cả."""
    from scheduler.record import users
    from scheduler.record.db import read_session, write_session

    if revoke:
        app.refuse_trial_time()
        manager = _manager(app, actor, name)
        with write_session(app.ready_engine()) as session:
            ended = users.revoke_sessions(session, name=name, actor=manager, now=app.now())
        click.echo(f"Đã kết thúc {ended} phiên đăng nhập của {name}.")
        return
    with read_session(app.ready_engine()) as session:
        actor.scope.check_manage(app.config, users.get_user(session, name))
        rows = users.open_sessions(session, name=name, now=app.now())
    if not rows:
        click.echo(f"{name} không có phiên đăng nhập nào đang mở.")
    for row in rows:
        click.echo(f"  từ {show_vn(row.created_at)} đến {show_vn(row.expires_at)}")


@cli.command()
@click.option("--since", "since_text", metavar="YYYY-MM-DD[ HH:MM]")
@click.option("--until", "until_text", metavar="YYYY-MM-DD[ HH:MM]")
@click.option("--actor", "who", help="Chỉ việc của người này (tên đăng nhập, hoặc cchc-fill...).")
@click.option("--action", help="Chỉ một loại việc, ví dụ approve, edit, login-failed, channel-hold.")
@click.option("--subject", help="Chỉ một đối tượng, ví dụ announcement:12, user:lan, channel:muong-la-zalo.")
@click.option("--unit", help="Chỉ việc của một đơn vị (mã đơn vị, ví dụ muong-la).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@fmt_option
@with_app(writes=False)
def audit(app: App, actor: Actor, since_text: str | None, until_text: str | None, who: str | None,
          action: str | None, subject: str | None, unit: str | None, limit: int, as_json: bool) -> None:
    """Nhật ký thao tác: ai làm gì, với thông báo, tài khoản hay kênh nào, lúc nào (mới nhất trước)."""
    from scheduler import labels
    from scheduler.record import audit as trail
    from scheduler.record.db import read_session

    with read_session(app.ready_engine()) as session:
        rows = trail.events(session, since=moment(since_text, "--since"),
                            until=moment(until_text, "--until", end_of_day=True), actor=who, action=action,
                            subject=subject, unit=actor.unit(app.config, unit, every=True), limit=limit)
    data = [{"at": show_vn(e.at), "unit": e.unit_id, "actor": e.actor, "action": e.action, "subject": e.subject,
             "detail": e.detail} for e in rows]
    if as_json:
        click.echo(to_json(data))
        return
    shown = [{**row, "actor": labels.actor(row["actor"]), "action": labels.AUDIT_ACTION.get(row["action"],
                                                                                            row["action"]),
              "subject": labels.audit_subject(row["subject"]), "detail": labels.audit_detail(row["detail"])}
             for row in data]
    emit(shown, ["at", "unit", "actor", "action", "subject", "detail"], fmt="table", empty="Không có thao tác nào.")


@cli.command()
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@fmt_option
@with_app(writes=False)
def notices(app: App, actor: Actor, limit: int, as_json: bool) -> None:
    """Thư báo đã gửi hoặc đang chờ gửi (config/notify.toml): cho ai, việc gì, đã gửi được chưa (mới nhất trước)."""
    from sqlmodel import col, select

    from scheduler.record.db import read_session
    from scheduler.record.models import Notice
    from scripts.output import table

    with read_session(app.ready_engine()) as session:
        rows = session.exec(select(Notice).where(col(Notice.unit_id).in_(actor.scope.readable))
                            .order_by(col(Notice.id).desc()).limit(limit)).all()
    data = [{"at": show_vn(n.created_at), "to": n.recipient, "notice": n.kind, "mail": n.status, "tries": n.attempts,
             "subject": n.subject, "error": n.last_error or ""} for n in rows]
    if as_json:
        click.echo(to_json(data))
    elif not data:
        off = app.config.notify is None or not app.config.notify.enabled
        click.echo("Chưa có thư báo nào." + (" Thư báo đang tắt (config/notify.toml: enabled)." if off else ""))
    else:
        click.echo(table(data, list(data[0])))  # column titles and values in words: scheduler.labels


@cli.command()
@click.option("--once", is_flag=True, help="Xử lý một lượt những gì đến hạn rồi thoát.")
@with_app(log_level=logging.INFO)
def dispatch(app: App, actor: Actor, once: bool) -> None:
    """Gửi những lượt đến hạn một lần rồi thoát (cho cron và kiểm thử)."""
    actor.check_install(app.config, "cchc dispatch")
    if not once:
        raise InputError("--once", "hãy thêm --once (hoặc dùng 'cchc run' để chạy dịch vụ liên tục)")
    report = app.dispatcher().run_once()
    click.echo(f"Lượt gửi lúc {show(app.now())}: {report.text()}")
    if any(ch.slotted for ch in app.channels.values()):
        app.broadcaster().run_due()
    from scheduler.service import check_quotas

    if warned := check_quotas(app):
        click.echo(f"{warned} cảnh báo chỉ tiêu mới (xem: cchc compliance)")


@cli.command()
@click.option("--since", "since_text", metavar="YYYY-MM-DD[ HH:MM]")
@click.option("--until", "until_text", metavar="YYYY-MM-DD[ HH:MM]")
@click.option("--channel")
@click.option("--unit", help="Chỉ các kênh của một đơn vị (mặc định: đơn vị của tài khoản; không có --user: mọi "
                             "đơn vị).")
@click.option("--status", type=click.Choice([s.value for s in DeliveryState]))
@click.option("--lang")
@click.option("--limit", type=click.IntRange(1), help="Số dòng tối đa.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@fmt_option
@with_app(writes=False)
def logs(app: App, actor: Actor, since_text: str | None, until_text: str | None, channel: str | None,
         unit: str | None, status: str | None, lang: str | None, limit: int | None, fmt: str, as_json: bool) -> None:
    """Nhật ký phát: mọi lần gửi và kiểm tra lại, với kết quả."""
    from scheduler import queries
    from scheduler.record.db import read_session
    if lang:
        check_language(lang)
    if channel:
        actor.scope.channel(app.config, channel)
    shown = actor.unit(app.config, unit, every=True)
    own = None if channel or shown is None else sorted(app.config.channels_of(shown))
    since = moment(since_text, "--since")
    until = moment(until_text, "--until", end_of_day=True)
    with read_session(app.ready_engine()) as session:
        rows = queries.log_rows(session, since=since, until=until, channel=channel, status=status,
                                lang=lang, limit=limit, channels=own)
    emit(rows, LOG_COLUMNS, fmt="json" if as_json else fmt, empty="Nhật ký trống với bộ lọc này.")
