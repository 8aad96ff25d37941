"""Compliance and report figures over a year of deliveries for 75 communes, on SQLite and PostgreSQL.

    .venv/bin/python bench/compliance.py [--communes 75] [--runs 5] [--db sqlite,postgresql]

Generates a configuration of ``--communes`` communes (each with a website, a loudspeaker with two
slots a day and the Mường La plan), and a year (2025) of deliveries: each day two loudspeaker items
in vi, blt and hmn in each slot, and an article on the website every few days, about 4,400 a commune
(about 330,000 for 75), 92% delivered, the rest failed, expired or still pending. Then prints:

1. compliance for 2025-Q3 for one commune (median of ``--runs``) against hand-written SQL answering the
   same question (per target of the plan: its channels, its topics, delivered and still to come, one
   count per announcement and due time, by language and by the target's period in Vietnam time; and
   the deliveries of each announcement for the coverage), and against one GROUP BY of the monthly
   delivered counts alone (the smaller question the first version of this bench asked); then all
   communes in turn;
2. the yearly report (gather + DOCX + XLSX) for one commune, and gathered for all communes;
3. the peak memory of the process.

Everything runs in a temporary folder (PostgreSQL: a private server on a free port, as the tests start it).
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from scheduler.clock import LOCAL_TZ  # noqa: E402
from scheduler.config import load_config  # noqa: E402
from scheduler.plans import report as reports  # noqa: E402
from scheduler.plans.compliance import evaluate  # noqa: E402
from scheduler.plans.periods import parse_period  # noqa: E402
from scheduler.record import catalog  # noqa: E402
from scheduler.record.db import make_engine, migrate, read_session, write_session  # noqa: E402
from scheduler.record.models import Announcement, Approval, Delivery  # noqa: E402
from scheduler.settings import PROJECT_ROOT  # noqa: E402

NOW = datetime(2025, 12, 20, 3, 0, tzinfo=UTC)


def make_config(folder: Path, communes: int) -> Path:
    config = folder / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    plan = (config / "plans" / "muong-la-2025.toml").read_text(encoding="utf-8")
    units = ['default_unit = "c001"\n\n[units.son-la]\nname = "Tỉnh Sơn La"\nlevel = "province"\nref_prefix = "SL"\n']
    channels = ["[groups]\n"]
    for n in range(1, communes + 1):
        uid = f"c{n:03d}"
        units.append(f'[units.{uid}]\nname = "Xã số {n}"\nlevel = "commune"\nparent = "son-la"\n'
                     f'ref_prefix = "X{_letters(n)}"\nslots = ["06:00", "17:00"]\n')
        channels.append(f'[channels.{uid}-web]\nunit = "{uid}"\nkind = "website"\ntitle = "Trang xã {n}"\n'
                        f'languages = ["vi"]\n[channels.{uid}-web.settings]\nsite_title = "Xã {n}"\n'
                        f'base_url = "http://127.0.0.1/{uid}/"\n'
                        f'[channels.{uid}-loa]\nunit = "{uid}"\nkind = "loudspeaker"\ntitle = "Loa xã {n}"\n'
                        f'languages = ["vi", "blt", "hmn"]\ngrace_minutes = 30\n'
                        f'[channels.{uid}-loa.settings]\nslots = ["06:00", "17:00"]\nstation_id = "Đài xã {n}."\n')
        (config / "plans" / f"{uid}-2025.toml").write_text(
            plan.replace('id = "muong-la-2025"', f'id = "{uid}-2025"').replace('unit = "muong-la"', f'unit = "{uid}"'),
            encoding="utf-8")
    for name in ("muong-la-2025.toml", "son-la-2025.toml"):
        (config / "plans" / name).unlink()
    (config / "units.toml").write_text("\n".join(units), encoding="utf-8")
    (config / "channels.toml").write_text("\n".join(channels), encoding="utf-8")
    (config / "samples" / "announcements.toml").write_text("[announcements]\n", encoding="utf-8")
    return config


def _letters(n: int) -> str:
    return "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[int(d)] for d in f"{n:03d}")


def fill_database(engine, config, communes: int) -> int:
    rng = random.Random(7)
    with write_session(engine) as session:
        catalog.sync(session, config)
    start = datetime(2025, 1, 1, tzinfo=LOCAL_TZ)
    total, ann_id, approval_id = 0, 0, 0
    for n in range(1, communes + 1):
        uid = f"c{n:03d}"
        anns, approvals, deliveries = [], [], []
        for day in range(365):
            base = start + timedelta(days=day)
            for item in range(3):  # two loudspeaker items and, every third day, an article
                if item == 2 and day % 3:
                    continue
                ann_id += 1
                approval_id += 1
                loud = item < 2
                anns.append({"id": ann_id, "unit_id": uid, "ref_code": f"{uid}-{ann_id}", "title": f"Tin {ann_id}",
                             "body": "Nội dung", "topics": [rng.choice("abcdegh")] + (["ban-tin"] if item == 2 and
                                                                                    day % 6 == 0 else []),
                             "channels": [f"{uid}-loa" if loud else f"{uid}-web"],
                             "languages": ["vi", "blt", "hmn"] if loud else ["vi"], "priority": "normal",
                             "status": "approved", "next_slot": False, "repeat": "none", "author": "lan",
                             "created_at": base, "updated_at": base, "evergreen": False})
                approvals.append({"id": approval_id, "announcement_id": ann_id, "decision": "approved", "actor": "hung",
                                  "reason": "", "content_hash": "0" * 64, "decided_at": base, "void_reason": ""})
                times = [base.replace(hour=6), base.replace(hour=17)] if loud else [base.replace(hour=9)]
                for seq, due in enumerate((t for t in times for _ in (["vi", "blt", "hmn"] if loud else ["vi"])), 1):
                    lang = (["vi", "blt", "hmn"] if loud else ["vi"])[(seq - 1) % (3 if loud else 1)]
                    due_utc = due.astimezone(UTC)
                    roll = rng.random()
                    state = ("pending" if due_utc > NOW else "delivered" if roll < 0.92 else
                             "failed" if roll < 0.96 else "expired")
                    deliveries.append({
                        "announcement_id": ann_id, "approval_id": approval_id,
                        "channel_id": f"{uid}-loa" if loud else f"{uid}-web", "lang": lang,
                        "ref_code": f"{uid}-{ann_id}.{seq}", "content_hash": "0" * 64, "due_at": due_utc,
                        "expires_at": due_utc + timedelta(minutes=30), "priority_rank": 2, "state": state,
                        "next_attempt_at": due_utc, "attempt_count": 0 if state == "pending" else 1,
                        "reconcile_count": 0, "preview": False, "origin": "schedule",
                        "finished_at": None if state == "pending" else due_utc + timedelta(minutes=3),
                        "last_error": "HTTP 500 từ máy chủ" if state == "failed" else None,
                        "created_at": base, "updated_at": base})
        with engine.begin() as conn:
            conn.execute(sa.insert(Announcement.__table__), anns)
            conn.execute(sa.insert(Approval.__table__), approvals)
            conn.execute(sa.insert(Delivery.__table__), deliveries)
        total += len(deliveries)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return total


def same_question(kind: str, config, unit: str) -> list[tuple[sa.TextClause, dict]]:
    """What ``evaluate`` answers, written by hand: for each target of the unit's plan, one GROUP BY over
    its channels (delivered in the span, or still to come and due in it), its topics, by language and
    by its period in Vietnam time, one count per announcement and due time; and the coverage (the
    deliveries of each announcement in the span, with its topics)."""
    from scheduler.outbox.states import COMING
    from scheduler.plans.compliance import plan_for, target_channels

    sqlite = kind == "sqlite"
    when = "CASE WHEN d.state = 'delivered' THEN d.finished_at ELSE d.due_at END"
    labels = {"month": "strftime('%Y-%m', {w}, '+7 hours')", "week": "strftime('%Y-%W', {w}, '+7 hours')",
              "quarter": "strftime('%Y', {w}, '+7 hours')"} if sqlite else {
        "month": "to_char({w} + interval '7 hours', 'YYYY-MM')",
        "week": "to_char({w} + interval '7 hours', 'IYYY-IW')", "quarter": "to_char({w} + interval '7 hours', 'YYYY')"}
    elements = "json_each(a.topics) j" if sqlite else "json_array_elements_text(a.topics) j(value)"
    key = "d.announcement_id || '@' || d.due_at" if sqlite else "d.announcement_id || '@' || d.due_at::text"
    coming = ", ".join(f"'{state}'" for state in COMING)
    statements = []
    for target in plan_for(config, unit, 2025).targets.values():
        names = target_channels(config, unit, target)
        if not names:
            continue
        about = ""
        if target.topics:
            about += (f" AND EXISTS (SELECT 1 FROM announcement a, {elements} WHERE a.id = d.announcement_id "
                      "AND j.value IN :topics)")
        if target.exclude_topics:
            about += (f" AND NOT EXISTS (SELECT 1 FROM announcement a, {elements} WHERE a.id = d.announcement_id "
                      "AND j.value IN :exclude)")
        label = labels[target.period].format(w=when)
        sql = (f"SELECT d.lang, {label} AS period, count(DISTINCT CASE WHEN d.state = 'delivered' THEN {key} END), "
               f"count(DISTINCT {key}) FROM delivery d WHERE ((d.channel_id IN :channels AND d.state = 'delivered' "
               "AND d.finished_at >= :lo AND d.finished_at < :hi) OR (d.channel_id IN :channels AND d.state IN "
               f"({coming}) AND d.due_at >= :lo AND d.due_at < :hi)){about} GROUP BY d.lang, period")
        params = [sa.bindparam("channels", expanding=True)]
        params += [sa.bindparam(name, expanding=True) for name in ("topics", "exclude") if f":{name}" in sql]
        statements.append((sa.text(sql).bindparams(*params),
                           {"channels": names, "topics": list(target.topics), "exclude": list(target.exclude_topics)}))
    coverage = sa.text("SELECT d.announcement_id, count(*), (SELECT a.topics FROM announcement a WHERE a.id = "
                       "d.announcement_id) FROM delivery d WHERE d.channel_id IN :channels AND d.state = 'delivered' "
                       "AND d.finished_at >= :lo AND d.finished_at < :hi GROUP BY d.announcement_id"
                       ).bindparams(sa.bindparam("channels", expanding=True))
    statements.append((coverage, {"channels": sorted(config.channels_of(unit))}))
    return statements


def timed(func, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        func()
        times.append(time.perf_counter() - began)
    return statistics.median(times), max(times)


def bench(kind: str, url: str, config, communes: int, runs: int, folder: Path) -> None:
    engine = make_engine(url)
    migrate(engine)
    began = time.perf_counter()
    total = fill_database(engine, config, communes)
    print(f"\n[{kind}] {total:,} deliveries for {communes} communes generated in {time.perf_counter() - began:.1f} s")
    quarter, year = parse_period("2025-Q3"), parse_period("2025")

    def one_quarter():
        with read_session(engine) as session:
            evaluate(session, config, unit="c001", span=quarter, now=NOW)

    channels = sorted(config.channels_of("c001"))
    month = "strftime('%Y-%m', finished_at)" if kind == "sqlite" else "to_char(finished_at, 'YYYY-MM')"
    raw = sa.text(f"SELECT lang, {month} AS month, count(DISTINCT announcement_id || '@' || due_at) FROM delivery "
                  "WHERE channel_id IN :channels AND state = 'delivered' AND finished_at >= :lo AND finished_at < :hi "
                  "GROUP BY lang, month").bindparams(sa.bindparam("channels", expanding=True))
    same = same_question(kind, config, "c001")
    bounds = {"lo": quarter.start_at.replace(tzinfo=None), "hi": quarter.end_at.replace(tzinfo=None)}

    def raw_quarter():  # the first baseline: monthly delivered counts only, one GROUP BY
        with engine.connect() as conn:
            conn.execute(raw, {"channels": channels, **bounds}).all()

    def raw_same():  # the baseline: the same question in hand-written SQL, a statement per target
        with engine.connect() as conn:
            for statement, values in same:
                conn.execute(statement, {**values, **bounds}).all()

    def all_quarters():
        with read_session(engine) as session:
            for n in range(1, communes + 1):
                evaluate(session, config, unit=f"c{n:03d}", span=quarter, now=NOW)

    def one_report():
        with read_session(engine) as session:
            data = reports.gather(session, config, unit="c001", span=year, now=NOW)
        reports.write(data, "docx", folder / "c001.docx")
        reports.write(data, "xlsx", folder / "c001.xlsx")

    def all_reports():
        with read_session(engine) as session:
            for n in range(1, communes + 1):
                reports.gather(session, config, unit=f"c{n:03d}", span=year, now=NOW)

    median, worst = timed(one_quarter, runs)
    base, _ = timed(raw_same, runs)
    small, _ = timed(raw_quarter, runs)
    print(f"[{kind}] compliance 2025-Q3, one commune: median {median * 1000:.1f} ms, worst {worst * 1000:.1f} ms; "
          f"hand-written SQL answering the same question {base * 1000:.1f} ms: {base / median:.2f}x its speed "
          f"(goal >= 0.5); one GROUP BY of monthly delivered counts only {small * 1000:.1f} ms: "
          f"{small / median:.2f}x")
    median, _ = timed(all_quarters, 1)
    print(f"[{kind}] compliance 2025-Q3, all {communes} communes in turn: {median:.2f} s")
    median, worst = timed(one_report, runs)
    print(f"[{kind}] yearly report 2025 (gather + DOCX + XLSX), one commune: median {median:.2f} s, "
          f"worst {worst:.2f} s")
    median, _ = timed(all_reports, 1)
    print(f"[{kind}] yearly report data, all {communes} communes in turn: {median:.2f} s")
    engine.dispose()


def on_each(kinds: str, folder: Path, run) -> None:  # noqa: ANN001
    """``run(kind, url)`` on each database of ``kinds`` ("sqlite,postgresql"): SQLite in ``folder``,
    PostgreSQL on a private server on a free port, as the tests start it."""
    for kind in kinds.split(","):
        if kind == "sqlite":
            run(kind, f"sqlite:///{folder / 'bench.db'}")
            continue
        from tests.pg import PostgresServer

        server = PostgresServer()
        server.start()
        try:
            run(kind, server.create("bench"))
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", type=int, default=75)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cchc-bench-") as tmp:
        folder = Path(tmp)
        config = load_config(make_config(folder, args.communes))
        on_each(args.db, folder, lambda kind, url: bench(kind, url, config, args.communes, args.runs, folder))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of the process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
