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


def snapshot(url: str) -> dict[str, list]:
    """Every row of every table, to prove a refused command changed nothing."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        data = {name: sorted(map(repr, conn.execute(table.select()))) for name, table in meta.tables.items()}
    engine.dispose()
    return data
