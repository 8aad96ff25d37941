"""The composition root: settings + clock -> engine, configuration, channels, dispatcher.

Nothing is built at import time; every command and test builds its own ``App``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from scheduler.clock import Clock
from scheduler.config import Config, fingerprint, load_config
from scheduler.errors import ConfigError, InputError
from scheduler.record.db import ensure_ready, make_engine

log = logging.getLogger("cchc.app")

if TYPE_CHECKING:  # built on first use, so a command that only reads loads no channel or dispatcher
    from sqlalchemy.engine import Engine

    from channels.base import Channel
    from channels.loudspeaker.tts import Voices
    from scheduler.loudspeaker.broadcast import Broadcaster
    from scheduler.outbox.dispatch import Dispatcher
    from scheduler.outbox.states import RetryPolicy
    from scheduler.record.scope import Scope
    from scheduler.settings import Settings


class App:
    """``scratch``: ``settings`` are the scratch copy's (``scheduler.record.scratch``), and every channel is made
    unable to reach a platform or the station."""

    def __init__(self, settings: Settings, clock: Clock | None = None, *, scratch: bool = False):
        self.settings = settings
        self.clock = clock or Clock()
        self.scratch = scratch
        self.trial_time = False  # the clock was set with --now
        self._ready = False

    def refuse_trial_time(self) -> None:
        """A change made "as if it were another time" is allowed on a practice database only."""
        if self.trial_time:
            from scheduler.record.scratch import refuse_on_real_data

            refuse_on_real_data(self.ready_engine())

    def now(self) -> datetime:
        return self.clock.now()

    @cached_property
    def config(self) -> Config:
        self._config_mark = fingerprint(self.settings.config_dir)
        return self._read_config()

    def _read_config(self) -> Config:
        config = load_config(self.settings.config_dir)
        if self.scratch:
            from scheduler.record.scratch import safe_config

            config = safe_config(config)
        return config

    def refresh_config(self) -> bool:
        """Read the configuration again if its files changed since it was read (units imported, a new year's
        plan, by a page of this process or a command of another) and bring the database's catalogue in line,
        so pages and counts use it at once. A configuration that no longer loads is logged and the one in
        use kept. When channels changed (a page's settings, units imported), they are built again at their next
        use; the service then builds its dispatcher and slots again (``service.Reload``)."""
        from scheduler.record import catalog
        from scheduler.record.db import write_session

        if "config" not in self.__dict__:
            return False  # never read: the first use reads the current files
        mark = fingerprint(self.settings.config_dir)
        if mark == self._config_mark:
            return False
        self._config_mark = mark
        old = self.config
        try:
            config = self._read_config()
        except ConfigError as exc:
            log.error("the configuration changed but does not load; the one in use is kept:\n%s", exc)
            return False
        with write_session(self.ready_engine()) as session:
            catalog.sync(session, config)
        self.__dict__["config"] = config
        if config.channels != old.channels:
            self.__dict__.pop("channels", None)
            log.info("channels changed in the configuration: built again")
        log.info("configuration read again: %d units, %d plans", len(config.units), len(config.plans))
        return True

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.url)

    def ready_engine(self) -> Engine:
        """The engine, after checking that ``cchc init`` has created the current schema: once per
        ``App`` (a service or the web app checks at its first use, not at every pass or page)."""
        if not self._ready:
            ensure_ready(self.engine)
            self._ready = True
        return self.engine

    @cached_property
    def channels(self) -> dict[str, Channel]:
        """Every enabled channel, built once and wired as it is built: the service's clock for time rules
        (Zalo's night, token expiry), the outbox's hooks, the database's token store (Zalo, TikTok), the
        loudspeaker's voices (TikTok's videos, WordPress's players)."""
        from channels import REGISTRY, build_channel
        from channels.base import Wiring
        from scheduler.outbox.progress import Progress
        from scheduler.record.credentials import CredentialStore

        enabled = {name: ch for name, ch in self.config.channels.items() if ch.enabled}
        speaking = any(REGISTRY[ch.kind].speaks for ch in enabled.values())
        wiring = Wiring(clock=self.now, hooks=Progress(self.engine),
                        tokens=lambda name: CredentialStore(self.engine, name, now=self.now),
                        voices=self.voices if speaking else None)
        return {name: build_channel(name, ch.kind, ch.settings, data_dir=self.settings.data_dir, wiring=wiring)
                for name, ch in enabled.items()}

    @cached_property
    def voices(self) -> Voices:
        """The TTS chain for channels other than the loudspeaker (one sample rate, one cache)."""
        from channels.loudspeaker.tts import Voices

        return Voices(self.config.speech, self.settings.data_dir / "cache" / "tts", 44100)

    def broadcaster(self, **kwargs: Any) -> Broadcaster:
        from channels.loudspeaker import LoudspeakerChannel
        from scheduler.loudspeaker.broadcast import Broadcaster  # pydub and the TTS chain load only when needed

        loudspeakers = {name: ch for name, ch in self.channels.items() if isinstance(ch, LoudspeakerChannel)}
        return Broadcaster(self.ready_engine(), self.config, loudspeakers, self.settings.data_dir,
                           now=self.now, **kwargs)

    def loudspeaker(self, name: str | None = None, scope: Scope | None = None) -> str:
        """The loudspeaker channel named, or the first one of the unit in use: ``scope``'s own (a command's or
        page's account, ``scheduler.record.scope``), or the default unit. Only the loudspeakers of the units ``scope``
        reads can be named."""
        from scheduler.record import scope as scopes

        seen = scope or scopes.everything(self.config)
        if name is not None:
            seen.channel(self.config, name, loudspeaker=True)
            if not self.config.channels[name].enabled:
                raise InputError("--channel", f"kênh {name} đang tắt (enabled = false trong config/channels.toml)")
            return name
        names = [n for n in seen.channels(self.config, loudspeaker=True) if self.config.channels[n].enabled]
        own = [n for n in names if self.config.channels[n].unit == seen.home]
        if not (own or names):
            raise InputError("--channel", "chưa có kênh truyền thanh (kind = \"loudspeaker\") trong "
                                          "config/channels.toml")
        return (own or names)[0]

    def dispatcher(self, policy: RetryPolicy | None = None) -> Dispatcher:
        from scheduler.outbox.dispatch import Dispatcher

        modes = {name: ch.mode for name, ch in self.config.channels.items()}
        ahead = {name: timedelta(minutes=ch.send_ahead_minutes) for name, ch in self.config.channels.items()
                 if ch.send_ahead_minutes and ch.mode == "live"}
        in_flight = {name: ch.in_flight for name, ch in self.config.channels.items()}
        real_clock = type(self.clock) is Clock and not self.clock.offset  # not --now, not a test's clock
        return Dispatcher(self.ready_engine(), self.channels, modes, now=self.now, policy=policy, ahead=ahead,
                          in_flight=in_flight, cool_down=real_clock)
