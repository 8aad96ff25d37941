"""Two service nodes on one PostgreSQL over a simulated week: 75 communes x 2 loudspeaker slots a day.

    .venv/bin/python bench/two_nodes.py [--communes 75] [--days 7] [--kill-day 3]

Each node is what ``cchc run`` builds (``scheduler.service.SlotOwner``: its own broadcaster, worker name
and slot lease on the database's clock) in this process, on a simulated clock that jumps from slot to
slot (each slot prepared ahead, then started a second after its time), both nodes asking at every
step while each renews its lease on a thread of its own, as the service's lease job does. Each commune
has one item in its first slot of every day (and nothing in the second, which is skipped: nothing to
play, nothing failed). On ``--kill-day`` after the morning slot, node A stops dead (no renewal, no
release, as after a SIGKILL); node B must take the lease once it has run out and start the next slots
within their grace time. Prints: slots with exactly one as-run row (goal: all),
slots started by each node, how long the takeover took, the latest start after its slot time, and
the week's time against the same week on one node alone (the baseline, run in the same process).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.compliance import make_config  # noqa: E402
from scheduler import announcements  # noqa: E402
from scheduler.announcements import Draft  # noqa: E402
from scheduler.app import App  # noqa: E402
from scheduler.clock import FrozenClock, slot_times  # noqa: E402
from scheduler.record import catalog, lease  # noqa: E402
from scheduler.record.db import migrate, write_session  # noqa: E402
from scheduler.service import SlotOwner  # noqa: E402
from scheduler.settings import Settings  # noqa: E402

START = datetime(2025, 9, 1, 0, 0, tzinfo=UTC)  # 07:00 on Monday 1 September 2025 in Vietnam
TTL = timedelta(seconds=6)  # the lease's length here (30 s in service): the takeover waits for it in real time
RENEW_EVERY = 0.5  # seconds; 5 s in service, where the lease lasts 30 s


def prepare(url: str, config_dir: Path, communes: int, days: int, clock: FrozenClock) -> None:
    app = App(Settings(data_dir=config_dir.parent / "setup", config_dir=config_dir, database_url=url), clock)
    migrate(app.engine)
    with write_session(app.engine) as session:
        catalog.sync(session, app.config)
        for n in range(1, communes + 1):
            ann = announcements.create(session, config=app.config, author="lan", now=clock.now(), draft=Draft(
                unit=f"c{n:03d}", title=f"Tin CCHC của xã số {n}", body="Bà con nộp hồ sơ trực tuyến.",
                channels=[f"c{n:03d}-loa"], languages=["vi"], repeat="daily",
                at=START + timedelta(days=1) - timedelta(hours=1), until=(START + timedelta(days=days)).date()))
            announcements.submit(session, ann=ann, actor="lan", now=clock.now())
            announcements.approve(session, config=app.config, ann=ann, approver="hung", now=clock.now())
    app.engine.dispose()


def node(url: str, config_dir: Path, name: str, clock: FrozenClock) -> SlotOwner:
    app = App(Settings(data_dir=config_dir.parent / name, config_dir=config_dir, database_url=url), clock)
    broadcaster = app.broadcaster()
    broadcaster.worker = f"{name}:1"  # two nodes in one process: names as two machines would have
    owner = SlotOwner(app, broadcaster, threading.Event())
    owner.lease = lease.Owner(app.engine, lease.SLOTS, broadcaster.worker, ttl=TTL)
    return owner


def renew_in_background(owner: SlotOwner) -> threading.Event:
    """The service's lease job (every ``lease.RENEW``, on its own thread while slots play), here every
    RENEW_EVERY for the bench's short lease; set the event returned to stop it dead."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(RENEW_EVERY):
            owner.renew()

    threading.Thread(target=loop, daemon=True).start()
    return stop


def week(url: str, config_dir: Path, communes: int, days: int, kill_day: int | None) -> dict:
    clock = FrozenClock(START)
    prepare(url, config_dir, communes, days, clock)
    nodes = [node(url, config_dir, "node-a", clock)] + ([node(url, config_dir, "node-b", clock)] if kill_day else [])
    renewing = [renew_in_background(owner) for owner in nodes]
    nodes[0].renew()  # node A starts first and owns the slots
    alive = list(nodes)
    slots = slot_times(["06:00", "17:00"], START, START + timedelta(days=days))
    takeover = None
    began = time.perf_counter()
    for slot in slots:
        for moment in (slot - timedelta(minutes=5), slot + timedelta(seconds=1)):
            clock.moment = moment
            for owner in alive:
                owner.run_due()
        if kill_day and slot.astimezone(START.tzinfo) >= START + timedelta(days=kill_day) and len(alive) == 2:
            renewing[0].set()  # node A dies after this slot: it never renews nor releases its lease again
            alive = [nodes[1]]
            killed = time.perf_counter()
            while not nodes[1].held:
                time.sleep(0.05)
            takeover = time.perf_counter() - killed
    elapsed = time.perf_counter() - began - (takeover or 0)
    for stop in renewing:
        stop.set()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT channel_id, slot_at, count(*), min(worker), min(status), "
                                    "max(extract(epoch from started_at - slot_at)) FROM as_run GROUP BY "
                                    "channel_id, slot_at")).all()
    engine.dispose()
    return {"runs": runs, "expected": len(slots) * communes, "takeover": takeover, "elapsed": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", type=int, default=75)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--kill-day", type=int, default=3)
    args = parser.parse_args()
    from tests.pg import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="cchc-bench-") as tmp:
            config_dir = make_config(Path(tmp), args.communes)
            speech = config_dir / "speech.toml"  # offline: espeak-ng only, no waiting on Google
            speech.write_text(speech.read_text(encoding="utf-8").replace('vi = ["gtts", "espeak-ng"]',
                                                                         'vi = ["espeak-ng"]'), encoding="utf-8")
            one = week(server.create("one_node"), config_dir, args.communes, args.days, None)
            two = week(server.create("two_nodes"), config_dir, args.communes, args.days, args.kill_day)
    finally:
        server.stop()
    for label, result in (("one node", one), ("two nodes", two)):
        once = sum(1 for r in result["runs"] if r[2] == 1)
        by_node: dict[str, int] = {}
        for r in result["runs"]:
            by_node[r[3].split(":")[0]] = by_node.get(r[3].split(":")[0], 0) + 1
        statuses = sorted({r[4] for r in result["runs"]})
        latest = max(r[5] or 0 for r in result["runs"])
        print(f"[{label}] {once}/{result['expected']} slots with exactly one as-run row (goal: all); started by "
              f"{by_node}; statuses {statuses}; latest start {latest:.1f} s after its slot time (grace 30 min); "
              f"week simulated in {result['elapsed']:.1f} s")
    print(f"[two nodes] takeover after node A stopped: {two['takeover']:.1f} s (its lease lasts {TTL.seconds} s "
          f"here, 30 s in service: goal under 60 s); the week at {one['elapsed'] / two['elapsed']:.2f}x the speed "
          "of one node alone")


if __name__ == "__main__":
    main()
