"""The plan: compliance, a simulated period, the report to the Department of Home Affairs."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scheduler.clock import parse_local_date, show
from scheduler.errors import InputError
from scheduler.plans.periods import Span, parse_period, span_at
from scripts.commands.common import (
    Commands,
    fmt_option,
    with_app,
)
from scripts.output import table, to_json

if TYPE_CHECKING:
    from scheduler.app import App
    from scheduler.record.scope import Actor

cli = Commands()


COMPLIANCE_COLUMNS = ["target", "clause", "period", "lang", "minimum", "delivered", "scheduled", "filled", "needed",
                      "status_text", "warn"]


def _period(app: App, text: str | None) -> Span:
    return parse_period(text) if text else span_at("month", app.now())


@cli.command()
@click.option("--period", "period_text", metavar="2025-09|2025-W36|2025-Q3|2025-H1|2025",
              help="Kỳ cần xem (mặc định: tháng này).")
@click.option("--unit", help="Đơn vị (mặc định: đơn vị của tài khoản, hoặc đơn vị mặc định).")
@fmt_option
@with_app(writes=False)
def compliance(app: App, actor: Actor, period_text: str | None, unit: str | None, as_json: bool) -> None:
    """Tiến độ thực hiện chỉ tiêu của kế hoạch trong một kỳ: đạt, đúng tiến độ, có nguy cơ, không đạt."""
    from scheduler.plans.compliance import evaluate
    from scheduler.record.db import read_session

    span = _period(app, period_text)
    with read_session(app.ready_engine()) as session:
        result = evaluate(session, app.config, unit=actor.unit(app.config, unit), span=span, now=app.now())
    if as_json:
        click.echo(to_json(result.as_dict()))
        return
    _print_compliance(result)


def _print_compliance(result: Any) -> None:
    click.echo(f"{result.plan.title}\nKỳ: {result.span.title} (tính đến {show(result.now)})\n")
    rows = [{**row.as_dict(), "period": row.span.label, "warn": "CẢNH BÁO" if row.warning else ""}
            for row in result.rows]
    click.echo(table(rows, COMPLIANCE_COLUMNS))
    click.echo("\nNội dung của kế hoạch (số lượt đã phát / số tin):")
    for code, info in result.topics.items():
        click.echo(f"  {code}) [{info['clause']}] {info['deliveries']} lượt / {info['announcements']} tin"
                   f"  {info['text'][:70]}")
    if result.uncovered:
        click.echo(f"Chưa có lượt nào về mục: {', '.join(result.uncovered)}")


@cli.command()
@click.option("--from", "first_text", required=True, metavar="YYYY-MM-DD", help="Ngày đầu.")
@click.option("--to", "last_text", required=True, metavar="YYYY-MM-DD", help="Ngày cuối.")
@click.option("--unit", help="Đơn vị (mặc định: đơn vị của tài khoản, hoặc đơn vị mặc định).")
@fmt_option
@with_app(writes=False)
def simulate(app: App, actor: Actor, first_text: str, last_text: str, unit: str | None, as_json: bool) -> None:
    """Chạy thử lịch phát trên đồng hồ ảo (mọi kênh ở chế độ xem trước) và cho biết kế hoạch có đạt không."""
    from scheduler.simulate import simulate as run_simulation

    first, last = parse_local_date(first_text, "--from"), parse_local_date(last_text, "--to")
    if "CCHC_LOG_LEVEL" not in os.environ:  # what happens on the virtual clock is reported below, not logged
        logging.getLogger().setLevel(logging.ERROR)
    result = run_simulation(app.ready_engine(), app.config, unit=actor.unit(app.config, unit),
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
@click.option("--unit", help="Đơn vị (mặc định: đơn vị của tài khoản, hoặc đơn vị mặc định).")
@with_app(writes=False)
def report(app: App, actor: Actor, period_text: str, fmt: str, out: Path | None, unit: str | None) -> None:
    """Báo cáo kết quả công tác thông tin, tuyên truyền CCHC gửi Sở Nội vụ (DOCX, XLSX hoặc CSV)."""
    from scheduler.plans import report as reports
    from scheduler.record.db import read_session

    span = parse_period(period_text)
    unit = actor.unit(app.config, unit)
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
