"""What every command module of ``cchc`` shares: the group that turns domain errors into one
Vietnamese line and an exit code, ``with_app`` (``--now``, ``--user``, ``--scratch``, a built ``App``
and the ``Actor`` the command runs as), the ``--json`` option, column lists and the time parser of filters.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from channels.secrets import install_log_redaction, redact
from scheduler.clock import Clock, local_midnight, parse_local, parse_local_date
from scheduler.errors import CchcError, InputError

if TYPE_CHECKING:  # the commands import the core when they run, so `cchc --help` loads none of it
    from scheduler.app import App
    from scheduler.record.scope import Actor
    from scheduler.settings import Settings

ANNOUNCEMENT_COLUMNS = ["id", "ref", "status", "priority", "when", "repeat", "channels", "languages",
                        "delivered", "author", "title"]
SCHEDULE_COLUMNS = ["due", "ref", "channel", "lang", "origin", "state", "attempts", "next_attempt", "error"]
LOG_COLUMNS = ["time", "ref", "channel", "lang", "origin", "action", "outcome", "http", "ms", "state", "remote_id",
               "message"]


ROW_ID = click.IntRange(1, 2**63 - 1)  # what a database row id can be: a larger number names nothing


class VietnameseHelp(click.HelpFormatter):
    """``--help`` in Vietnamese: click writes its own words (usage, sections, the help option, defaults) in
    English; they are said here once for every command."""

    WORDS = {"Options": "Tùy chọn", "Commands": "Lệnh", "Show this message and exit.": "Xem hướng dẫn này rồi thoát.",
             "[default: ": "[mặc định: ", "default: ": "mặc định: ", "[required]": "[bắt buộc]",
             "; required]": "; bắt buộc]"}

    def _said(self, text: str) -> str:
        for english, vietnamese in self.WORDS.items():
            text = text.replace(english, vietnamese)
        return text

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        args = args.replace("[OPTIONS]", "[TÙY CHỌN]").replace("COMMAND [ARGS]...", "LỆNH [...]")
        super().write_usage(prog, args, prefix or "Cách dùng: ")

    def write_heading(self, heading: str) -> None:
        super().write_heading(self._said(heading))

    def write_dl(self, rows: Any, *args: Any, **kwargs: Any) -> None:
        super().write_dl([(term, self._said(text)) for term, text in rows], *args, **kwargs)


class CchcContext(click.Context):
    formatter_class = VietnameseHelp


class CchcCommand(click.Command):
    context_class = CchcContext


class CchcGroup(click.Group):
    """Maps domain errors to a clean message and exit code; never shows a traceback for them.

    Usage errors (an unknown command, a missing option, a value of the wrong kind) are said in
    Vietnamese on one line, exit code 2, instead of click's English usage block; ``--help`` is in
    Vietnamese too (``VietnameseHelp``), for the group and every command made from it.
    """

    context_class = CchcContext
    command_class = CchcCommand

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
        except PermissionError as exc:  # e.g. the server's configuration, which only root may change
            click.echo(f"Lỗi: không có quyền ghi hay đọc {exc.filename}; hãy chạy lệnh bằng tài khoản có quyền với tệp "
                       "đó (trên máy chủ cài bằng scripts/install.sh, thư mục /etc/cchc/config chỉ root sửa được), "
                       "rồi khởi động lại dịch vụ", err=True)
            ctx.exit(1)
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


class JsonLines(logging.Formatter):
    """One JSON object a line (``CCHC_LOG_FORMAT=json``), for journald, Zabbix or a log shipper: time in
    UTC, level, logger and message (already redacted by the handler's filter)."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        return json.dumps({"time": at, "level": record.levelname, "logger": record.name,
                           "message": record.getMessage()}, ensure_ascii=False)


def _setup_logging(settings: Settings, default: int) -> None:
    explicit = "CCHC_LOG_LEVEL" in os.environ
    level = getattr(logging, settings.log_level.upper(), logging.INFO) if explicit else default
    if settings.log_format not in ("text", "json"):
        raise InputError("CCHC_LOG_FORMAT", f"'{settings.log_format}' không dùng được; đặt text (mặc định) hoặc json")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    if settings.log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonLines())
    # Both libraries narrate every migration step and every job run at INFO: keep the log for our events.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    install_log_redaction()


def with_app(log_level: int = logging.WARNING, *, writes: bool = True, resolve: bool = True) -> Callable:
    """Add ``--now``, ``--user`` and ``--scratch`` to a command and hand it a built ``App`` and the ``Actor``.

    ``--user`` (or ``CCHC_USER``) is a staff member with the same unit and role rules as on the web
    (``scheduler.record.scope.Actor``); without it the command runs as the server's operator. ``writes``: the
    command may change the database or the configuration, so ``--now`` is refused on real data
    (``scheduler.record.scratch``); a read-only command may look from any time. ``resolve=False``: the command
    gets the name as given (``cchc init``, which must create the accounts' table before reading it).
    """

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, now_text: str | None, scratch: bool, user: str | None, **kwargs: Any) -> Any:
            from scheduler.app import App
            from scheduler.settings import Settings
            settings = Settings()
            _setup_logging(settings, log_level)
            clock = Clock.starting_at(parse_local(now_text, "--now")) if now_text else Clock()
            app = _scratch_app(settings, clock) if scratch else App(settings, clock)
            app.trial_time = bool(now_text)
            if writes and now_text:
                app.refuse_trial_time()
            name = (user or settings.user or "").strip() or None
            return func(app, actor_of(app, name) if resolve else name, *args, **kwargs)

        wrapper = click.option("--scratch", is_flag=True, envvar="CCHC_SCRATCH",
                               help="Làm trên bản thử (data/scratch), không đụng tới dữ liệu thật.")(wrapper)
        wrapper = click.option("--user", envvar="CCHC_USER",
                               help="Người thực hiện (hoặc biến môi trường CCHC_USER); không có: người quản trị "
                                    "máy chủ.")(wrapper)
        return click.option("--now", "now_text", metavar='"YYYY-MM-DD HH:MM"',
                            help="Làm như thể bây giờ là thời điểm này (giờ Việt Nam); lệnh thay đổi dữ liệu "
                                 "chỉ nhận --now khi thử (--scratch).")(wrapper)

    return decorate


def actor_of(app: App, name: str | None) -> Actor:
    """The ``Actor`` a command runs as: the account named (checked once accounts exist), or the operator."""
    from scheduler.record import scope
    from scheduler.record.db import read_session

    if not name:
        return scope.Actor(None, None, scope.everything(app.config))
    with read_session(app.ready_engine()) as session:
        return scope.resolve(session, app.config, name)


def _scratch_app(settings: Settings, clock: Clock) -> App:
    """The App of the scratch copy, made from the real data the first time."""
    from scheduler.app import App
    from scheduler.record import scratch

    real = App(settings, clock)
    place, made = scratch.ensure(settings, real.engine, clock.now())
    real.engine.dispose()
    note = "vừa sao chép từ dữ liệu thật; " if made else ""
    click.echo(f"(bản thử {place}: {note}dữ liệu thật không bị thay đổi)", err=True)
    return App(scratch.scratch_settings(settings), clock, scratch=True)


def hidden_input(label: str, flag: str, example: str, *, confirm: str | None = None) -> str:
    """A secret typed at the terminal without showing it; without a terminal (a script, a pipe), a clear
    error naming ``flag``, the way to hand it over there, instead of Python's echo warning."""
    if not sys.stdin.isatty():
        raise InputError(flag, f"không có cửa sổ dòng lệnh để gõ {label.lower()}; hãy chạy lệnh trong cửa sổ dòng "
                               f"lệnh, hoặc đưa qua đầu vào chuẩn với {flag}, ví dụ: {example}")
    return click.prompt(label, hide_input=True, confirmation_prompt=confirm or False)


def fmt_option(func: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="In ra dạng JSON.")(func)


class Commands:
    """The commands a module adds to ``cchc``: ``@cli.command()`` and ``@cli.group()`` as on a click
    group; ``scripts/cli.py`` adds every module's commands to the real one."""

    def __init__(self) -> None:
        self.items: list[click.Command] = []

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable], click.Command]:
        def decorate(func: Callable) -> click.Command:
            made = click.command(*args, **{"cls": CchcCommand, **kwargs})(func)
            self.items.append(made)
            return made

        return decorate

    def group(self, *args: Any, **kwargs: Any) -> Callable[[Callable], click.Group]:
        def decorate(func: Callable) -> click.Group:
            made = click.group(*args, **{"cls": CchcGroup, **kwargs})(func)
            self.items.append(made)
            return made

        return decorate


def moment(text: str | None, field: str, end_of_day: bool = False) -> datetime | None:
    if not text:
        return None
    if len(text.strip()) <= 10:
        day = parse_local_date(text, field)
        return local_midnight(day + timedelta(days=1 if end_of_day else 0))
    return parse_local(text, field)
