"""Announcements: queue, edit, translate, submit, approve, reject, cancel, settle, list, show, schedule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scheduler.clock import parse_local, parse_local_date, show
from scheduler.codes import DeliveryState
from scheduler.errors import InputError
from scheduler.text import check_language, read_text_file
from scripts.commands.common import (
    ANNOUNCEMENT_COLUMNS,
    ROW_ID,
    SCHEDULE_COLUMNS,
    Commands,
    fmt_option,
    with_app,
)
from scripts.output import emit, table, to_json

if TYPE_CHECKING:
    from scheduler import announcements
    from scheduler.app import App
    from scheduler.record.scope import Actor

cli = Commands()


def content_options(func: Callable) -> Callable:
    options = [
        click.option("--title", help="Tiêu đề."),
        click.option("--body", help="Nội dung (tiếng Việt)."),
        click.option("--body-file", type=click.Path(dir_okay=False), help="Đọc nội dung từ tệp UTF-8."),
        click.option("--topic", "topics", multiple=True, help="Mục nội dung của kế hoạch (a, b, ...)."),
        click.option("--channel", "channels", multiple=True, help="Kênh hoặc nhóm kênh (lặp lại được)."),
        click.option("--lang", "languages", multiple=True, help="Ngôn ngữ phát: vi, blt (Thái), hmn (Mông)."),
        click.option("--at", "at_text", metavar='"YYYY-MM-DD HH:MM"', help="Giờ phát (lần đầu)."),
        click.option("--next-slot", is_flag=True, default=None, help="Phát ở khung giờ phát kế tiếp."),
        click.option("--repeat", type=click.Choice(["none", "daily", "weekly"]), help="Lặp lại."),
        click.option("--until", "until_text", metavar="YYYY-MM-DD", help="Ngày cuối khi lặp lại."),
        click.option("--priority", type=click.Choice(["normal", "priority", "emergency"]), help="Mức ưu tiên."),
        click.option("--expires", "expires_text", metavar='"YYYY-MM-DD HH:MM"', help="Không phát sau thời điểm này."),
        click.option("--evergreen/--not-evergreen", default=None,
                     help="Tin dùng lại: không có lịch riêng; sau khi duyệt, hệ thống dùng nó để lấp khung giờ "
                          "trống và chỉ tiêu có nguy cơ không đạt."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _body(body: str | None, body_file: str | None) -> str | None:
    """The text typed with ``--body`` or read from ``--body-file`` (never both)."""
    if body is not None and body_file:
        raise InputError("--body", "chỉ dùng một trong hai: --body hoặc --body-file")
    return read_text_file(body_file, "--body-file") if body_file else body


def _draft(body: str | None, body_file: str | None, at_text: str | None, until_text: str | None,
           expires_text: str | None, topics: tuple, channels: tuple, languages: tuple, **kw: Any
           ) -> announcements.Draft:
    from scheduler.announcements import Draft
    return Draft(
        body=_body(body, body_file), title=kw.get("title"), topics=list(topics) or None,
        channels=list(channels) or None,
        languages=list(languages) or None, priority=kw.get("priority"), next_slot=kw.get("next_slot"),
        repeat=kw.get("repeat"), unit=kw.get("unit"), evergreen=kw.get("evergreen"),
        at=parse_local(at_text, "--at") if at_text else None,
        until=parse_local_date(until_text, "--until") if until_text else None,
        expires_at=parse_local(expires_text, "--expires") if expires_text else None,
    )


@cli.command()
@content_options
@click.option("--unit", help="Đơn vị (mặc định: đơn vị của tài khoản, hoặc đơn vị mặc định).")
@click.option("--submit", "submit_now", is_flag=True, help="Gửi duyệt ngay sau khi tạo.")
@with_app()
def queue(app: App, actor: Actor, submit_now: bool, **fields: Any) -> None:
    """Tạo một thông báo mới (in ra mã số của nó)."""
    from scheduler import announcements
    from scheduler.errors import RuleError
    from scheduler.record.db import write_session
    from scheduler.record.models import Announcement
    author = actor.person("queue")
    fields["unit"] = actor.unit(app.config, fields.get("unit"))
    draft = _draft(**fields)
    with write_session(app.ready_engine()) as session:  # the draft is kept even if submitting it is refused
        ann = announcements.create(session, config=app.config, draft=draft, author=author, now=app.now())
    click.echo(ann.id)
    if submit_now:
        try:
            with write_session(app.engine) as session:
                announcements.submit(session, ann=session.get(Announcement, ann.id), actor=author, now=app.now())
        except RuleError as refused:
            click.echo(f"Đã lưu bản nháp {ann.id} ({ann.ref_code}) nhưng chưa gửi duyệt được: {refused}; "
                       f"sau đó gửi duyệt bằng: cchc submit {ann.id}", err=True)
            raise SystemExit(1) from None
    hint = "đã gửi duyệt" if submit_now else f"nháp; gửi duyệt bằng: cchc submit {ann.id}"
    click.echo(f"Đã tạo thông báo {ann.id} ({ann.ref_code}): {hint}", err=True)


@cli.command()
@click.argument("announcement_id", type=ROW_ID, metavar="ID")
@content_options
@with_app()
def edit(app: App, actor: Actor, announcement_id: int, **fields: Any) -> None:
    """Sửa một thông báo (phê duyệt trước đó mất hiệu lực)."""
    from scheduler import announcements
    from scheduler.record.db import write_session
    name = actor.person("edit")
    draft = _draft(**fields)
    with write_session(app.ready_engine()) as session:
        ann = announcements.get(session, announcement_id)
        notes = announcements.edit(session, config=app.config, ann=ann, draft=draft, actor=name, now=app.now())
    click.echo(f"Đã sửa thông báo {announcement_id}: {', '.join(draft.changed) or 'không có gì thay đổi'}")
    for note in notes:
        click.echo(f"  {note}")


@cli.command()
@click.argument("announcement_id", type=ROW_ID, metavar="ID")
@click.option("--lang", required=True, help="blt (tiếng Thái) hoặc hmn (tiếng Mông).")
@click.option("--title", help="Tiêu đề bản dịch (mặc định: tiêu đề tiếng Việt).")
@click.option("--body", help="Nội dung bản dịch.")
@click.option("--body-file", type=click.Path(dir_okay=False), help="Đọc bản dịch từ tệp UTF-8.")
@click.option("--audio", type=click.Path(dir_okay=False, path_type=Path), help="Tệp ghi âm bản dịch.")
@with_app()
def translate(app: App, actor: Actor, announcement_id: int, lang: str, title: str | None,
              body: str | None, body_file: str | None, audio: Path | None) -> None:
    """Thêm hoặc thay bản dịch tiếng Thái / tiếng Mông (kèm ghi âm nếu có)."""
    from scheduler import announcements
    from scheduler.record.db import write_session
    translator = actor.person("translate")
    check_language(lang)
    body = _body(body, body_file)
    if audio is not None and audio.is_file():
        announcements.check_recording(audio, app.config, "--audio")
    with write_session(app.ready_engine()) as session:
        ann = announcements.get(session, announcement_id)
        notes = announcements.translate(session, ann=ann, lang=lang, title=title, body=body or "",
                                        audio=audio, recordings=app.settings.data_dir / "recordings",
                                        translator=translator, now=app.now())
    click.echo(f"Đã lưu bản dịch {lang} cho thông báo {announcement_id}.")
    for note in notes:
        click.echo(f"  {note}")


@cli.command()
@click.argument("announcement_id", type=ROW_ID, metavar="ID")
@click.option("--content", "shown_hash", metavar="HASH",
              help="Mã nội dung của bản đã đọc (cchc show in ra); nội dung đã đổi thì không phê duyệt.")
@with_app()
def approve(app: App, actor: Actor, announcement_id: int, shown_hash: str | None) -> None:
    """Phê duyệt (người khác với người viết, sửa, dịch) và xếp lịch các lượt phát."""
    from scheduler import announcements
    from scheduler.record.db import write_session
    approver = actor.person("approve")
    with write_session(app.ready_engine()) as session:
        ann = announcements.get(session, announcement_id)
        deliveries = announcements.approve(session, config=app.config, ann=ann, approver=approver, now=app.now(),
                                           shown_hash=shown_hash)
        approval = announcements.current_approval(session, ann)
    if ann.evergreen:
        result = "tin dùng lại đã vào thư viện; hệ thống tự xếp nó vào khung giờ trống khi cần"
    else:
        result = f"{len(deliveries)} lượt phát đã được xếp lịch"
    click.echo(f"Đã phê duyệt thông báo {announcement_id}: {result}.")
    click.echo(f"  Nội dung đã phê duyệt: {approval.content_hash}")


def _simple_action(name: str, help_text: str, action: Callable[..., Any], done: str,
                   reason: bool = False) -> None:
    @click.argument("announcement_id", type=ROW_ID, metavar="ID")
    @with_app()
    def command(app: App, actor: Actor, announcement_id: int, **kw: Any) -> None:
        from scheduler import announcements
        from scheduler.record.db import write_session
        person = actor.person(name)
        with write_session(app.ready_engine()) as session:
            ann = announcements.get(session, announcement_id)
            result = action(announcements, session, app, ann, person, kw.get("reason") or "")
        click.echo(done.format(id=announcement_id, result=result))

    command.__doc__ = help_text
    if reason:
        command = click.option("--reason", required=name == "reject", help="Lý do.")(command)
    cli.command(name)(command)


_simple_action("submit", "Gửi thông báo đi thẩm định.",
               lambda core, s, app, ann, actor, _: core.submit(s, ann=ann, actor=actor, now=app.now()),
               "Đã gửi duyệt thông báo {id}.")
_simple_action("reject", "Từ chối, kèm lý do.",
               lambda core, s, app, ann, actor, why: core.reject(
                   s, ann=ann, approver=actor, reason=why, now=app.now()),
               "Đã từ chối thông báo {id}.", reason=True)
_simple_action("cancel", "Hủy thông báo và các lượt phát chưa gửi.",
               lambda core, s, app, ann, actor, why: core.cancel(
                   s, ann=ann, actor=actor, reason=why, now=app.now()),
               "Đã hủy thông báo {id}; {result} lượt chưa gửi bị hủy.", reason=True)


@cli.command()
@click.argument("delivery")
@click.option("--posted", "url", metavar="URL", help="Bài đã có trên nền tảng, ở địa chỉ này.")
@click.option("--not-posted", is_flag=True, help="Bài không có trên nền tảng.")
@with_app()
def settle(app: App, actor: Actor, delivery: str, url: str | None, not_posted: bool) -> None:
    """Xác nhận một lượt phát mà nền tảng không trả lời được: đã đăng (kèm địa chỉ) hay chưa."""
    from scheduler.outbox import deliveries
    from scheduler.record.db import write_session

    if (url is None) == (not not_posted):
        raise InputError("--posted", "hãy chọn một: --posted ĐỊA-CHỈ-BÀI hoặc --not-posted")
    person = actor.person("settle")
    with write_session(app.ready_engine()) as session:
        found = deliveries.find(session, delivery)
        state = deliveries.settle(session, delivery=found, posted=url is not None, url=url, actor=person,
                                  now=app.now())
        ref = found.ref_code
    click.echo(f"Đã xác nhận lượt {ref}: {labels_state(state)}.")


def labels_state(state: str) -> str:
    from scheduler.labels import DELIVERY_STATE

    return DELIVERY_STATE[DeliveryState(state)].lower()


@cli.command("list")
@click.option("--status", type=click.Choice(["draft", "submitted", "approved", "rejected", "cancelled"]))
@click.option("--unit")
@fmt_option
@with_app(writes=False)
def list_(app: App, actor: Actor, status: str | None, unit: str | None, as_json: bool) -> None:
    """Danh sách thông báo."""
    from scheduler import queries
    from scheduler.record.db import read_session
    unit = actor.unit(app.config, unit, every=True)
    with read_session(app.ready_engine()) as session:
        rows = queries.announcements(session, status=status, unit=unit, now=app.now())
    emit(rows, ANNOUNCEMENT_COLUMNS, fmt="json" if as_json else "table", empty="Chưa có thông báo nào.")


@cli.command("show")
@click.argument("announcement_id", type=ROW_ID, metavar="ID")
@fmt_option
@with_app(writes=False)
def show_cmd(app: App, actor: Actor, announcement_id: int, as_json: bool) -> None:
    """Toàn bộ một thông báo: nội dung, bản dịch, phê duyệt, các lượt phát."""
    from scheduler import queries
    from scheduler.record.db import read_session
    with read_session(app.ready_engine()) as session:
        data = actor.scope.item(app.config, queries.announcement(session, announcement_id, app.now()))
    if as_json:
        click.echo(to_json(data))
        return
    from scheduler import labels
    from scheduler.clock import vn_input

    status = labels.ANNOUNCEMENT_STATUS.get(data["status"], data["status"])
    click.echo(f"{data['ref']}  [{status}]  mức: {labels.PRIORITY.get(data['priority'], data['priority'])}  "
               f"người viết: {data['author']}")
    click.echo(f"Người viết, sửa, dịch: {', '.join(data['writers'])}")
    click.echo(f"Mã nội dung (phê duyệt đúng bản này: cchc approve {data['id']} --content {data['content_hash']})")
    from channels.languages import LANGUAGE_NAMES

    repeat = f", lặp {labels.REPEAT[data['schedule']['repeat']]}" if data["schedule"]["repeat"] != "none" else ""
    click.echo(f"Kênh: {', '.join(data['channels'])} · Tiếng: "
               f"{', '.join(LANGUAGE_NAMES.get(lang, lang) for lang in data['languages'])}\n"
               f"Giờ phát: {data['schedule']['when']}{repeat}")
    click.echo(f"Tiêu đề: {data['title']}\n\n{data['body']}\n")
    for t in data["translations"]:
        click.echo(f"[{t['lang']}] {t['title']}\n{t['body']}\n" + (f"(ghi âm: {t['audio']})\n" if t["audio"] else ""))
    for p in data["approvals"]:
        void = f" (hết hiệu lực {vn_input(p['voided'])}: {p['void_reason']})" if p["voided"] else ""
        decision = labels.DECISION.get(p["decision"], p["decision"])
        click.echo(f"{decision} bởi {p['by']} lúc {vn_input(p['at'])} {p['reason'] or ''}{void}".rstrip())
    if data["deliveries"]:
        click.echo("\n" + table(data["deliveries"], ["id", "ref", "channel", "lang", "due", "state",
                                                     "attempts", "url", "error"]))
    from scheduler.plans import province

    # a province item on its communes' loudspeakers: where it played and where it did not (for the province)
    where = province.reach(app.config, data["unit"], data["deliveries"]) if actor.scope.reads(data["unit"]) else []
    if where:
        click.echo(f"\n{province.reach_summary(where)}.")
        for r in where:
            if r.outcome != "played":
                click.echo(f"  {r.name}: {r.text.lower()}{f' ({r.error})' if r.error else ''}")


@cli.command()
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True)
@click.option("--unit")
@click.option("--next", "first", is_flag=True,
              help='In ra giờ của lượt phát sắp tới nhất (YYYY-MM-DD HH:MM), để dùng trong lệnh khác: --now "$(...)".')
@fmt_option
@with_app(writes=False)
def schedule(app: App, actor: Actor, days: int, unit: str | None, first: bool, as_json: bool) -> None:
    """Các lượt phát sắp tới (và những lượt đang chờ gửi lại hay kiểm tra lại)."""
    from scheduler import queries
    from scheduler.record.db import read_session
    now = app.now()
    unit = actor.unit(app.config, unit, every=True)
    with read_session(app.ready_engine()) as session:
        rows = queries.schedule(session, since=now, until=now + timedelta(days=days), unit=unit)
    if first:  # a retry waiting since an earlier time is listed first, but its time is not what comes next
        coming = [row["due"] for row in rows if row["due"] >= show(now)]
        if not coming:
            click.echo(f"Không có lượt phát nào trong {days} ngày tới.", err=True)
            raise SystemExit(1)
        click.echo(coming[0])
        return
    emit(rows, SCHEDULE_COLUMNS, fmt="json" if as_json else "table",
         empty=f"Không có lượt phát nào trong {days} ngày tới.")
