"""Soak: exactly once under faults, kills and clocks that disagree.

    .venv/bin/python bench/soak.py [--deliveries 5000] [--kills 100] [--spread 20] [--db sqlite|postgresql]
                                   [--minutes 60]

Two ``cchc run`` services share one database; the second one's clock runs five minutes ahead, and it
is killed with SIGKILL (then started again) ``--kills`` times while it works. Items go out on three
live channels, each against a local fake that misbehaves at random (tests/fakes/):

- webhook: HTTP 500, the item stored and then the answer stalled past the client's timeout, 429
  with ``Retry-After: 0``, 429 without it;
- Facebook: an HTML 500, a post stored and its answer lost, Graph's transient error #2, the #32 rate
  limit with Graph's usage header;
- Zalo: a 502, an article stored and its answer lost, the -32 rate limit sent with HTTP 200.

Items fall due evenly over ``--spread`` minutes and the kills are spread over the same time. A
commune posts a few items a day; packing 1,666 posts to one Facebook Page or Zalo OA into three
minutes would bury a lost answer deeper than a reconcile reads (Zalo lists articles without dates),
which is a test of the fake's page size, not of exactly once.

The shortest wait between two sends of one delivery is measured where the platforms received them
(one real clock); the attempts' own stamps mix the two services' clocks.

Rate limits are rarer than the other faults (0.2-0.4% of answers): each one rightly holds its whole
channel for a minute or more, and at 2% the holds alone would outlast any run.

When every delivery has ended (or ``--minutes`` have passed) it prints, with the figures the issue
asks for: duplicates on each platform, deliveries lost (not delivered, or delivered without being on
the platform), deliveries still open past their expiry, and requests per delivery against the send
attempts recorded, with the shortest wait between two sends of one delivery.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from channels.tokens import Tokens  # noqa: E402
from scheduler.clock import Clock, show  # noqa: E402
from scheduler.record.credentials import KEY_ENV, new_key  # noqa: E402
from scheduler.settings import Settings  # noqa: E402
from tests.cli import environment  # noqa: E402
from tests.fakes.facebook import FakeGraph  # noqa: E402
from tests.fakes.webhook import FakeReceiver  # noqa: E402
from tests.fakes.zalo import FakeZalo  # noqa: E402
from tests.helpers import approved, make_app, set_channel  # noqa: E402
from tests.pg import PostgresServer  # noqa: E402

CCHC = str(Path(sys.executable).with_name("cchc"))
PAGE, FB_TOKEN, FB_SECRET = "100000000000001", "EAAGsoakPageToken0001", "soak-app-secret-0001"
ZALO_APP, ZALO_SECRET, ZALO_REFRESH = "1234567890123456789", "soak-zalo-secret-01", "soak-zalo-refresh-0001"
HOOK_TOKEN = "soak-webhook-token-0001"
CHANNELS = ["muong-la-webhook", "muong-la-facebook", "muong-la-zalo"]
OPEN = ("pending", "sending", "retry_wait", "needs_reconcile", "scheduled", "retracting", "needs_person")


def chaos(rng: random.Random, count: int, faults: list[tuple[float, tuple]], ok: tuple) -> list[tuple]:
    """``count`` scripted answers: each fault with its probability, the rest ``ok``."""
    steps = []
    for _ in range(count):
        roll, chosen = rng.random(), ok
        for chance, step in faults:
            if roll < chance:
                chosen = step
                break
            roll -= chance
        steps.append(chosen)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--spread", type=float, default=20, help="minutes over which the items fall due")
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="cchc-soak-"))
    server = None
    receiver, graph = FakeReceiver(), FakeGraph(PAGE, FB_TOKEN, app_secret=FB_SECRET)
    zalo = FakeZalo(ZALO_APP, ZALO_SECRET, ZALO_REFRESH)
    services: list[subprocess.Popen] = []
    try:
        url = f"sqlite:///{folder / 'cchc.db'}"
        if args.db == "postgresql":
            server = PostgresServer()
            server.start()
            url = server.create("soak")
        config = folder / "config"
        shutil.copytree(ROOT / "config", config)
        receiver.token = HOOK_TOKEN
        set_channel(config, "muong-la-webhook", mode="live", url=f'"{receiver.url}"',
                    reconcile_url=f'"{receiver.url}"', timeout_seconds="3")
        # the website's public address as an office sets it: live posts never link to this machine's own
        set_channel(config, "muong-la-website", base_url='"https://muongla.example.vn/"')
        set_channel(config, "muong-la-facebook", mode="live", graph_url=f'"{graph.url}"', timeout_seconds="5")
        set_channel(config, "muong-la-zalo", mode="live", api_url=f'"{zalo.url}"', oauth_url=f'"{zalo.url}"',
                    verify_wait_seconds="0", timeout_seconds="5")
        secrets = {"CCHC_FB_MUONG_LA_TOKEN": FB_TOKEN, "CCHC_FB_APP_SECRET": FB_SECRET,
                   "CCHC_ZALO_SECRET_KEY": ZALO_SECRET, "CCHC_WEBHOOK_TOKEN": HOOK_TOKEN, KEY_ENV: new_key()}
        os.environ.update(secrets)
        settings = Settings(data_dir=folder / "data", config_dir=config, database_url=url, site_port=0, web_port=0)
        env = environment(settings) | secrets | {"CCHC_TICK_SECONDS": "0.5", "CCHC_LOG_LEVEL": "WARNING"}
        subprocess.run([CCHC, "init", "--practice"], env=env, check=True, capture_output=True)
        app = make_app(settings, Clock())
        app.channels["muong-la-zalo"].tokens.save(Tokens("", ZALO_REFRESH))
        app.channels["muong-la-zalo"].current_tokens()

        items = args.deliveries // len(CHANNELS)
        receiver.script = chaos(rng, args.deliveries * 3, [
            (0.03, (500, {})), (0.02, ("stall", 6)), (0.002, (429, {"Retry-After": "0"})), (0.002, (429, {}))],
            (200, {}))
        graph.script = chaos(rng, args.deliveries * 3, [
            (0.03, ("http", 500, "<html>Internal Server Error</html>")), (0.02, ("store-then-drop",)),
            (0.02, ("error", 2, None, "Service temporarily unavailable")),
            (0.003, ("error", 32, None, "(#32) Page request limit reached"))], ("ok",))
        zalo.script = chaos(rng, args.deliveries * 3, [
            (0.03, ("http", 502, "<html>Bad Gateway</html>")), (0.02, ("store-then-drop",)),
            (0.003, ("error", -32, "Your OA reached limit call api"))], ("ok",))
        began = time.monotonic()
        start = datetime.now(UTC) + timedelta(seconds=90)
        step = args.spread * 60 / max(items, 1)
        for n in range(items):
            approved(app, channels=CHANNELS, at=start + timedelta(seconds=n * step),
                     title=f"Tin thử số {n}", body=f"Nội dung riêng của tin thử số {n}.")
        print(f"{items * len(CHANNELS)} deliveries queued in {time.monotonic() - began:.0f} s; "
              f"due from {show(start)} over {args.spread:g} minutes", flush=True)

        def start_service(skewed: bool) -> subprocess.Popen:
            command = [CCHC, "run"]
            if skewed:
                command += ["--now", show(datetime.now(UTC) + timedelta(minutes=5))]
            return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        services = [start_service(False), start_service(True)]
        engine = sa.create_engine(url)
        kills, deadline = 0, time.monotonic() + args.minutes * 60
        while time.monotonic() < deadline:
            pause = (90 + args.spread * 60) / max(args.kills, 1)
            time.sleep(rng.uniform(0.5, 1.5) * pause if kills < args.kills else 5)
            if kills < args.kills:
                os.kill(services[1].pid, signal.SIGKILL)
                services[1].wait()
                services[1] = start_service(True)
                kills += 1
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT state, count(*) FROM delivery GROUP BY state")).all()
            states = Counter(dict(rows))
            if kills % 10 == 0 or kills >= args.kills:
                print(f"  {time.monotonic() - began:6.0f} s, {kills} kills: {dict(states)}", flush=True)
            if kills >= args.kills and not any(states.get(s) for s in OPEN):
                break
        for service in services:
            service.terminate()
        for service in services:
            try:
                service.wait(60)
            except subprocess.TimeoutExpired:  # stuck in a long reconcile: a kill is part of the soak anyway
                service.kill()
                service.wait()
        report(engine, receiver, graph, zalo, kills, time.monotonic() - began)
        engine.dispose()
        app.engine.dispose()
    finally:
        for service in services:
            if service.poll() is None:
                service.kill()
        receiver.close()
        graph.close()
        zalo.close()
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def report(engine, receiver: FakeReceiver, graph: FakeGraph, zalo: FakeZalo, kills: int, seconds: float) -> None:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, ref_code, channel_id, state, expires_at FROM delivery")).all()
        attempts = conn.execute(sa.text(
            "SELECT delivery_id, started_at FROM attempt WHERE kind = 'send' ORDER BY delivery_id, started_at")).all()
    now = datetime.now(UTC).replace(tzinfo=None)
    # The webhook's ledger keeps one item a ref; its fake counts every time a ref was stored.
    stored = {"muong-la-webhook": Counter(receiver.stores), "muong-la-facebook": Counter(), "muong-la-zalo": Counter()}
    requests = {"muong-la-webhook": Counter(r["json"]["ref"] for r in receiver.requests),
                "muong-la-facebook": Counter(), "muong-la-zalo": Counter()}
    arrivals: dict[str, list[float]] = {}  # when each create request reached its fake (one real clock)
    for r in receiver.requests:
        arrivals.setdefault(r["json"]["ref"], []).append(r["at"])
    refs = {ref for _, ref, _, _, _ in rows}
    for post in graph.posts:
        stored["muong-la-facebook"].update(ref for ref in _refs(post.get("message") or "", refs))
    for request in graph.requests:
        if request["method"] == "POST":
            found = _refs(str(request.get("fields", {}).get("message", "")), refs)
            requests["muong-la-facebook"].update(found)
            for ref in found:
                arrivals.setdefault(ref, []).append(request["at"])
    for article in zalo.articles:
        stored["muong-la-zalo"].update(_refs(" ".join(b.get("content", "") for b in article.get("body", [])), refs))
    for request in zalo.requests:
        if request["path"].endswith("/article/create"):
            found = _refs(request["raw"].decode("utf-8", "replace"), refs)
            requests["muong-la-zalo"].update(found)
            for ref in found:
                arrivals.setdefault(ref, []).append(request["at"])
    duplicates = {name: sum(1 for n in counts.values() if n > 1) for name, counts in stored.items()}
    delivered = [(ref, channel) for _, ref, channel, state, _ in rows if state == "delivered"]
    lost = [(ref, channel, state) for _, ref, channel, state, _ in rows if state != "delivered"]
    missing = [(ref, channel) for ref, channel in delivered
               if channel != "muong-la-webhook" and stored[channel][ref] == 0]
    missing += [(ref, channel) for ref, channel in delivered
                if channel == "muong-la-webhook" and ref not in receiver.ledger]
    open_late = [ref for _, ref, _, state, expires in rows if state in OPEN and _when(expires) < now]
    sends: dict[int, list[datetime]] = {}
    for delivery_id, started in attempts:
        sends.setdefault(delivery_id, []).append(_when(started))
    by_id = {row[0]: (row[1], row[2]) for row in rows}
    over = [(by_id[d][0], by_id[d][1], requests[by_id[d][1]][by_id[d][0]], len(times))
            for d, times in sends.items() if requests[by_id[d][1]][by_id[d][0]] > len(times)]
    gaps = [(b - a).total_seconds() for times in sends.values() for a, b in zip(times, times[1:], strict=False)]
    real = [b - a for times in arrivals.values() for a, b in zip(sorted(times), sorted(times)[1:], strict=False)]
    print(f"\nSoak: {len(rows)} deliveries, {kills} SIGKILLs of the service whose clock runs 5 minutes ahead, "
          f"{seconds / 60:.1f} minutes")
    print(f"  duplicates on the platforms: {duplicates}")
    print(f"  lost: {len(lost)} not delivered {Counter(s for _, _, s in lost)}; "
          f"{len(missing)} delivered but not on the platform")
    print(f"  open past expiry: {len(open_late)}")
    print(f"  requests beyond one per send attempt: {len(over)}; send attempts: {sum(map(len, sends.values()))}, "
          f"deliveries sent more than once: {sum(1 for t in sends.values() if len(t) > 1)}")
    print(f"  shortest wait between two create requests of one delivery, as the platforms saw them: "
          f"{min(real, default=0):.1f} s; under 30 s: {sum(1 for gap in real if gap < 30)} "
          f"(on the attempts' own stamps, two clocks 5 minutes apart: {min(gaps, default=0):.1f} s)")
    for ref, channel, made, recorded in over[:10]:
        print(f"    {ref} on {channel}: {made} requests, {recorded} attempts")


def _when(value: datetime | str) -> datetime:
    """A timestamp from raw SQL: SQLite hands back text, PostgreSQL a naive datetime (both UTC)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _refs(text: str, refs: set[str]) -> list[str]:
    """The reference codes a platform's text carries (``[ML-2026-0007.2]``)."""
    found = []
    for part in text.split("[")[1:]:
        ref = part.split("]", 1)[0]
        if ref in refs:
            found.append(ref)
    return found


if __name__ == "__main__":
    main()
