"""Two service nodes on one PostgreSQL, two real ``cchc run`` processes: exactly one owns the loudspeaker
slots; when it is killed (SIGKILL) the other takes the slots over within a minute and plays the next
slot; no slot and no delivery goes out twice."""

import signal
import subprocess
import time

import pytest
import sqlalchemy as sa

from scheduler.settings import Settings
from tests.cli import CCHC, environment, run
from tests.helpers import set_channel

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


@pytest.fixture
def shared(postgres, config_dir, tmp_path):
    """A practice database both nodes use; the loudspeaker has slots at 06:00 and 06:02 and a short station."""
    set_channel(config_dir, "muong-la-loa", slots='["06:00", "06:02"]', prepare_minutes="1",
                station_id='"Đài xã Mường La."', outro='"Hết."', gap_ms="300", item_gap_ms="500")
    url = postgres.create("two_nodes", template="cchc_template")
    settings = Settings(data_dir=tmp_path / "node-a", config_dir=config_dir, database_url=url, site_port=0)
    assert run(settings, "init", "--practice").returncode == 0
    for at, title in (("2025-09-01 06:00", "Lịch tiêm chủng tháng 9"), ("2025-09-01 06:02", "Lịch tiếp công dân")):
        made = run(settings, "queue", "--user", "lan", "--now", "2025-09-01 05:50", "--title", title, "--body",
                   f"{title} tại Ủy ban nhân dân xã.", "--channel", "loa", "--lang", "vi", "--at", at, "--submit")
        assert made.returncode == 0, made.stderr
        approved = run(settings, "approve", made.stdout.strip(), "--user", "hung", "--now", "2025-09-01 05:51")
        assert approved.returncode == 0, approved.stderr
    yield settings, url
    postgres.admin("DROP DATABASE two_nodes WITH (FORCE)")


def node(settings, data_dir) -> subprocess.Popen:
    env = environment(settings) | {"CCHC_DATA_DIR": str(data_dir), "CCHC_TICK_SECONDS": "0.5"}
    return subprocess.Popen([CCHC, "run", "--now", "2025-09-01 05:59"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for(engine, query: str, done, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(query)).all()
        if done(rows):
            return rows
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds} s: {query} -> {rows}")


def test_one_node_owns_the_slots_and_the_other_takes_them_over_after_a_sigkill(shared, tmp_path):
    settings, url = shared
    engine = sa.create_engine(url)
    first = node(settings, tmp_path / "node-a")
    second = None
    try:
        holder = "SELECT holder FROM lease WHERE name = 'loudspeaker-slots'"
        wait_for(engine, holder, lambda rows: rows and rows[0][0].endswith(f":{first.pid}"), 60)
        second = node(settings, tmp_path / "node-b")
        played = ("SELECT worker, status FROM as_run WHERE kind = 'slot' AND slot_at = '2025-08-31 23:00:00'")
        rows = wait_for(engine, played, lambda rows: rows and rows[0][1] == "played", 150)
        assert rows[0][0].endswith(f":{first.pid}")  # the owner played the first slot
        with engine.connect() as conn:  # the second node has done no slot work while it did not own them
            assert conn.execute(sa.text(holder)).scalar_one().endswith(f":{first.pid}")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed = time.monotonic()
        wait_for(engine, holder, lambda rows: rows and rows[0][0].endswith(f":{second.pid}"), 60)
        takeover = time.monotonic() - killed
        assert takeover < 60, takeover
        rows = wait_for(engine, ("SELECT worker, status, started_at, slot_at FROM as_run WHERE kind = 'slot' AND "
                                 "slot_at = '2025-08-31 23:02:00'"),
                        lambda rows: rows and rows[0][1] == "played", 150)
        worker, _, started, slot = rows[0]
        assert worker.endswith(f":{second.pid}") and (started - slot).total_seconds() < 30
        with engine.connect() as conn:
            slots = conn.execute(sa.text("SELECT slot_at, count(*) FROM as_run GROUP BY slot_at")).all()
            states = conn.execute(sa.text("SELECT state, attempt_count FROM delivery ORDER BY id")).all()
        assert sorted(count for _, count in slots) == [1, 1]  # each slot once
        assert states == [("delivered", 1), ("delivered", 1)]  # each item played once, never again
        second.send_signal(signal.SIGTERM)
        output, _ = second.communicate(timeout=30)
        assert "now owns it" in output and "Traceback" not in output
    finally:
        engine.dispose()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
