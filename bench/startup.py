"""Start-up: how long a command takes to begin, against importing SQLAlchemy alone.

    .venv/bin/python bench/startup.py [--runs 10]

Runs each command ``--runs`` times in a fresh interpreter, the baseline ``python -c "import
sqlalchemy"`` interleaved with them in the same run, and prints the medians and their ratio. Staff
type ``cchc --help`` and ``cchc list`` by hand: a command that loads every channel's libraries and
the migration tool before it prints a line feels broken on a commune's small server.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CCHC = str(Path(sys.executable).with_name("cchc"))


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    import os

    with tempfile.TemporaryDirectory(prefix="cchc-startup-") as folder:
        env = os.environ | {"CCHC_DATA_DIR": folder, "CCHC_DATABASE_URL": f"sqlite:///{folder}/cchc.db"}
        subprocess.run([CCHC, "init"], check=True, env=env, capture_output=True)
        commands = {"cchc --help": [CCHC, "--help"], "cchc --version": [CCHC, "--version"],
                    "cchc list": [CCHC, "list"]}
        baseline: list[float] = []
        figures: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            baseline.append(timed([sys.executable, "-c", "import sqlalchemy"]))
            for name, command in commands.items():
                figures[name].append(timed(command, env))
    base = statistics.median(baseline)
    print(f"python -c 'import sqlalchemy': {base * 1000:.0f} ms (median of {args.runs})")
    for name, times in figures.items():
        median = statistics.median(times)
        print(f"{name}: {median * 1000:.0f} ms = {median / base:.2f}x the baseline")


if __name__ == "__main__":
    main()
