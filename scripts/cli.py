"""``cchc``: the command line over the core. Each command parses, builds the ``App``, calls one
core function, and turns domain errors into a one-line message and an exit code (2 for bad input,
1 for a refused action). Nothing happens at import time.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from channels.secrets import install_log_redaction, redact
from scheduler.clock import LOCAL_TZ, Clock, local_midnight, parse_local, parse_local_date, show, show_vn
from scheduler.codes import DeliveryState
from scheduler.errors import CchcError, ConfigError, InputError, RuleError
from scheduler.periods import Span, parse_period, span_at
from scheduler.text import check_language, read_text_file
from scripts.output import emit, table, to_json

if TYPE_CHECKING:  # the commands import the core when they run, so `cchc --help` loads none of it
    from scheduler import announcements
    from scheduler.app import App
    from scheduler.settings import Settings

ANNOUNCEMENT_COLUMNS = ["id", "ref", "status", "priority", "when", "repeat", "channels", "languages",
                        "delivered", "author", "title"]
SCHEDULE_COLUMNS = ["due", "ref", "channel", "lang", "origin", "state", "attempts", "next_attempt", "error"]
LOG_COLUMNS = ["time", "ref", "channel", "lang", "origin", "action", "outcome", "http", "ms", "state", "remote_id",
               "message"]


ROW_ID = click.IntRange(1, 2**63 - 1)  # what a database row id can be: a larger number names nothing


class CchcGroup(click.Group):
    """Maps domain errors to a clean message and exit code; never shows a traceback for them.

    Usage errors (an unknown command, a missing option, a value of the wrong kind) are said in
    Vietnamese on one line, exit code 2, instead of click's English usage block.
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.UsageError as exc:
            click.echo(f"Lỗi: {usage_vi(exc)}", err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("Đã dừng.", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            click.echo(f"Lỗi: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CchcError as exc:
            for line in redact(str(exc)).splitlines():
                click.echo(f"Lỗi: {line}", err=True)
            ctx.exit(exc.exit_code)
        except Exception as exc:
            import sqlalchemy.exc  # loaded already: only a command that reached the database raises it

            if not isinstance(exc, sqlalchemy.exc.OperationalError):
                raise
            click.echo(f"Lỗi: không làm việc được với cơ sở dữ liệu: {redact(str(exc.orig).splitlines()[0])}",
                       err=True)
            ctx.exit(1)


def usage_vi(exc: click.UsageError) -> str:
    """click's usage error as one Vietnamese line, with the help to ask for."""
    command = exc.ctx.command_path if exc.ctx else "cchc"
    hint = f"; xem: {command} --help"
    if isinstance(exc, click.NoSuchOption):
        return f"không có tùy chọn {exc.option_name}{hint}"
    if isinstance(exc, click.MissingParameter) and exc.param is not None:
        name = exc.param.opts[0] if exc.param.param_type_name == "option" else exc.param.human_readable_name
        return f"thiếu {'tùy chọn' if exc.param.param_type_name == 'option' else 'giá trị'} {name}{hint}"
    if isinstance(exc, click.BadParameter):
        param = exc.param
        where = (param.opts[0] if param.param_type_name == "option" else param.human_readable_name) if param \
            else exc.param_hint or ""
        if isinstance(where, list | tuple):
            where = where[0]
        return f"giá trị không hợp lệ cho {where}: {_click_reason(exc.message)}{hint}"
    message = exc.message
    if message.startswith("No such command"):
        name = message.split("'")[1] if "'" in message else ""
        return f"không có lệnh '{name}'{hint}"
    if message.startswith("Got unexpected extra argument"):
        return f"thừa giá trị: {message.split('(')[-1].rstrip(')')}{hint}"
    if message.startswith("Missing command"):
        return f"thiếu tên lệnh{hint}"
    return f"lệnh viết chưa đúng ({message}){hint}"


def _click_reason(message: str) -> str:
    """click's reasons for a bad value, in Vietnamese where they are the usual ones."""
    if "is not a valid integer" in message:
        return "cần một số nguyên"
    if "is not in the range" in message:
        return "số nằm ngoài khoảng cho phép (" + message.split("range ")[-1].rstrip(".") + ")"
    if "is not one of" in message:
        return "cần một trong: " + message.split("is not one of ")[-1].rstrip(".")
    return message


def _setup_logging(settings: Settings, default: int) -> None:
    explicit = "CCHC_LOG_LEVEL" in os.environ
    level = getattr(logging, settings.log_level.upper(), logging.INFO) if explicit else default
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    # Both libraries narrate every migration step and every job run at INFO: keep the log for our events.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    install_log_redaction()


def with_app(log_level: int = logging.WARNING, *, writes: bool = True, acting: bool = True) -> Callable:
    """Add ``--now``, ``--user`` and ``--scratch`` to a command and hand it a built ``App`` and the user.

    ``writes``: the command changes the database, so ``--now`` is refused on real data
    (``scheduler.scratch``); a read-only command may look from any time. ``acting=False``: the
    command has its own ``--user`` (a filter), and gets None as the acting user.
    """

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, now_text: str | None, scratch: bool, **kwargs: Any) -> Any:
            from scheduler.app import App
            from scheduler.settings import Settings
            user = kwargs.pop("user", None) if acting else None
            settings = Settings()
            _setup_logging(settings, log_level)
            clock = Clock.starting_at(parse_local(now_text, "--now")) if now_text else Clock()
            app = _scratch_app(settings, clock) if scratch else App(settings, clock)
            app.trial_time = bool(now_text)
            if writes and now_text:
                app.refuse_trial_time()
            return func(app, (user or settings.user or "").strip() or None, *args, **kwargs)

        wrapper = click.option("--scratch", is_flag=True, envvar="CCHC_SCRATCH",
                               help="Làm trên bản thử (data/scratch), không đụng tới dữ liệu thật.")(wrapper)
        if acting:
            wrapper = click.option("--user", envvar="CCHC_USER",
                                   help="Người thực hiện (hoặc biến môi trường CCHC_USER).")(wrapper)
        return click.option("--now", "now_text", metavar='"YYYY-MM-DD HH:MM"',
                            help="Làm như thể bây giờ là thời điểm này (giờ Việt Nam); lệnh thay đổi dữ liệu "
                                 "chỉ nhận --now khi thử (--scratch).")(wrapper)

    return decorate


def _scratch_app(settings: Settings, clock: Clock) -> App:
    """The App of the scratch copy, made from the real data the first time."""
    from scheduler import scratch
    from scheduler.app import App

    real = App(settings, clock)
    place, made = scratch.ensure(settings, real.engine, clock.now())
    real.engine.dispose()
    note = "vừa sao chép từ dữ liệu thật; " if made else ""
    click.echo(f"(bản thử {place}: {note}dữ liệu thật không bị thay đổi)", err=True)
    return App(scratch.scratch_settings(settings), clock, scratch=True)


def need_user(app: App, user: str | None, action: str) -> str:
    """The person acting: ``--user`` or ``CCHC_USER``, an active account allowed to ``action`` once
    accounts exist (``scheduler.users.acting``)."""
    from scheduler import users
    from scheduler.db import read_session

    if not user:
        raise InputError("--user", "hãy cho biết bạn là ai: thêm --user TÊN hoặc đặt biến CCHC_USER")
    with read_session(app.ready_engine()) as session:
        return users.acting(session, user, action)


def fmt_option(func: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="In ra dạng JSON.")(func)


@click.group(cls=CchcGroup)
@click.version_option(package_name="cchc-broadcast")
def cli() -> None:
    """cchc: lên lịch và phát thông tin cải cách hành chính (CCHC) trên mọi kênh."""


# -- set-up -----------------------------------------------------------------------------------


@cli.command()
@click.option("--samples", "with_samples", is_flag=True,
              help="Nạp thêm các thông báo mẫu (đã gửi duyệt) để thử.")
@click.option("--practice", is_flag=True,
              help="Cơ sở dữ liệu để thử và kiểm thử: mọi lệnh nhận --now. Không dùng cho dữ liệu thật.")
@with_app(writes=False)
def init(app: App, user: str | None, with_samples: bool, practice: bool) -> None:
    """Tạo hoặc nâng cấp cơ sở dữ liệu và nạp cấu hình (chạy lại không thay đổi gì)."""
    from sqlmodel import select

    from scheduler import catalog, samples, scratch
    from scheduler.db import migrate, read_session, write_session
    from scheduler.models import Announcement

    config = app.config
    migrate(app.engine)
    if practice:
        with read_session(app.engine) as session:
            used = session.exec(select(Announcement.id).limit(1)).first() is not None
        if used and not scratch.is_practice(app.engine):
            raise RuleError("cơ sở dữ liệu này đã có thông báo thật; không đổi nó thành cơ sở dữ liệu thử được. "
                            "Hãy dùng --scratch, hoặc CCHC_DATA_DIR / CCHC_DATABASE_URL khác cho bản thử")
        scratch.mark_practice(app.engine, app.now())
    app.refuse_trial_time()
    with write_session(app.engine) as session:
        changes = catalog.sync(session, config)
        created = []
        if with_samples:
            created = samples.load(session, config=config, now=app.now(),
                                   recordings=app.settings.data_dir / "recordings")
    for line in changes:
        click.echo(f"  {line}")
    for ann in created:
        click.echo(f"  sample announcement {ann.id} ({ann.ref_code}) queued and submitted: {ann.title}")
    kind = " (practice: --now allowed)" if practice or app.scratch else ""
    click.echo(f"Database ready at {app.engine.url.render_as_string(hide_password=True)}{kind}; "
               f"{len(changes) + len(created)} change(s).")


@cli.command("scratch")
@click.option("--reset", is_flag=True, help="Bỏ bản thử cũ và sao chép lại từ dữ liệu thật.")
def scratch_cmd(reset: bool) -> None:
    """Bản thử (data/scratch): nơi thử mọi lệnh với --scratch, kể cả --now, không đụng tới dữ liệu thật."""
    from scheduler import scratch
    from scheduler.app import App
    from scheduler.settings import Settings

    settings = Settings()
    app = App(settings)
    place, made = scratch.ensure(settings, app.engine, app.now(), reset=reset)
    app.engine.dispose()
    state = "vừa sao chép từ dữ liệu thật" if made else "đã có (thêm --reset để sao chép lại)"
    click.echo(f"Bản thử: {place} ({state}).")
    click.echo("Thêm --scratch vào mỗi lệnh (hoặc đặt CCHC_SCRATCH=1) để làm trên bản thử, ví dụ:")
    click.echo('  cchc schedule --scratch            (giờ các lượt đang chờ)')
    click.echo('  cchc dispatch --once --scratch --now "YYYY-MM-DD HH:MM"')


@cli.group("config", cls=CchcGroup)
def config_group() -> None:
    """Cấu hình trong thư mục config/."""


@config_group.command("check")
@with_app(writes=False)
def config_check(app: App, user: str | None) -> None:
    """Kiểm tra mọi tệp cấu hình và báo mọi lỗi (tệp, dòng, điều cần sửa)."""
    config = app.config
    problems = [f"kênh {name}: {problem}" for name, channel in app.channels.items()
                for problem in channel.secret_problems()]
    if problems:
        raise ConfigError(problems)
    click.echo(f"Cấu hình hợp lệ ({config.directory}): {len(config.units)} đơn vị, {len(config.plans)} kế hoạch, "
               f"{len(config.channels)} kênh, {len(config.samples)} thông báo mẫu.")


@cli.group("plan", cls=CchcGroup)
def plan_group() -> None:
    """Kế hoạch tuyên truyền CCHC."""


@plan_group.command("show")
@click.option("--unit", help="Mã đơn vị (mặc định: đơn vị mặc định trong config/units.toml).")
@fmt_option
@with_app(writes=False)
def plan_show(app: App, user: str | None, unit: str | None, as_json: bool) -> None:
    """Xem kế hoạch của đơn vị: các nội dung (mục a, b, ...) và chỉ tiêu."""
    from scheduler import queries
    from scheduler.db import read_session
    unit = unit or app.config.default_unit
    with read_session(app.ready_engine()) as session:
        plans = queries.plan(session, unit)
    if not plans:
        raise InputError("--unit", f"đơn vị '{unit}' chưa có kế hoạch; các đơn vị: {', '.join(app.config.units)}")
    if as_json:
        click.echo(json.dumps(plans, ensure_ascii=False, indent=2))
        return
    for p in plans:
        click.echo(f"{p['title']} ({p['id']})\n{p['decision']}")
        if p["issued"] or p["effective"]:
            click.echo(f"Ban hành {_day(p['issued'])}; áp dụng từ {_day(p['effective'] or p['issued'])}")
        click.echo("\nNội dung:")
        for t in p["topics"]:
            click.echo(f"  {t['code']}) [{t['clause']}] {t['text']}")
        click.echo("\nChỉ tiêu:")
        for t in p["targets"]:
            about = f"; chỉ mục {', '.join(t['topics'])}" if t["topics"] else ""
            about += f"; không tính mục {', '.join(t['exclude_topics'])}" if t["exclude_topics"] else ""
            click.echo(f"  [{t['clause']}] ít nhất {t['minimum']} / {t['period']} trên {t['channel']} "
                       f"({', '.join(t['languages'])}{about}): {t['description']}")


def _day(iso: str | None) -> str:
    """``2025-08-01`` as staff write it: 01/08/2025."""
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}" if iso else "(chưa ghi)"


@plan_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--unit", help="Đơn vị của kế hoạch (mặc định: đơn vị mặc định).")
@click.option("--id", "plan_id", help="Mã kế hoạch (mặc định: <đơn vị>-<năm>).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Ghi đề xuất vào tệp này (mặc định: in ra màn hình). Không ghi đè tệp đã có.")
@with_app(writes=False)
def plan_import(app: App, user: str | None, file: Path, unit: str | None, plan_id: str | None,
                out: Path | None) -> None:
    """Đọc văn bản kế hoạch (tệp .txt) và đề xuất tệp cấu hình kế hoạch: các mục nội dung và chỉ tiêu."""
    from scheduler.plan_import import propose, to_toml

    unit = unit or app.config.default_unit
    if unit not in app.config.units:
        raise InputError("--unit", f"không có đơn vị '{unit}'; các đơn vị: {', '.join(sorted(app.config.units))}")
    proposal = propose(read_text_file(file, "FILE"), config=app.config, unit=unit)
    if proposal.year is None:
        raise InputError("FILE", "không tìm thấy năm của kế hoạch (\"năm 20..\") trong văn bản")
    text = to_toml(proposal, plan_id=plan_id or f"{unit}-{proposal.year}", unit=unit, source=file.name)
    if out is None:
        click.echo(text)
    elif out.exists():
        raise InputError("--out", f"tệp '{out}' đã có; hãy chọn tên khác (đề xuất không ghi đè kế hoạch đã có)")
    else:
        out.write_text(text, encoding="utf-8")
    click.echo(f"Đề xuất {len(proposal.topics)} mục nội dung, {len(proposal.targets)} chỉ tiêu:", err=True)
    for key, t in proposal.targets.items():
        click.echo(f"  {key}: [{t['clause']}] ít nhất {t['minimum']}/{t['period']} trên {t['channel']} "
                   f"({', '.join(t['languages'])})", err=True)
    for note in proposal.notes:
        click.echo(f"  Lưu ý: {note}", err=True)
    if out is not None:
        click.echo(f"Đã ghi {out}. Hãy đọc lại với văn bản gốc, đặt vào config/plans/ rồi chạy: cchc config check",
                   err=True)


# -- announcements ----------------------------------------------------------------------------


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
@click.option("--unit", help="Đơn vị (mặc định: đơn vị mặc định).")
@click.option("--submit", "submit_now", is_flag=True, help="Gửi duyệt ngay sau khi tạo.")
@with_app()
def queue(app: App, user: str | None, submit_now: bool, **fields: Any) -> None:
    """Tạo một thông báo mới (in ra mã số của nó)."""
    from scheduler import announcements
    from scheduler.db import write_session
    author = need_user(app, user, "queue")
    draft = _draft(**fields)
    with write_session(app.ready_engine()) as session:
        ann = announcements.create(session, config=app.config, draft=draft, author=author, now=app.now())
        if submit_now:
            announcements.submit(session, ann=ann, actor=author, now=app.now())
    click.echo(ann.id)
    hint = "đã gửi duyệt" if submit_now else f"nháp; gửi duyệt bằng: cchc submit {ann.id}"
    click.echo(f"Đã tạo thông báo {ann.id} ({ann.ref_code}): {hint}", err=True)


@cli.command()
@click.argument("announcement_id", type=ROW_ID, metavar="ID")
@content_options
@with_app()
def edit(app: App, user: str | None, announcement_id: int, **fields: Any) -> None:
    """Sửa một thông báo (phê duyệt trước đó mất hiệu lực)."""
    from scheduler import announcements
    from scheduler.db import write_session
    actor = need_user(app, user, "edit")
    draft = _draft(**fields)
    with write_session(app.ready_engine()) as session:
        ann = announcements.get(session, announcement_id)
        notes = announcements.edit(session, config=app.config, ann=ann, draft=draft, actor=actor, now=app.now())
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
def translate(app: App, user: str | None, announcement_id: int, lang: str, title: str | None,
              body: str | None, body_file: str | None, audio: Path | None) -> None:
    """Thêm hoặc thay bản dịch tiếng Thái / tiếng Mông (kèm ghi âm nếu có)."""
    from scheduler import announcements
    from scheduler.db import write_session
    translator = need_user(app, user, "translate")
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
def approve(app: App, user: str | None, announcement_id: int, shown_hash: str | None) -> None:
    """Phê duyệt (người khác với người viết, sửa, dịch) và xếp lịch các lượt phát."""
    from scheduler import announcements
    from scheduler.db import write_session
    actor = need_user(app, user, "approve")
    with write_session(app.ready_engine()) as session:
        ann = announcements.get(session, announcement_id)
        deliveries = announcements.approve(session, config=app.config, ann=ann, approver=actor, now=app.now(),
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
    def command(app: App, user: str | None, announcement_id: int, **kw: Any) -> None:
        from scheduler import announcements
        from scheduler.db import write_session
        actor = need_user(app, user, name)
        with write_session(app.ready_engine()) as session:
            ann = announcements.get(session, announcement_id)
            result = action(announcements, session, app, ann, actor, kw.get("reason") or "")
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
def settle(app: App, user: str | None, delivery: str, url: str | None, not_posted: bool) -> None:
    """Xác nhận một lượt phát mà nền tảng không trả lời được: đã đăng (kèm địa chỉ) hay chưa."""
    from scheduler import deliveries
    from scheduler.db import write_session

    if (url is None) == (not not_posted):
        raise InputError("--posted", "hãy chọn một: --posted ĐỊA-CHỈ-BÀI hoặc --not-posted")
    actor = need_user(app, user, "settle")
    with write_session(app.ready_engine()) as session:
        found = deliveries.find(session, delivery)
        state = deliveries.settle(session, delivery=found, posted=url is not None, url=url, actor=actor,
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
def list_(app: App, user: str | None, status: str | None, unit: str | None, as_json: bool) -> None:
    """Danh sách thông báo."""
    from scheduler import queries
    from scheduler.db import read_session
    with read_session(app.ready_engine()) as session:
        rows = queries.announcements(session, status=status, unit=unit)
    emit(rows, ANNOUNCEMENT_COLUMNS, fmt="json" if as_json else "table", empty="Chưa có thông báo nào.")


@cli.command("show")
@click.argument("announcement_id", type=ROW_ID, metavar="ID")
@fmt_option
@with_app(writes=False)
def show_cmd(app: App, user: str | None, announcement_id: int, as_json: bool) -> None:
    """Toàn bộ một thông báo: nội dung, bản dịch, phê duyệt, các lượt phát."""
    from scheduler import queries
    from scheduler.db import read_session
    with read_session(app.ready_engine()) as session:
        data = queries.announcement(session, announcement_id)
    if as_json:
        click.echo(to_json(data))
        return
    click.echo(f"{data['ref']}  [{data['status']}]  ưu tiên: {data['priority']}  người viết: {data['author']}")
    click.echo(f"Người viết, sửa, dịch: {', '.join(data['writers'])}")
    click.echo(f"Mã nội dung (phê duyệt đúng bản này: cchc approve {data['id']} --content {data['content_hash']})")
    click.echo(f"Tiêu đề: {data['title']}\n\n{data['body']}\n")
    for t in data["translations"]:
        click.echo(f"[{t['lang']}] {t['title']}\n{t['body']}\n" + (f"(ghi âm: {t['audio']})\n" if t["audio"] else ""))
    for p in data["approvals"]:
        void = f" (hết hiệu lực {p['voided']}: {p['void_reason']})" if p["voided"] else ""
        click.echo(f"{p['decision']} bởi {p['by']} lúc {p['at']} {p['reason']}{void}")
    if data["deliveries"]:
        click.echo("\n" + table(data["deliveries"], ["id", "ref", "channel", "lang", "due", "state",
                                                     "attempts", "url", "error"]))


@cli.command()
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True)
@click.option("--unit")
@fmt_option
@with_app(writes=False)
def schedule(app: App, user: str | None, days: int, unit: str | None, as_json: bool) -> None:
    """Các lượt phát sắp tới (và những lượt đang chờ gửi lại hay kiểm tra lại)."""
    from scheduler import queries
    from scheduler.db import read_session
    now = app.now()
    with read_session(app.ready_engine()) as session:
        rows = queries.schedule(session, since=now, until=now + timedelta(days=days), unit=unit)
    emit(rows, SCHEDULE_COLUMNS, fmt="json" if as_json else "table",
         empty=f"Không có lượt phát nào trong {days} ngày tới.")


# -- running ----------------------------------------------------------------------------------


@cli.command()
@with_app(log_level=logging.INFO)
def run(app: App, user: str | None) -> None:
    """Chạy dịch vụ: gửi các lượt đến hạn theo lịch, cho đến khi Ctrl-C hoặc SIGTERM."""
    from scheduler.service import run as run_service

    run_service(app)


@cli.command()
@click.option("--host", help="Địa chỉ nghe (mặc định CCHC_WEB_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Cổng (mặc định CCHC_WEB_PORT, 8090).")
@with_app(log_level=logging.INFO)
def web(app: App, user: str | None, host: str | None, port: int | None) -> None:
    """Chạy riêng ứng dụng web cho cán bộ (soạn, duyệt, xem lịch và nhật ký phát)."""
    from scheduler.web.server import server

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
    return click.prompt("Mật khẩu", hide_input=True, confirmation_prompt="Nhập lại mật khẩu")


def _manager(app: App, user: str | None) -> str:
    from scheduler import users
    from scheduler.db import read_session

    with read_session(app.ready_engine()) as session:
        return users.managing(session, user)


@user_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["editor", "approver", "admin"]),
              help="editor: soạn; approver: soạn và duyệt bài của người khác; admin: toàn quyền.")
@click.option("--password-stdin", "from_stdin", is_flag=True, help="Đọc mật khẩu từ đầu vào chuẩn (một dòng).")
@with_app()
def user_add(app: App, user: str | None, name: str, role: str, from_stdin: bool) -> None:
    """Tạo tài khoản; mật khẩu được hỏi (không hiện khi gõ) hoặc đọc từ đầu vào chuẩn."""
    from scheduler import users
    from scheduler.db import write_session

    actor = _manager(app, user)
    password = _password(from_stdin)
    with write_session(app.ready_engine()) as session:
        added = users.add_user(session, name=name, role=role, password=password, actor=actor, now=app.now())
    click.echo(f"Đã tạo tài khoản {added.name} ({role}).")


@user_group.command("list")
@fmt_option
@with_app(writes=False)
def user_list(app: App, user: str | None, as_json: bool) -> None:
    """Các tài khoản: vai trò, đang hoạt động hay đã khóa, số phiên đăng nhập đang mở."""
    from scheduler import labels, users
    from scheduler.db import read_session

    with read_session(app.ready_engine()) as session:
        rows = users.list_users(session, app.now())
    shown = [{**row, "role": labels.ROLE[row["role"]], "active": "hoạt động" if row["active"] else "đã khóa",
              "created": show_vn(row["created"], time=False)} for row in rows]
    emit(rows if as_json else shown, ["name", "role", "active", "sessions", "created"],
         fmt="json" if as_json else "table", empty="Chưa có tài khoản nào; tạo bằng: cchc user add TÊN --role admin")


@user_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", "from_stdin", is_flag=True, help="Đọc mật khẩu mới từ đầu vào chuẩn (một dòng).")
@with_app()
def user_passwd(app: App, user: str | None, name: str, from_stdin: bool) -> None:
    """Đặt mật khẩu mới cho một tài khoản; các phiên đăng nhập của nó kết thúc ngay."""
    from scheduler import users
    from scheduler.db import write_session

    actor = _manager(app, user)
    password = _password(from_stdin)
    with write_session(app.ready_engine()) as session:
        changed = users.set_password(session, name=name, password=password, actor=actor, now=app.now())
    click.echo(f"Đã đổi mật khẩu của {changed.name}; các phiên đăng nhập cũ đã kết thúc.")


def _set_active(name: str, active: bool, help_text: str) -> None:
    @click.argument("name")
    @with_app()
    def command(app: App, user: str | None, name: str) -> None:
        from scheduler import users
        from scheduler.db import write_session

        actor = _manager(app, user)
        with write_session(app.ready_engine()) as session:
            changed = users.set_active(session, name=name, active=active, actor=actor, now=app.now())
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
def user_sessions(app: App, user: str | None, name: str, revoke: bool) -> None:
    """Các phiên đăng nhập đang mở của một tài khoản; --revoke để kết thúc tất cả."""
    from scheduler import users
    from scheduler.db import read_session, write_session

    if revoke:
        app.refuse_trial_time()
        actor = _manager(app, user)
        with write_session(app.ready_engine()) as session:
            ended = users.revoke_sessions(session, name=name, actor=actor, now=app.now())
        click.echo(f"Đã kết thúc {ended} phiên đăng nhập của {name}.")
        return
    with read_session(app.ready_engine()) as session:
        rows = users.open_sessions(session, name=name, now=app.now())
    if not rows:
        click.echo(f"{name} không có phiên đăng nhập nào đang mở.")
    for row in rows:
        click.echo(f"  từ {show_vn(row.created_at)} đến {show_vn(row.expires_at)}")


@cli.command()
@click.option("--since", "since_text", metavar="YYYY-MM-DD[ HH:MM]")
@click.option("--until", "until_text", metavar="YYYY-MM-DD[ HH:MM]")
@click.option("--user", "who", help="Chỉ việc của người này (tên đăng nhập, hoặc cchc-fill...).")
@click.option("--action", help="Chỉ một loại việc, ví dụ approve, edit, login-failed, channel-hold.")
@click.option("--subject", help="Chỉ một đối tượng, ví dụ announcement:12, user:lan, channel:muong-la-zalo.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@fmt_option
@with_app(writes=False, acting=False)
def audit(app: App, user: str | None, since_text: str | None, until_text: str | None, who: str | None,
          action: str | None, subject: str | None, limit: int, as_json: bool) -> None:
    """Nhật ký thao tác: ai làm gì, với thông báo, tài khoản hay kênh nào, lúc nào (mới nhất trước)."""
    from scheduler import audit as trail
    from scheduler import labels
    from scheduler.db import read_session

    with read_session(app.ready_engine()) as session:
        rows = trail.events(session, since=_moment(since_text, "--since"),
                            until=_moment(until_text, "--until", end_of_day=True), actor=who, action=action,
                            subject=subject, limit=limit)
    data = [{"at": show_vn(e.at), "actor": e.actor, "action": e.action, "subject": e.subject, "detail": e.detail}
            for e in rows]
    if as_json:
        click.echo(to_json(data))
        return
    shown = [{**row, "actor": labels.actor(row["actor"]), "action": labels.AUDIT_ACTION.get(row["action"],
                                                                                            row["action"]),
              "detail": ", ".join(f"{k}={v}" for k, v in row["detail"].items())} for row in data]
    emit(shown, ["at", "actor", "action", "subject", "detail"], fmt="table", empty="Không có thao tác nào.")


@cli.command()
@click.option("--once", is_flag=True, help="Xử lý một lượt những gì đến hạn rồi thoát.")
@with_app(log_level=logging.INFO)
def dispatch(app: App, user: str | None, once: bool) -> None:
    """Gửi những lượt đến hạn một lần rồi thoát (cho cron và kiểm thử)."""
    if not once:
        raise InputError("--once", "hãy thêm --once (hoặc dùng 'cchc run' để chạy dịch vụ liên tục)")
    report = app.dispatcher().run_once()
    click.echo(f"Dispatch at {show(app.now())}: {report.summary()}")
    if any(ch.slotted for ch in app.channels.values()):
        app.broadcaster().run_due()
    from scheduler.service import check_quotas

    if warned := check_quotas(app):
        click.echo(f"{warned} cảnh báo chỉ tiêu mới (xem: cchc compliance)")


@cli.command()
@click.option("--since", "since_text", metavar="YYYY-MM-DD[ HH:MM]")
@click.option("--until", "until_text", metavar="YYYY-MM-DD[ HH:MM]")
@click.option("--channel")
@click.option("--status", type=click.Choice([s.value for s in DeliveryState]))
@click.option("--lang")
@click.option("--limit", type=click.IntRange(1), help="Số dòng tối đa.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@fmt_option
@with_app(writes=False)
def logs(app: App, user: str | None, since_text: str | None, until_text: str | None, channel: str | None,
         status: str | None, lang: str | None, limit: int | None, fmt: str, as_json: bool) -> None:
    """Nhật ký phát: mọi lần gửi và kiểm tra lại, với kết quả."""
    from scheduler import queries
    from scheduler.db import read_session
    if lang:
        check_language(lang)
    if channel and channel not in app.config.channels:
        raise InputError("--channel", f"không có kênh '{channel}'; các kênh: {', '.join(app.config.channels)}")
    since = _moment(since_text, "--since")
    until = _moment(until_text, "--until", end_of_day=True)
    with read_session(app.ready_engine()) as session:
        rows = queries.log_rows(session, since=since, until=until, channel=channel, status=status,
                                lang=lang, limit=limit)
    emit(rows, LOG_COLUMNS, fmt="json" if as_json else fmt, empty="Nhật ký trống với bộ lọc này.")


# -- loudspeaker ------------------------------------------------------------------------------


@cli.command()
@click.argument("text", required=False)
@click.option("--file", "text_file", type=click.Path(dir_okay=False), help="Đọc văn bản từ tệp UTF-8.")
@with_app(writes=False)
def speech(app: App, user: str | None, text: str | None, text_file: str | None) -> None:
    """In ra văn bản mà giọng đọc sẽ đọc (ngày, số, số hiệu văn bản, chữ viết tắt đã viết ra đầy đủ)."""
    from channels.loudspeaker.speech import SpeechError, SpeechText

    content = read_text_file(text_file, "--file") if text_file else text
    if not content:
        raise InputError("TEXT", "hãy đưa văn bản cần đọc, ví dụ: cchc speech \"Ngày 01/8/2025, UBND xã...\"")
    lexicon = app.config.speech
    try:
        click.echo(SpeechText(lexicon.abbreviations, lexicon.document_codes).speak(content))
    except SpeechError as exc:
        raise InputError("TEXT", str(exc)) from None


@cli.command()
@click.argument("announcement_id", type=ROW_ID, required=False, metavar="ID")
@click.option("--text", help="Đọc văn bản này thay cho một thông báo.")
@click.option("--lang", default="vi", show_default=True, help="vi, blt hoặc hmn.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Tệp âm thanh ra (.mp3 hoặc .wav).")
@click.option("--channel", help="Kênh truyền thanh lấy thông số âm thanh (mặc định: kênh của đơn vị mặc định).")
@with_app(writes=False)
def render(app: App, user: str | None, announcement_id: int | None, text: str | None, lang: str, out: Path,
           channel: str | None) -> None:
    """Nghe thử: đọc một thông báo hoặc một đoạn văn bản thành tệp âm thanh, cho biết giọng nào đã đọc."""
    from channels.loudspeaker.tts import NoVoice
    from scheduler import queries
    from scheduler.db import read_session

    check_language(lang)
    if (announcement_id is None) == (text is None):
        raise InputError("ID/--text", "hãy đưa mã thông báo HOẶC --text \"văn bản\" (chỉ một trong hai)")
    if out.suffix.lower() not in (".mp3", ".wav"):
        raise InputError("--out", "tên tệp ra phải kết thúc bằng .mp3 hoặc .wav")
    name = app.loudspeaker(channel)
    recording = None
    if announcement_id is not None:
        with read_session(app.ready_engine()) as session:
            text, recording = queries.spoken_version(session, announcement_id, lang)
    try:
        clip = app.broadcaster().listen(name, text or "", lang, recording, out)
    except NoVoice as exc:
        raise InputError("--lang" if recording is None and lang != "vi" else "TEXT", str(exc)) from None
    click.echo(f"Voiced by: {clip.engine} ({clip.voice}){' [from cache]' if clip.cached else ''}")
    click.echo(f"Length: {clip.duration_ms / 1000:.1f} s -> {out}")
    if lang == "vi":
        click.echo(f"Speech text: {clip.speech_text}")


@cli.command()
@click.option("--channel", help="Kênh truyền thanh (mặc định: kênh của đơn vị mặc định).")
@click.option("--slot", "slot_text", required=True, metavar='"YYYY-MM-DD HH:MM"', help="Khung giờ phát.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Ghi chương trình ra tệp MP3 này.")
@click.option("--build", is_flag=True,
              help="Dựng thật như dịch vụ sẽ làm trước giờ phát (ghi nhật ký, dời tin không vừa).")
@fmt_option
@with_app(writes=False)
def programme(app: App, user: str | None, channel: str | None, slot_text: str, out: Path | None, build: bool,
              as_json: bool) -> None:
    """Xem trước (hoặc dựng) chương trình phát của một khung giờ: thứ tự, thời lượng, giọng đọc."""
    from scheduler import queries
    name = app.loudspeaker(channel)
    slot_at = parse_local(slot_text, "--slot")
    slots = app.channels[name].settings.slots
    if show(slot_at)[-5:] not in slots:
        raise InputError("--slot", f"{show(slot_at)[-5:]} không phải khung giờ của kênh {name}; "
                                   f"các khung giờ: {', '.join(slots)}")
    if out is not None and out.suffix.lower() != ".mp3":
        raise InputError("--out", "tên tệp ra phải kết thúc bằng .mp3")
    if build:  # building records the slot: not "as if it were another time" on real data
        app.refuse_trial_time()
    broadcaster = app.broadcaster()
    if not build and out is None:
        out = app.settings.data_dir / "cache" / "preview" / f"{name}.mp3"
    from channels.loudspeaker.playout import PlayoutError

    try:
        prepared = broadcaster.prepare(name, slot_at, dry_run=not build, out=out)
    except PlayoutError as exc:  # e.g. --build for a slot that has already played
        raise RuleError(str(exc)) from None
    rows = [{"at": queries.minutes(p["start_ms"]), "ref": p["ref_code"], "lang": p["lang"], "engine": p["engine"],
             "length": queries.minutes(p["duration_ms"]), "title": p["title"]} for p in prepared.parts]
    if as_json:
        click.echo(to_json({"channel": name, "slot": show(slot_at), "length": queries.minutes(prepared.duration_ms),
                            "file": str(prepared.path or ""), "parts": rows, "notes": prepared.notes}))
        return
    click.echo(f"Programme {name} {show(slot_at)} ({'built' if build else 'preview'}): "
               f"{queries.minutes(prepared.duration_ms)}, {len(rows)} parts")
    if rows:
        click.echo(table(rows, ["at", "ref", "lang", "engine", "length", "title"]))
        click.echo(f"File: {prepared.path}")
    else:
        click.echo("Không có tin nào đến hạn trong khung giờ này.")
    for note in prepared.notes:
        click.echo(f"  - {note}")


@cli.command()
@click.option("--date", "date_text", metavar="YYYY-MM-DD", help="Ngày (mặc định: hôm nay).")
@click.option("--channel")
@fmt_option
@with_app(writes=False)
def asrun(app: App, user: str | None, date_text: str | None, channel: str | None, as_json: bool) -> None:
    """Nhật ký phát thanh: từng khung giờ, giờ bắt đầu và kết thúc thực tế, tin và ngôn ngữ đã phát."""
    from scheduler import queries
    from scheduler.db import read_session
    day = parse_local_date(date_text, "--date") if date_text else app.now().astimezone(LOCAL_TZ).date()
    if channel:
        app.loudspeaker(channel)
    with read_session(app.ready_engine()) as session:
        rows = queries.as_run(session, since=local_midnight(day), until=local_midnight(day + timedelta(days=1)),
                              channel=channel)
    if as_json:
        click.echo(to_json(rows))
        return
    if not rows:
        click.echo(f"Chưa có khung giờ nào trong nhật ký phát ngày {day:%d/%m/%Y}.")
        return
    click.echo(table(rows, ["slot", "channel", "kind", "status", "started", "ended", "delay_s", "length",
                            "played", "message"]))
    for row in rows:
        if row["parts"] or row["notes"]:
            click.echo(f"\n{row['slot']} {row['channel']}:")
        for part in row["parts"]:
            mark = "đã phát" if part["played"] else "chưa phát"
            click.echo(f"  {part['at']:>6} {part['ref']:<16} {part['lang']:<4} {part['engine']:<10} "
                       f"{part['length']:>6} {mark}  {part['title'][:50]}")
        for note in row["notes"]:
            click.echo(f"  - {note}")


# -- channels ---------------------------------------------------------------------------------


@cli.command()
@click.argument("announcement_id", type=ROW_ID, metavar="ID")
@click.option("--channel", required=True, help="Tên kênh (xem config/channels.toml).")
@click.option("--lang", default="vi", show_default=True, help="vi, blt hoặc hmn.")
@with_app(writes=False)
def preview(app: App, user: str | None, announcement_id: int, channel: str, lang: str) -> None:
    """Xem đúng nội dung và yêu cầu mà một kênh sẽ gửi cho thông báo này (không gửi gì)."""
    from scheduler import queries
    from scheduler.db import read_session
    target = app.channels.get(channel)
    if target is None:
        raise InputError("--channel", f"không có kênh '{channel}'; các kênh: {', '.join(sorted(app.channels))}")
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
@with_app(writes=False)
def channel_check(app: App, user: str | None, name: str) -> None:
    """Kiểm tra thông tin xác thực và quyền của một kênh trên nền tảng; nói rõ cần sửa gì."""
    from scheduler.db import write_session
    from scheduler.dispatch import holds, release_channel

    target = app.channels.get(name)
    if target is None:
        raise InputError("NAME", f"không có kênh '{name}'; các kênh: {', '.join(sorted(app.channels))}")
    problems = [redact(p) for p in target.secret_problems() or target.check()]
    with write_session(app.ready_engine()) as session:
        reason = next((hold.reason for hold in holds(session, app.now()) if hold.channel == name), None)
        if not problems:
            release_channel(session, name, actor=user or "cli", now=app.now())
    mode = app.config.channels[name].mode
    if problems:
        click.echo(f"Kênh {name} ({target.kind}, {mode}) chưa sẵn sàng:")
        for problem in problems:
            click.echo(f"  - {problem}")
        if reason:
            click.echo(f"  Kênh đang tạm dừng gửi vì: {reason}")
        for note in target.notes():
            click.echo(f"  Lưu ý: {redact(note)}")
        raise SystemExit(1)
    click.echo(f"Kênh {name} ({target.kind}, {mode}): thông tin xác thực và quyền đều ổn.")
    if reason:
        click.echo("  Kênh đã được mở lại: các lượt đang chờ sẽ được gửi (nếu còn trong hạn).")
    for note in target.notes():
        click.echo(f"  Lưu ý: {note}")


@channel_group.command("key")
def channel_key() -> None:
    """In ra một khóa mã hoá mới, để đặt vào biến CCHC_SECRET_KEY (khóa cất mã của Zalo, TikTok)."""
    from scheduler.credentials import new_key

    click.echo(new_key())


@channel_group.command("token")
@click.argument("name")
@click.option("--refresh-token-stdin", "from_stdin", is_flag=True,
              help="Đọc mã làm mới từ đầu vào chuẩn thay vì hỏi.")
@with_app()
def channel_token(app: App, user: str | None, name: str, from_stdin: bool) -> None:
    """Nhập mã làm mới (refresh token) của kênh Zalo hoặc TikTok: mã được mã hoá rồi mới lưu, và đổi
    ngay lấy mã truy cập để biết mã dùng được."""
    from channels.tokens import TokenChannel, TokenProblem, Tokens, VaultError

    target = app.channels.get(name)
    if target is None:
        raise InputError("NAME", f"không có kênh '{name}'; các kênh: {', '.join(sorted(app.channels))}")
    if not isinstance(target, TokenChannel) or target.tokens is None:
        raise InputError("NAME", f"kênh {name} ({target.kind}) không dùng mã làm mới; thông tin xác thực của kênh "
                                 "này đặt trong biến môi trường ghi ở config/channels.toml")
    app.ready_engine()
    text = sys.stdin.readline() if from_stdin else click.prompt("Mã làm mới (refresh token)", hide_input=True)
    if not text.strip():
        raise InputError("--refresh-token-stdin", "không nhận được mã nào; hãy dán mã làm mới rồi nhấn Enter")
    try:
        stored = target.tokens.save(Tokens(access_token="", refresh_token=text.strip()))
    except VaultError as exc:
        raise InputError("CCHC_SECRET_KEY", str(exc)) from None
    try:
        fresh = target.current_tokens(force=stored)  # one renewal: proves the token, gets an access token
    except TokenProblem as exc:
        click.echo(f"Đã lưu mã nhưng nền tảng không nhận: {exc.receipt.message}", err=True)
        raise SystemExit(1) from None
    until = show(fresh.access_expires_at) if fresh.access_expires_at else "không rõ"
    click.echo(f"Đã lưu mã (mã hoá) của kênh {name}; mã truy cập mới dùng được đến {until}.")
    click.echo(f"Tiếp theo: cchc channel check {name}")


# -- plan compliance and reports ---------------------------------------------------------------

COMPLIANCE_COLUMNS = ["target", "clause", "period", "lang", "minimum", "delivered", "scheduled", "filled", "needed",
                      "status_text", "warn"]


def _period(app: App, text: str | None) -> Span:
    return parse_period(text) if text else span_at("month", app.now())


@cli.command()
@click.option("--period", "period_text", metavar="2025-09|2025-W36|2025-Q3|2025-H1|2025",
              help="Kỳ cần xem (mặc định: tháng này).")
@click.option("--unit", help="Đơn vị (mặc định: đơn vị mặc định).")
@fmt_option
@with_app(writes=False)
def compliance(app: App, user: str | None, period_text: str | None, unit: str | None, as_json: bool) -> None:
    """Tiến độ thực hiện chỉ tiêu của kế hoạch trong một kỳ: đạt, đúng tiến độ, có nguy cơ, không đạt."""
    from scheduler.compliance import evaluate
    from scheduler.db import read_session

    span = _period(app, period_text)
    with read_session(app.ready_engine()) as session:
        result = evaluate(session, app.config, unit=unit or app.config.default_unit, span=span, now=app.now())
    if as_json:
        click.echo(to_json(result.as_dict()))
        return
    _print_compliance(result)


def _print_compliance(result: Any) -> None:
    click.echo(f"{result.plan.title}\nKỳ: {result.span.title} (tính đến {show(result.now)})\n")
    rows = [{**row.as_dict(), "period": row.span.label, "warn": "CẢNH BÁO" if row.warning else ""}
            for row in result.rows]
    click.echo(table(rows, COMPLIANCE_COLUMNS, {"status_text": "status", "filled": "auto"}))
    click.echo("\nNội dung của kế hoạch (số lượt đã phát / số tin):")
    for code, info in result.topics.items():
        click.echo(f"  {code}) [{info['clause']}] {info['deliveries']} lượt / {info['announcements']} tin"
                   f"  {info['text'][:70]}")
    if result.uncovered:
        click.echo(f"Chưa có lượt nào về mục: {', '.join(result.uncovered)}")


@cli.command()
@click.option("--from", "first_text", required=True, metavar="YYYY-MM-DD", help="Ngày đầu.")
@click.option("--to", "last_text", required=True, metavar="YYYY-MM-DD", help="Ngày cuối.")
@click.option("--unit", help="Đơn vị (mặc định: đơn vị mặc định).")
@fmt_option
@with_app(writes=False)
def simulate(app: App, user: str | None, first_text: str, last_text: str, unit: str | None, as_json: bool) -> None:
    """Chạy thử lịch phát trên đồng hồ ảo (mọi kênh ở chế độ xem trước) và cho biết kế hoạch có đạt không."""
    from scheduler.simulate import simulate as run_simulation

    first, last = parse_local_date(first_text, "--from"), parse_local_date(last_text, "--to")
    if "CCHC_LOG_LEVEL" not in os.environ:  # what happens on the virtual clock is reported below, not logged
        logging.getLogger().setLevel(logging.ERROR)
    result = run_simulation(app.ready_engine(), app.config, unit=unit or app.config.default_unit,
                            first=first, last=last)
    if as_json:
        click.echo(to_json({**result.compliance.as_dict(), "sent": result.sent, "filled": result.filled,
                            "slots": result.slots, "expired": result.expired,
                            "warnings": [{"at": show(at), **row.as_dict()} for at, row in result.warnings]}))
        return
    click.echo(f"Mô phỏng {result.compliance.span.title}: {result.sent} lượt sẽ đăng, {result.slots} khung giờ "
               f"truyền thanh ({result.filled} lần tự động xếp tin dùng lại), {result.expired} lượt quá hạn.")
    click.echo("Trong mô phỏng, mọi kênh chỉ xem trước; chỉ tiêu dưới đây tính cả những lượt sẽ đăng, phát đó.")
    for at, row in result.warnings:
        click.echo(f"  {show(at)[:10]} cảnh báo: {row.key} ({row.target.clause}) {row.lang} {row.span.title}: "
                   f"còn thiếu {row.needed}")
    click.echo("Dữ liệu thật không bị thay đổi.\n")
    _print_compliance(result.compliance)


@cli.command()
@click.option("--period", "period_text", required=True, metavar="2025-Q3|2025-H1|2025|2025-09",
              help="Kỳ báo cáo: quý, 6 tháng, năm (hoặc một tháng).")
@click.option("--format", "fmt", type=click.Choice(["docx", "xlsx", "csv"]), default="docx", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Tệp kết quả (mặc định: trong data/reports/).")
@click.option("--unit", help="Đơn vị (mặc định: đơn vị mặc định).")
@with_app(writes=False)
def report(app: App, user: str | None, period_text: str, fmt: str, out: Path | None, unit: str | None) -> None:
    """Báo cáo kết quả công tác thông tin, tuyên truyền CCHC gửi Sở Nội vụ (DOCX, XLSX hoặc CSV)."""
    from scheduler import report as reports
    from scheduler.db import read_session

    span = parse_period(period_text)
    unit = unit or app.config.default_unit
    if out is not None and out.suffix.lower() != f".{fmt}":
        raise InputError("--out", f"tệp '{out.name}' không có đuôi .{fmt}; hãy đặt tên như bao-cao-{span.label}.{fmt}")
    with read_session(app.ready_engine()) as session:
        data = reports.gather(session, app.config, unit=unit, span=span, now=app.now())
    default = app.settings.data_dir / "reports" / f"bao-cao-cchc-{unit}-{span.label}.{fmt}"
    path = reports.write(data, fmt, out or default)
    summary = data.compliance.summaries
    met = sum(s.status.value == "met" for s in summary)
    click.echo(f"Đã ghi báo cáo {span.title} của {data.unit_name}: {path}")
    click.echo(f"  {met}/{len(summary)} chỉ tiêu đạt; {len(data.items)} tin, bài; "
               f"{data.problem_total} lượt không thành công hoặc khung giờ bị lỡ")


def _moment(text: str | None, field: str, end_of_day: bool = False) -> datetime | None:
    if not text:
        return None
    if len(text.strip()) <= 10:
        day = parse_local_date(text, field)
        return local_midnight(day + timedelta(days=1 if end_of_day else 0))
    return parse_local(text, field)


def main() -> None:
    cli(prog_name="cchc")


if __name__ == "__main__":
    sys.exit(main())
