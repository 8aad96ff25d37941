"""Process settings, read from the environment (``CCHC_*``) when asked for, never at import time."""

from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Where the data and configuration live and how the service paces itself."""

    model_config = SettingsConfigDict(env_prefix="CCHC_", env_ignore_empty=True, extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data")
    # The install's own configuration, which commands change (units, a new year's plan): by default
    # data_dir/config, copied from the project's config/ (defaults and samples, never written) the first
    # time; a server sets /etc/cchc/config (scripts/install.sh).
    config_dir: Path | None = None
    database_url: str | None = None
    user: str | None = None
    tick_seconds: float = 15.0
    heartbeat_seconds: float = 60.0
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one JSON object a line
    site_host: str = "127.0.0.1"
    site_port: int = 8080
    web_host: str = "127.0.0.1"  # the staff web app; 0.0.0.0 to reach it from the office network
    web_port: int = 8090  # 0: not served by ``cchc run``
    # Addresses of reverse proxies (nginx) whose X-Forwarded-For / X-Forwarded-Proto are believed;
    # from anyone else those headers are ignored (the per-address login limit cannot be dodged).
    trusted_proxies: str = ""

    @model_validator(mode="after")
    def _own_configuration(self) -> Settings:
        if self.config_dir is None:
            self.config_dir = self.data_dir / "config"
            if not self.config_dir.exists():
                shutil.copytree(PROJECT_ROOT / "config", self.config_dir)
        return self

    @property
    def url(self) -> str:
        """The SQLAlchemy URL: ``CCHC_DATABASE_URL`` or an SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'cchc.db'}"


@lru_cache
def get_settings() -> Settings:
    """The settings of this process (cached; tests build their own ``Settings``)."""
    return Settings()
