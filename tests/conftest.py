"""Fixtures: a fresh database per test on SQLite and on PostgreSQL, an injected clock, the
configuration in a temporary copy, and a guard that fails any test reaching beyond this machine."""

from __future__ import annotations

import itertools
import re
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.clock import FrozenClock
from scheduler.record.db import make_engine, migrate
from scheduler.settings import PROJECT_ROOT, Settings
from tests.pg import PostgresServer

CONFIG = PROJECT_ROOT / "config"
START = datetime(2025, 9, 1, 0, 0, tzinfo=UTC)  # 07:00 on Monday 1 September 2025 in Vietnam
_counter = itertools.count()


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Any connection to an address outside loopback fails the test."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")
                                          or host.startswith("/")):
            raise AssertionError(f"test tried to reach {address}: tests stay on this machine")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer()
    server.start()
    template = make_engine(server.create("cchc_template"))
    migrate(template)
    template.dispose()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


def sqlite_copy(template: Path, folder: Path) -> str:
    """The URL of a new, migrated, empty SQLite database in ``folder`` (a copy of the session's template)."""
    path = folder / "cchc.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The URL of a new, migrated, empty database of each kind."""
    if request.param == "sqlite":
        yield sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"t{next(_counter)}"
    yield server.create(name, template="cchc_template")
    server.admin(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def config_dir(tmp_path) -> Path:
    """A private copy of config/ that a test may change."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    # gTTS would call Google: point it at a closed loopback port (tests that need it start a fake).
    speech = target / "speech.toml"
    speech.write_text(re.sub(r"(?m)^# endpoint = .*$", 'endpoint = "http://127.0.0.1:9/"',
                             speech.read_text(encoding="utf-8")), encoding="utf-8")
    return target


@pytest.fixture
def repeating_website(config_dir) -> Path:
    """The config with the website set to post every occurrence of a repeat (``repeats = true``): a quick
    way to many deliveries. List it before ``app`` or ``staff``."""
    from tests.helpers import set_channel

    set_channel(config_dir, "muong-la-website", repeats=True)
    return config_dir


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(tmp_path, db_url, config_dir) -> Settings:
    return Settings(data_dir=tmp_path / "data", config_dir=config_dir, database_url=db_url, site_port=0)


@pytest.fixture
def app(settings, clock):
    """An App on a fresh database with the configuration loaded."""
    from tests.helpers import make_app

    application = make_app(settings, clock)
    yield application
    application.engine.dispose()


@pytest.fixture
def staff(app):
    """The app with the web tests' three accounts (tests/web.py): editor lan, approver hung, admin mai."""
    from tests.web import add_staff

    return add_staff(app)


@pytest.fixture
def short_station(config_dir):
    """The commune's loudspeaker channel with a short station ID and outro and short gaps."""
    from tests.helpers import set_channel

    set_channel(config_dir, "muong-la-loa", station_id='"Đài xã Mường La."', outro='"Hết."', gap_ms="300",
                item_gap_ms="500")
    return config_dir


@pytest.fixture
def loa(short_station, settings, clock):
    """An App over the short station's configuration."""
    from tests.helpers import make_app

    app = make_app(settings, clock)
    yield app
    app.engine.dispose()
