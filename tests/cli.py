"""Running the installed ``cchc`` entry point as a separate process, as staff and cron do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

CCHC = str(Path(sys.executable).with_name("cchc"))


def environment(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCHC_")}
    env.update(CCHC_DATA_DIR=str(settings.data_dir), CCHC_CONFIG_DIR=str(settings.config_dir),
               CCHC_DATABASE_URL=settings.url, CCHC_SITE_PORT="0", CCHC_WEB_PORT="0")
    return env


def run(settings, *args: str, input_text: str | None = None, extra_env: dict | None = None):
    env = environment(settings) | (extra_env or {})
    return subprocess.run([CCHC, *args], env=env, capture_output=True, text=True, input=input_text, timeout=60,
                          check=False)


def invoke(settings, *args: str, input_text: str | None = None, extra_env: dict | None = None):
    """Run ``cchc`` in this process with click's runner (fast: no interpreter start-up); the result has
    ``returncode``, ``stdout`` and ``stderr`` like ``run``'s."""
    from click.testing import CliRunner

    from scripts.cli import cli

    env = {k: None for k in os.environ if k.startswith("CCHC_")} | environment(settings) | (extra_env or {})
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click 8.2 and later keep stderr apart without being asked
        runner = CliRunner()
    result = runner.invoke(cli, list(args), input=input_text, env=env, prog_name="cchc")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["cchc", *args], result.exit_code, result.stdout, result.stderr)


class Rows:
    """Every row of every table, to prove a refused command changed nothing; the tables are read once, so a walk
    can take a snapshot before and after each of many cases."""

    def __init__(self, url: str):
        self.engine = sa.create_engine(url)
        self.meta = sa.MetaData()
        self.meta.reflect(self.engine)

    def __call__(self) -> dict[str, list]:
        with self.engine.connect() as conn:
            return {name: sorted(map(repr, conn.execute(table.select()))) for name, table in self.meta.tables.items()}

    def close(self) -> None:
        self.engine.dispose()


def snapshot(url: str) -> dict[str, list]:
    """Every row of every table, once."""
    rows = Rows(url)
    try:
        return rows()
    finally:
        rows.close()
