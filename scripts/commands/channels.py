"""Channels: what a post would look like, credentials, keys and renewed tokens."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from scheduler.clock import show
from scheduler.errors import InputError
from scripts.commands.common import (
    ROW_ID,
    CchcGroup,
    Commands,
    hidden_input,
    with_app,
)

if TYPE_CHECKING:
    from scheduler.app import App
    from scheduler.record.scope import Actor

cli = Commands()


@cli.command()
@click.argument("announcement_id", type=ROW_ID, metavar="ID")
@click.option("--channel", required=True, help="Tên kênh (xem config/channels.toml).")
@click.option("--lang", default="vi", show_default=True, help="vi, blt hoặc hmn.")
@with_app(writes=False)
def preview(app: App, actor: Actor, announcement_id: int, channel: str, lang: str) -> None:
    """Xem đúng nội dung và yêu cầu mà một kênh sẽ gửi cho thông báo này (không gửi gì)."""
    from scheduler import queries
    from scheduler.record.db import read_session
    with read_session(app.ready_engine()) as session:
        actor.scope.item(app.config, queries.announcement(session, announcement_id))
    target = app.channels.get(actor.scope.channel(app.config, channel))
    if target is None:
        raise InputError("--channel", f"kênh '{channel}' đang tắt (enabled = false trong config/channels.toml)")
    if not target.supports_preview:
        raise InputError("--channel", f"kênh loại {target.kind} không có bản xem trước yêu cầu; với kênh truyền "
                                      "thanh hãy dùng cchc render hoặc cchc programme, với trang web: cchc show")
    with read_session(app.ready_engine()) as session:
        post = queries.preview_post(session, app.config, announcement_id, lang, app.now())
    request = target.request_for(post)
    click.echo(request.to_json())
    message = request.body.get("message") if isinstance(request.body, dict) else None
    if message is not None:
        limit = getattr(target.settings, "max_chars", None)
        click.echo(f"Độ dài: {len(message)} ký tự" + (f" (tối đa {limit})" if limit else ""), err=True)


@cli.group("channel", cls=CchcGroup)
def channel_group() -> None:
    """Kênh phát, đăng tin."""


@channel_group.command("check")
@click.argument("name")
@with_app()  # a check that passes releases the channel's hold and may store renewed tokens
def channel_check(app: App, actor: Actor, name: str) -> None:
    """Kiểm tra thông tin xác thực và quyền của một kênh trên nền tảng; nói rõ cần sửa gì."""
    from scheduler.channel_setup import check
    from scheduler.labels import MODE

    unit = app.config.channels[actor.scope.channel(app.config, name, "NAME")].unit
    actor.scope.check_act(app.config, unit, f"kênh {name}")
    checked = check(app, name, actor=actor.name or "cli")
    target = app.channels[name]
    said = f"Kênh {name} ({target.label}, {MODE[app.config.channels[name].mode].lower()})"
    if checked.problems:
        click.echo(f"{said} chưa sẵn sàng:")
        for problem in checked.problems:
            click.echo(f"  - {problem}")
        if checked.held:
            click.echo(f"  Kênh đang tạm dừng gửi vì: {checked.held}")
        for note in checked.notes:
            click.echo(f"  Lưu ý: {note}")
        raise SystemExit(1)
    click.echo(f"{said}: thông tin xác thực và quyền đều ổn.")
    if checked.released:
        click.echo("  Kênh đã được mở lại: các lượt đang chờ sẽ được gửi (nếu còn trong hạn).")
    for note in checked.notes:
        click.echo(f"  Lưu ý: {note}")


@channel_group.command("key")
def channel_key() -> None:
    """In ra một khóa mã hoá mới, để đặt vào biến CCHC_SECRET_KEY (khóa cất mã của Zalo, TikTok)."""
    from scheduler.record.credentials import new_key

    click.echo(new_key())


@channel_group.command("token")
@click.argument("name")
@click.option("--refresh-token-stdin", "from_stdin", is_flag=True,
              help="Đọc mã làm mới từ đầu vào chuẩn thay vì hỏi.")
@with_app()
def channel_token(app: App, actor: Actor, name: str, from_stdin: bool) -> None:
    """Nhập mã làm mới (refresh token) của kênh Zalo hoặc TikTok: mã được mã hoá rồi mới lưu, và đổi
    ngay lấy mã truy cập để biết mã dùng được."""
    from scheduler.channel_setup import enter_token, token_channel
    from scheduler.record.models import Role

    unit = app.config.channels[actor.scope.channel(app.config, name, "NAME")].unit
    actor.scope.check_act(app.config, unit, f"kênh {name}")
    if actor.account and actor.role != Role.ADMIN:
        raise InputError("--user", f"tài khoản {actor.name} không phải quản trị; mã truy cập của kênh do quản trị "
                                   "đơn vị nhập")
    token_channel(app, name, field="NAME")  # before asking for a token the channel has no use for
    text = sys.stdin.readline() if from_stdin else hidden_input(
        "Mã làm mới (refresh token)", "--refresh-token-stdin", f"cchc channel token {name} --refresh-token-stdin < TỆP")
    expires = enter_token(app, name, text, field="--refresh-token-stdin")
    until = show(expires) if expires else "không rõ"
    click.echo(f"Đã lưu mã (mã hoá) của kênh {name}; mã truy cập mới dùng được đến {until}.")
    click.echo(f"Tiếp theo: cchc channel check {name}")
