"""The province's view and report over a year of deliveries for 75 communes, on SQLite and PostgreSQL.

    .venv/bin/python bench/province.py [--communes 75] [--runs 5] [--db sqlite,postgresql]

The data is ``bench/compliance.py``'s (each commune with a website, a loudspeaker with two slots a day
and the Mường La plan; about 330,000 deliveries for 75). Prints, for 2025-Q3:

1. the province's view (``scheduler.plans.province.gather``: every commune against every target, the totals,
   the warnings), median of ``--runs`` (goal <= 300 ms), against the baseline: hand-written SQL
   answering the same counting question for every commune in turn (a statement per target), run in
   the same process;
2. the province's quarterly report (gather with the roll-up + DOCX + XLSX; goal <= 5 s).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.compliance import NOW, fill_database, make_config, on_each, same_question, timed  # noqa: E402
from scheduler.config import load_config  # noqa: E402
from scheduler.plans import province, report  # noqa: E402
from scheduler.plans.periods import parse_period  # noqa: E402
from scheduler.record.db import make_engine, migrate, read_session  # noqa: E402
from scheduler.settings import PROJECT_ROOT  # noqa: E402


def bench(kind: str, url: str, config, communes: int, runs: int, folder: Path) -> None:
    engine = make_engine(url)
    migrate(engine)
    total = fill_database(engine, config, communes)
    print(f"\n[{kind}] {total:,} deliveries for {communes} communes")
    quarter = parse_period("2025-Q3")
    bounds = {"lo": quarter.start_at.replace(tzinfo=None), "hi": quarter.end_at.replace(tzinfo=None)}
    statements = [same_question(kind, config, f"c{n:03d}")[:-1] for n in range(1, communes + 1)]  # no coverage

    def view():
        with read_session(engine) as session:
            result = province.gather(session, config, province="son-la", span=quarter, now=NOW)
        assert len(result.communes) == communes and all(c.cells for c in result.communes)

    def baseline():
        with engine.connect() as conn:
            for per_commune in statements:
                for statement, values in per_commune:
                    conn.execute(statement, {**values, **bounds}).all()

    def quarterly_report():
        with read_session(engine) as session:
            data = report.gather(session, config, unit="son-la", span=quarter, now=NOW)
        report.write(data, "docx", folder / "son-la.docx")
        report.write(data, "xlsx", folder / "son-la.xlsx")

    median, worst = timed(view, runs)
    base, _ = timed(baseline, runs)
    print(f"[{kind}] province view 2025-Q3, {communes} communes: median {median * 1000:.0f} ms, worst "
          f"{worst * 1000:.0f} ms (goal <= 300 ms); hand-written SQL for the same counts, commune by commune: "
          f"{base * 1000:.0f} ms, so the view runs at {base / median:.2f}x the baseline's speed")
    median, worst = timed(quarterly_report, max(1, runs // 2))
    print(f"[{kind}] province's report 2025-Q3 (roll-up of {communes} communes, DOCX + XLSX): median "
          f"{median:.2f} s, worst {worst:.2f} s (goal <= 5 s)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", type=int, default=75)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cchc-bench-") as tmp:
        folder = Path(tmp)
        made = make_config(folder, args.communes)
        shutil.copy(PROJECT_ROOT / "config" / "plans" / "son-la-2025.toml", made / "plans")  # the province's own
        config = load_config(made)
        on_each(args.db, folder, lambda kind, url: bench(kind, url, config, args.communes, args.runs, folder))


if __name__ == "__main__":
    main()
