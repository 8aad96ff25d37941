"""``cchc activity``: the activities register (conferences, the dialogue with businesses, contests, press
and radio-TV coverage), each with its evidence file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler.clock import parse_local_date
from scheduler.codes import ACTIVITY_KIND
from scripts.commands.common import CchcGroup, Commands, fmt_option, with_app

if TYPE_CHECKING:
    from scheduler.app import App
    from scheduler.record.scope import Actor

cli = Commands()


@cli.group("activity", cls=CchcGroup)
def activity_group() -> None:
    """Hoạt động tuyên truyền ngoài phát thanh, đăng tin: hội nghị, đối thoại, cuộc thi, báo chí."""


@activity_group.command("add")
@click.option("--kind", required=True, type=click.Choice(list(ACTIVITY_KIND)),
              help="; ".join(f"{k}: {v}" for k, v in ACTIVITY_KIND.items()))
@click.option("--date", "held_text", required=True, metavar="DD/MM/YYYY", help="Ngày diễn ra.")
@click.option("--title", required=True, help="Tên hoạt động.")
@click.option("--place", default="", help="Địa điểm.")
@click.option("--participants", type=click.IntRange(0, 1_000_000), help="Số người tham dự.")
@click.option("--note", default="", help="Ghi chú (kết quả, cơ quan báo chí, số báo...).")
@click.option("--evidence", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Ảnh chụp (JPEG, PNG, WebP) hoặc tệp PDF làm minh chứng.")
@click.option("--unit", help="Đơn vị (mặc định: đơn vị của tài khoản).")
@with_app()
def activity_add(app: App, actor: Actor, kind: str, held_text: str, title: str, place: str,
                 participants: int | None, note: str, evidence: Path, unit: str | None) -> None:
    """Ghi một hoạt động đã diễn ra, kèm tệp minh chứng; chỉ tiêu về hoạt động tính từ đây."""
    from scheduler.plans import activities
    from scheduler.record.db import write_session

    person = actor.person("activity")
    unit = actor.unit(app.config, unit)
    held_on = parse_local_date(held_text, "--date")
    with write_session(app.ready_engine()) as session:
        row = activities.record(session, app.config, app.settings.data_dir, unit=unit, kind=kind, held_on=held_on,
                                title=title, place=place, participants=participants, note=note, evidence=evidence,
                                actor=person, now=app.now())
        number = row.id
    click.echo(f"Đã ghi hoạt động {number} ({ACTIVITY_KIND[kind]}, {held_on:%d/%m/%Y}) của "
               f"{app.config.units[unit].name}, minh chứng: {evidence.name}.")


@activity_group.command("list")
@click.option("--unit")
@click.option("--since", "since_text", metavar="DD/MM/YYYY")
@click.option("--until", "until_text", metavar="DD/MM/YYYY")
@fmt_option
@with_app(writes=False)
def activity_list(app: App, actor: Actor, unit: str | None, since_text: str | None, until_text: str | None,
                  as_json: bool) -> None:
    """Các hoạt động đã ghi của một đơn vị, mới nhất trước."""
    from datetime import timedelta

    from scheduler.plans import activities
    from scheduler.record.db import read_session
    from scripts.output import emit

    unit = actor.unit(app.config, unit)
    since = parse_local_date(since_text, "--since") if since_text else None
    until = parse_local_date(until_text, "--until") + timedelta(days=1) if until_text else None
    with read_session(app.ready_engine()) as session:
        rows = [{"id": a.id, "date": a.held_on.isoformat() if as_json else f"{a.held_on:%d/%m/%Y}", "kind": a.kind,
                 "kind_text": ACTIVITY_KIND[a.kind], "title": a.title, "place": a.place,
                 "participants": a.participants, "evidence": a.evidence, "by": a.recorded_by}
                for a in activities.listed(session, unit=unit, since=since, until=until)]
    emit(rows, ["id", "date", "kind_text", "title", "place", "participants", "evidence"],
         fmt="json" if as_json else "table", empty=f"{app.config.units[unit].name} chưa ghi hoạt động nào.")
