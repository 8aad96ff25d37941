"""Setting up: the database, the practice copy, the configuration and the plans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler.errors import ConfigError, InputError, RuleError
from scheduler.text import read_text_file
from scripts.commands.common import (
    CchcGroup,
    Commands,
    actor_of,
    fmt_option,
    with_app,
)

if TYPE_CHECKING:
    from scheduler.app import App
    from scheduler.record.scope import Actor

cli = Commands()


@cli.command()
@click.option("--samples", "with_samples", is_flag=True,
              help="Nạp thêm các thông báo mẫu (đã gửi duyệt) để thử.")
@click.option("--practice", is_flag=True,
              help="Cơ sở dữ liệu để thử và kiểm thử: mọi lệnh nhận --now. Không dùng cho dữ liệu thật.")
@with_app(writes=False, resolve=False)  # --now is refused below, once --practice has been taken into account
def init(app: App, user: str | None, with_samples: bool, practice: bool) -> None:
    """Tạo hoặc nâng cấp cơ sở dữ liệu và nạp cấu hình (chạy lại không thay đổi gì)."""
    from sqlmodel import select

    from scheduler import samples
    from scheduler.record import catalog, scratch
    from scheduler.record.db import migrate, read_session, write_session
    from scheduler.record.models import Announcement

    config = app.config
    migrate(app.engine)
    actor_of(app, user).check_install(config, "cchc init")  # the accounts' table exists from here on
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
        click.echo(f"  thông báo mẫu {ann.id} ({ann.ref_code}) đã tạo và gửi duyệt: {ann.title}")
    kind = " (bản thử: nhận --now)" if practice or app.scratch else ""
    click.echo(f"Cơ sở dữ liệu sẵn sàng tại {app.engine.url.render_as_string(hide_password=True)}{kind}; "
               f"{len(changes) + len(created)} thay đổi.")


@cli.command("scratch")
@click.option("--reset", is_flag=True, help="Bỏ bản thử cũ và sao chép lại từ dữ liệu thật.")
def scratch_cmd(reset: bool) -> None:
    """Bản thử (data/scratch): nơi thử mọi lệnh với --scratch, kể cả --now, không đụng tới dữ liệu thật."""
    from scheduler.app import App
    from scheduler.record import scratch
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


@cli.command("backup")
@click.option("--out", type=click.Path(path_type=Path),
              help="Tệp sao lưu .tar.gz (mặc định: data/backups/cchc-<ngày>-<giờ>.tar.gz).")
@with_app()
def backup_cmd(app: App, actor: Actor, out: Path | None) -> None:
    """Sao lưu cơ sở dữ liệu và các tệp (ghi âm, minh chứng, trang web) vào một tệp, kể cả khi dịch vụ đang chạy."""
    from scheduler.clock import LOCAL_TZ
    from scheduler.record import backup

    actor.check_install(app.config, "cchc backup")
    now = app.now()
    if out is None:
        out = app.settings.data_dir / "backups" / f"cchc-{now.astimezone(LOCAL_TZ):%Y%m%d-%H%M%S}.tar.gz"
    done = backup.backup(app.ready_engine(), app.settings.data_dir, out, now=now)
    click.echo(f"Đã sao lưu: {done.line()}")
    click.echo("Giữ khoá CCHC_SECRET_KEY ở nơi khác: bản sao lưu không chứa khoá, "
               "các mã truy cập trong đó vẫn được mã hoá.")


@cli.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True,
              help="Thay dữ liệu hiện có (được sao lưu riêng vào data/backups trước khi thay).")
@with_app()
def restore_cmd(app: App, actor: Actor, file: Path, replace: bool) -> None:
    """Khôi phục từ tệp sao lưu: kiểm tra toàn bộ tệp trước, rồi mới thay cơ sở dữ liệu và các tệp."""
    from scheduler.record import audit, backup
    from scheduler.record.db import write_session

    actor.check_install(app.config, "cchc restore")
    now = app.now()
    done, before = backup.restore(app.engine, app.settings.data_dir, file, now=now, replace=replace)
    with write_session(app.engine) as session:
        audit.record(session, unit=None, actor=actor.name or "cli", action="restore", subject=f"backup:{file.name}",
                     at=now, created_at=done.created_at, before=str(before) if before else None)
    click.echo(f"Đã khôi phục: {done.line()} (sao lưu lúc {done.created_at})")
    if before:
        click.echo(f"Dữ liệu trước khi khôi phục đã được sao lưu vào {before}")


@cli.group("config", cls=CchcGroup)
def config_group() -> None:
    """Cấu hình trong thư mục config/."""


@config_group.command("check")
@with_app(writes=False)
def config_check(app: App, actor: Actor) -> None:
    """Kiểm tra mọi tệp cấu hình và báo mọi lỗi (tệp, dòng, điều cần sửa)."""
    actor.check_install(app.config, "cchc config check")
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
@click.option("--unit", help="Mã đơn vị (mặc định: đơn vị của tài khoản, hoặc đơn vị mặc định).")
@fmt_option
@with_app(writes=False)
def plan_show(app: App, actor: Actor, unit: str | None, as_json: bool) -> None:
    """Xem kế hoạch của đơn vị: các nội dung (mục a, b, ...) và chỉ tiêu."""
    from scheduler import queries
    from scheduler.labels import target as target_text
    unit = actor.unit(app.config, unit)
    plans = queries.plan(app.config, unit)
    if not plans:
        raise InputError("--unit", f"đơn vị '{unit}' chưa có kế hoạch; các đơn vị: "
                                   f"{', '.join(actor.scope.readable)}")
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
            said = target_text(t["minimum"], t["period"], t["channel"], t["languages"])
            click.echo(f"  [{t['clause']}] {said[:-1]}{about}): {t['description']}")


def _day(iso: str | None) -> str:
    """``2025-08-01`` as staff write it: 01/08/2025."""
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}" if iso else "(chưa ghi)"


@plan_group.command("new")
@click.option("--year", type=int, required=True, help="Năm của kế hoạch mới, ví dụ 2026.")
@click.option("--from", "source", required=True, metavar="PLAN", help="Mã kế hoạch để sao, ví dụ muong-la-2025.")
@click.option("--id", "plan_id", help="Mã kế hoạch mới (mặc định: <đơn vị>-<năm>).")
@click.option("--unit", "units", multiple=True, metavar="ID",
              help="Sao cho đơn vị khác (nhắc lại được); all: mọi xã cùng tỉnh chưa có kế hoạch năm đó.")
@with_app()
def plan_new(app: App, actor: Actor, year: int, source: str, plan_id: str | None, units: tuple[str, ...]) -> None:
    """Tạo kế hoạch năm mới từ kế hoạch năm trước (hoặc cho xã khác): cùng nội dung và chỉ tiêu, để xem lại."""
    from scheduler.plans.plan_import import new_year
    from scheduler.record.scope import below

    actor.check_install(app.config, "cchc plan new")  # it writes the installation's config/plans
    plan = app.config.plans.get(source)
    targets = list(units) or [None]
    if "all" in targets and plan is not None:
        province = app.config.units[plan.unit].parent or plan.unit
        having = {p.unit for p in app.config.plans.values() if p.year == year}
        targets = [u for u in below(app.config, province)[1:] if app.config.units[u].level == "commune"
                   and u not in having]
    made = new_year(app.settings.config_dir, app.config, source, year, targets, plan_id)
    plan = app.config.plans[source]
    for new_id in made:
        click.echo(f"Đã tạo kế hoạch {new_id} (năm {year}) từ {source}: {len(plan.topics)} nội dung, "
                   f"{len(plan.targets)} chỉ tiêu.")
    if not made:
        click.echo("Không có đơn vị nào cần kế hoạch mới.")
        return
    which = (targets[0] or plan.unit) if len(made) == 1 else "ĐƠN_VỊ"
    click.echo(f"Hãy xem lại với văn bản kế hoạch năm {year}: cchc plan show --unit {which}; "
               "dịch vụ đang chạy dùng kế hoạch mới sau một lượt (không cần khởi động lại).")


@plan_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--unit", help="Đơn vị của kế hoạch (mặc định: đơn vị của tài khoản, hoặc đơn vị mặc định).")
@click.option("--id", "plan_id", help="Mã kế hoạch (mặc định: <đơn vị>-<năm>).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Ghi đề xuất vào tệp này (mặc định: in ra màn hình). Không ghi đè tệp đã có.")
@with_app(writes=False)
def plan_import(app: App, actor: Actor, file: Path, unit: str | None, plan_id: str | None,
                out: Path | None) -> None:
    """Đọc văn bản kế hoạch (tệp .txt) và đề xuất tệp cấu hình kế hoạch: các mục nội dung và chỉ tiêu."""
    from scheduler.labels import target as target_text
    from scheduler.plans.plan_import import propose, to_toml

    unit = actor.unit(app.config, unit)
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
        where = f"activity:{t['activity']}" if t.get("activity") else t["channel"]
        click.echo(f"  {key}: [{t['clause']}] {target_text(t['minimum'], t['period'], where, t['languages'])}",
                   err=True)
    for note in proposal.notes:
        click.echo(f"  Lưu ý: {note}", err=True)
    if out is not None:
        click.echo(f"Đã ghi {out}. Hãy đọc lại với văn bản gốc, đặt vào {app.settings.config_dir / 'plans'} rồi "
                   "chạy: cchc config check",
                   err=True)


@cli.group("unit", cls=CchcGroup)
def unit_group() -> None:
    """Đơn vị: tỉnh và các xã, phường trực thuộc."""


@unit_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Chỉ kiểm tra và cho biết sẽ thay đổi gì, không ghi.")
@with_app(writes=False)  # --now is refused below, unless it only checks the file (--dry-run)
def unit_import(app: App, actor: Actor, file: Path, dry_run: bool) -> None:
    """Thêm hoặc cập nhật nhiều đơn vị từ tệp CSV (code, name, level, parent, slots, station_name) cùng kênh
    mặc định của mỗi xã (trang thông tin điện tử, hệ thống truyền thanh)."""
    from scheduler.config import load_config
    from scheduler.plans import unit_import
    from scheduler.record import catalog
    from scheduler.record.db import write_session

    actor.check_install(app.config, "cchc unit import")
    rows = unit_import.read_rows(read_text_file(file, "FILE"), app.config)
    if dry_run:
        known = sum(row.code in app.config.units for row in rows)
        click.echo(f"Tệp hợp lệ: {len(rows)} đơn vị ({len(rows) - known} mới, {known} đã có); chưa ghi gì.")
        return
    app.refuse_trial_time()
    changes = unit_import.apply(app.settings.config_dir, rows, app.config)
    with write_session(app.ready_engine()) as session:
        catalog.sync(session, load_config(app.settings.config_dir))
    for line in changes:
        click.echo(f"  {line}")
    click.echo(f"Đã nhập {len(rows)} đơn vị từ {file.name}: {len(changes)} thay đổi trong units.toml và "
               f"channels.toml ({app.settings.config_dir}). Dịch vụ đang chạy dùng các đơn vị "
               "và kênh mới sau một lượt (không cần khởi động lại).")


@unit_group.command("list")
@fmt_option
@with_app(writes=False)
def unit_list(app: App, actor: Actor, as_json: bool) -> None:
    """Các đơn vị trong cấu hình: cấp, đơn vị cấp trên, khung giờ phát, số kênh."""
    from scripts.output import emit

    rows = [{"code": uid, "name": u.name, "level": "tỉnh" if u.level == "province" else "xã",
             "parent": u.parent or "", "slots": ", ".join(u.slots), "channels": len(app.config.channels_of(uid))}
            for uid, u in app.config.units.items() if actor.scope.reads(uid)]
    emit(rows, ["code", "name", "level", "parent", "slots", "channels"], fmt="json" if as_json else "table",
         empty="Chưa có đơn vị nào trong config/units.toml.")
