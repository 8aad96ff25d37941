"""The long-running service: APScheduler 3.x as a clock, never as storage.

One process, a memory job store, ``timezone=Asia/Ho_Chi_Minh`` always. The jobs are small: a *tick*
that runs one dispatch pass over our own tables, and a *heartbeat* that records that the service is
alive. If the service was down, nothing is lost: the next tick finds what is due in the database, and
what expired meanwhile is marked expired, never played or posted late.

Several nodes may run on one PostgreSQL: all of them dispatch (claims keep that safe), and the one
holding the slot lease (``scheduler.record.lease``) runs the loudspeaker slots; if it dies, another node
takes the lease within a minute and the slots with it.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import func, select

from scheduler import sitehttp
from scheduler.app import App
from scheduler.clock import LOCAL_TZ
from scheduler.errors import InputError
from scheduler.outbox.states import CLAIMABLE
from scheduler.outbox.workers import worker_name
from scheduler.plans.periods import day_span
from scheduler.record.db import read_session, write_session
from scheduler.record.models import HEARTBEAT, STOPPED, Delivery, ServiceState

if TYPE_CHECKING:
    from scheduler.loudspeaker.broadcast import Broadcaster
    from scheduler.outbox.dispatch import Dispatcher

log = logging.getLogger("cchc.service")


def heartbeat(app: App) -> None:
    now = app.now()
    with write_session(app.engine) as session:
        waiting = session.exec(select(func.count()).select_from(Delivery)
                               .where(Delivery.state.in_(CLAIMABLE))).one()
        row = session.get(ServiceState, "heartbeat")
        if row is None:
            row = ServiceState(key="heartbeat", value="", updated_at=now)
            session.add(row)
        row.value, row.updated_at = worker_name(), now
    log.info("heartbeat: alive, %d deliveries waiting", waiting)


def mark_stopped(app: App) -> None:
    """A clean stop says the service is stopped, and when (``cchc restore`` right after ``systemctl stop`` is
    not refused, the dashboard and /healthz say it stopped); only over this node's own heartbeat: another
    node's still says it runs."""
    with write_session(app.engine) as session:
        row = session.get(ServiceState, HEARTBEAT)
        if row is not None and row.value == worker_name():
            row.value, row.updated_at = STOPPED, app.now()


def last_heartbeat(app: App) -> datetime | None:
    with read_session(app.engine) as session:
        row = session.get(ServiceState, "heartbeat")
        return row.updated_at if row else None


def tick(dispatcher: Dispatcher) -> None:
    """One dispatch pass of the service's one dispatcher (its send threads and what it learned of each
    platform's speed last for the service's life)."""
    report = dispatcher.run_once()
    if report.sent or report.reconciled or report.expired or report.rescued:
        log.info("tick: %s", report.summary())


def check_quotas(app: App) -> int:
    """Early warnings: every target of every unit's current plan, in the period running today.

    Each new warning is logged once and kept in the audit trail (``cchc compliance`` shows it).
    """
    from scheduler.errors import InputError
    from scheduler.plans import compliance

    now = app.now()
    today = now.astimezone(LOCAL_TZ).date()
    fresh = 0
    for unit in sorted({plan.unit for plan in app.config.plans.values()}):
        with read_session(app.engine) as session:  # counting takes a while: not inside a write lock
            try:
                result = compliance.evaluate(session, app.config, unit=unit, span=day_span(today), now=now)
            except InputError:
                continue  # no plan for this year
        if any(row.warning for row in result.rows):
            with write_session(app.engine) as session:
                fresh += len(compliance.warn(session, result, at=now))
    return fresh


def refresh_tokens(app: App) -> list[str]:
    """Renew the access tokens that are due, for live channels that renew their own (Zalo, TikTok).

    Run often enough that a token never lapses between posts, and so that the single-use refresh
    token keeps being replaced well inside its lifetime. Problems are logged as warnings.
    """
    from channels.tokens import TokenChannel

    problems = []
    for name, channel in app.channels.items():
        if isinstance(channel, TokenChannel) and app.config.channels[name].mode == "live":
            problem = channel.keep_fresh()
            if problem:
                log.warning("channel %s: %s", name, problem)
                problems.append(f"{name}: {problem}")
    return problems


class SlotOwner:
    """The loudspeaker slots of this node: it prepares, starts and carries them only while it holds the
    slot lease. ``renew`` runs every ``lease.RENEW``; gaining the lease starts the Icecast carriers,
    losing it stops them (another node's carriers take over the mounts)."""

    def __init__(self, app: App, broadcaster: Broadcaster, stop: threading.Event):
        from scheduler.record import lease

        self.broadcaster, self.stop = broadcaster, stop
        self.lease = lease.Owner(app.engine, lease.SLOTS, broadcaster.worker)
        self._carrying: threading.Event | None = None
        self._carriers: list[threading.Thread] = []

    @property
    def held(self) -> bool:
        return self.lease.held

    def renew(self) -> bool:
        """Renew the lease and start or stop the carriers to match; True while this node owns the slots."""
        held = self.lease.renew() and not self.stop.is_set()
        if held and self._carrying is None:
            self._carrying = threading.Event()
            self._carriers = self.broadcaster.start_carriers(self._carrying)
        elif not held and self._carrying is not None:
            self._end_carriers()
        return held

    def run_due(self) -> None:
        if self.held:
            self.broadcaster.run_due()

    def close(self) -> None:
        if self._carrying is not None:
            self._end_carriers()
        self.lease.release()

    def _end_carriers(self) -> None:
        assert self._carrying is not None
        self._carrying.set()
        for carrier in self._carriers:
            carrier.join(5)
        self._carrying, self._carriers = None, []


def schedule_slots(scheduler: BackgroundScheduler, app: App, broadcaster: Broadcaster,
                   owner: SlotOwner | None = None) -> int:
    """One cron job per loudspeaker slot to prepare its programme ahead, and one to start it on time.

    A further interval job (``run_due``) plays emergencies, starts any slot whose job did not fire,
    marks parts played as time passes and logs missed slots.
    """
    count = 0
    for name, channel in broadcaster.channels.items():
        grace = app.config.channels[name].grace_minutes * 60
        for slot in channel.settings.slots:
            hour, minute = map(int, slot.split(":"))
            ahead = (hour * 60 + minute - channel.settings.prepare_minutes) % (24 * 60)
            scheduler.add_job(_prepare_slot, "cron", args=[broadcaster, name, hour, minute, owner],
                              id=f"prepare:{name}:{slot}", hour=ahead // 60, minute=ahead % 60,
                              misfire_grace_time=channel.settings.prepare_minutes * 60, replace_existing=True)
            scheduler.add_job(_play_slot, "cron", args=[broadcaster, name, hour, minute, owner],
                              id=f"play:{name}:{slot}", hour=hour, minute=minute,
                              misfire_grace_time=grace, replace_existing=True)
            count += 1
    return count


class Slots:
    """The loudspeaker side of a node: its slot owner (lease, carriers) and one cron job per slot, built at the
    start and again when the loudspeaker channels change (``Reload``)."""

    def __init__(self, app: App, scheduler: BackgroundScheduler, stop: threading.Event):
        self.app, self.scheduler, self.stop = app, scheduler, stop
        self.owner: SlotOwner | None = None
        self.channels: dict = {}  # the loudspeakers' configuration the jobs were built from

    def build(self) -> int:
        """(Re)build the owner and the slot jobs for the loudspeaker channels now configured; the number of
        slots a day."""
        from scheduler.record import lease

        self.close()
        for job in self.scheduler.get_jobs():
            if job.id.split(":")[0] in ("prepare", "play"):
                job.remove()
        self.channels = {name: ch for name, ch in self.app.config.channels.items() if ch.slotted and ch.enabled}
        if not any(channel.slotted for channel in self.app.channels.values()):
            for job_id in ("slot-lease", "broadcast"):
                if self.scheduler.get_job(job_id):
                    self.scheduler.remove_job(job_id)
            return 0
        broadcaster = self.app.broadcaster()  # one for the process: it keeps the TTS engines' cool-downs
        self.owner = SlotOwner(self.app, broadcaster, self.stop)
        self.owner.renew()  # before the first slot job: a single node owns its slots from the start
        count = schedule_slots(self.scheduler, self.app, broadcaster, self.owner)
        self.scheduler.add_job(self.owner.renew, "interval", id="slot-lease", replace_existing=True,
                               seconds=lease.RENEW.total_seconds())
        self.scheduler.add_job(self.owner.run_due, "interval", id="broadcast", replace_existing=True,
                               seconds=self.app.settings.tick_seconds, next_run_time=datetime.now(LOCAL_TZ))
        return count

    def changed(self) -> bool:
        return self.channels != {name: ch for name, ch in self.app.config.channels.items()
                                 if ch.slotted and ch.enabled}

    def close(self) -> None:
        if self.owner is not None:
            self.owner.close()
            self.owner = None


class Reload:
    """The ``config`` job: read the configuration again when its files changed (``App.refresh_config``).
    When channels changed (read by this job or by a page of this process), the next dispatch pass uses a
    dispatcher built for them (a pass running keeps its own to its end: the job never runs twice at once),
    and when loudspeakers changed, the slots are built again (a programme playing on Icecast is cut:
    change them between slots)."""

    def __init__(self, app: App, scheduler: BackgroundScheduler, slots: Slots):
        self.app, self.scheduler, self.slots = app, scheduler, slots
        self.channels = app.config.channels  # what the dispatcher in use was built for

    def __call__(self) -> None:
        self.app.refresh_config()  # or a page of this process already did
        if self.app.config.channels == self.channels:
            return
        self.channels = self.app.config.channels
        self.scheduler.modify_job("tick", args=[self.app.dispatcher()])
        if self.slots.changed():
            count = self.slots.build()
            log.info("loudspeaker slots built again: %d a day", count)


def _slot_at(broadcaster: Broadcaster, hour: int, minute: int, *, upcoming: bool) -> datetime:
    local = broadcaster.now().astimezone(LOCAL_TZ)
    moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if upcoming and moment < local:
        moment += timedelta(days=1)
    elif not upcoming and moment > local + timedelta(minutes=1):
        moment -= timedelta(days=1)
    return moment.astimezone(UTC)


def _prepare_slot(broadcaster: Broadcaster, name: str, hour: int, minute: int, owner: SlotOwner | None = None
                  ) -> None:
    if owner is None or owner.held:
        broadcaster.programmes.prepare(name, _slot_at(broadcaster, hour, minute, upcoming=True))


def _play_slot(broadcaster: Broadcaster, name: str, hour: int, minute: int, owner: SlotOwner | None = None
               ) -> None:
    if owner is None or owner.held:
        broadcaster.play(name, _slot_at(broadcaster, hour, minute, upcoming=False))


def send_notices(app: App) -> None:
    """Email notices (scheduler.notify): apart from dispatch, so a mail server down holds up nothing."""
    from scheduler import notify

    notify.run(app.engine, app.config, app.now())


class JobLog:
    """What the scheduler's jobs did that the log must say: an error, a missed run, and a run that outlasted
    its interval, once for that run (a dispatch pass on a slow platform often does, and a line at every
    skipped tick would bury the rest of the log)."""

    def __init__(self) -> None:
        self.long: set[str] = set()  # jobs whose current run has outlasted its interval

    def __call__(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_ERROR:
            log.error("job %s failed: %s", event.job_id, getattr(event, "exception", ""))
        elif event.code == EVENT_JOB_MISSED:
            log.error("job %s missed its run time", event.job_id)
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            if event.job_id not in self.long:
                self.long.add(event.job_id)
                log.warning("job %s still running after its interval; it runs again when it ends", event.job_id)
        if event.code in (EVENT_JOB_ERROR, EVENT_JOB_EXECUTED):
            self.long.discard(event.job_id)


def run(app: App, stop: threading.Event | None = None) -> None:
    """Run until SIGTERM, SIGINT (Ctrl-C) or ``stop`` is set; shut down after the current tick. A live channel
    whose posts would link to this machine's own address stops it before it starts (``InputError``)."""
    from scheduler.channel_setup import loopback_links

    problems = loopback_links(app.config)
    if problems:
        raise InputError("base_url", "; ".join(problems))
    app.ready_engine()
    stop = stop or threading.Event()
    quiet = logging.getLogger("cchc.service.scheduler")  # its one warning, a skipped run, is JobLog's to say
    quiet.setLevel(logging.ERROR)
    scheduler = BackgroundScheduler(
        timezone=LOCAL_TZ, logger=quiet,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    scheduler.add_listener(JobLog(), EVENT_JOB_ERROR | EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    started = datetime.now(LOCAL_TZ)
    scheduler.add_job(tick, "interval", args=[app.dispatcher()], id="tick", replace_existing=True,
                      seconds=app.settings.tick_seconds, next_run_time=started)
    scheduler.add_job(heartbeat, "interval", args=[app], id="heartbeat", replace_existing=True,
                      seconds=app.settings.heartbeat_seconds, next_run_time=started)
    scheduler.add_job(check_quotas, "interval", args=[app], id="quotas", replace_existing=True,
                      minutes=30, next_run_time=started)
    scheduler.add_job(refresh_tokens, "interval", args=[app], id="tokens", replace_existing=True,
                      minutes=10, next_run_time=started)
    if app.config.notify is not None and app.config.notify.enabled:
        from scheduler import notify

        scheduler.add_job(send_notices, "interval", args=[app], id="notices", replace_existing=True,
                          seconds=notify.INTERVAL.total_seconds(), next_run_time=started)
    slots = Slots(app, scheduler, stop)
    count = slots.build()
    # units imported, a year's plan made, a channel's settings changed (a page, or a command in another
    # process): in use within a tick
    scheduler.add_job(Reload(app, scheduler, slots), "interval", id="config", replace_existing=True,
                      seconds=app.settings.tick_seconds)

    def _stop(signum: int, _frame: object) -> None:
        log.info("received %s: stopping after the current tick", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    site = web = None
    if app.settings.site_port:
        site = sitehttp.serve(app.settings.data_dir / "site", app.settings.site_host, app.settings.site_port,
                              {name: channel.title for name, channel in app.config.channels.items()})
    if app.settings.web_port:
        from scheduler.web.server import start_in_thread

        web = start_in_thread(app, app.settings.web_host, app.settings.web_port)
    scheduler.start()
    log.info("service started (tick every %ss, %d channels, %d loudspeaker slots a day)",
             app.settings.tick_seconds, len(app.channels), count)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        scheduler.shutdown(wait=True)
        slots.close()  # carriers end, and the lease is given up so another node takes the slots at once
        if site is not None:
            site.shutdown()
        if web is not None:
            web.should_exit = True
        try:
            mark_stopped(app)
        except Exception:  # the database gone at the stop: the heartbeat ages out by itself
            log.exception("could not record the stop in the heartbeat")
        log.info("service stopped")
