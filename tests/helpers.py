"""Builders shared by tests: announcements through the real core functions, and a scripted channel."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from channels.base import Channel, Found, Outcome, Post, Receipt, Reconciled
from scheduler import announcements
from scheduler.announcements import Draft
from scheduler.app import App
from scheduler.record import catalog
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Announcement, Delivery


def make_app(settings, clock) -> App:
    """An App whose database holds the configuration in ``settings.config_dir``."""
    app = App(settings, clock)
    with write_session(app.engine) as session:
        catalog.sync(session, app.config)
    return app


def set_channel(config_dir: Path, name: str, *, mode: str | None = None, send_ahead_minutes: int | None = None,
                repeats: bool | None = None, **values: str) -> None:
    """Change channel ``name`` in a copied config: its ``mode``, ``send_ahead_minutes`` and ``repeats``, and settings
    given as TOML text (``gap_ms="300"``, ``url='"http://..."'``); a dotted key's value is a whole
    sub-table appended."""
    path = config_dir / "channels.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index(f"[channels.{name}]\n")
    end = text.index(f"[channels.{name}.settings]\n", start)
    head = text[start:end]
    if mode is not None:
        head = re.sub(r'(?m)^mode = "\w+"$', f'mode = "{mode}"', head)
    if send_ahead_minutes is not None:
        head = re.sub(r"(?m)^send_ahead_minutes = \d+\n", "", head).rstrip("\n")
        head += f"\nsend_ahead_minutes = {send_ahead_minutes}\n\n"
    if repeats is not None:
        head = head.rstrip("\n") + f"\nrepeats = {'true' if repeats else 'false'}\n\n"
    text = text[:start] + head + text[end:]
    head = f"[channels.{name}.settings]\n"
    start = text.index(head) + len(head)
    end = text.find("\n[", start)
    end = len(text) if end < 0 else end
    kept = [row for row in text[start:end].split("\n") if row.split("=")[0].strip() not in values]
    lines = [f"{key} = {value}" for key, value in values.items() if "." not in key]
    tables = "".join(f"\n{value}\n" for key, value in values.items() if "." in key)
    path.write_text(text[:start] + "\n".join(lines + kept) + text[end:] + tables, encoding="utf-8")


def add_commune(config_dir: Path, unit: str = "it-ong", name: str = "Xã Ít Ong", prefix: str = "IO") -> None:
    """A second commune of the province in a copied config, with a website and a loudspeaker of its own."""
    with (config_dir / "units.toml").open("a", encoding="utf-8") as units:
        units.write(f'\n[units.{unit}]\nname = "{name}"\nlevel = "commune"\nparent = "son-la"\n'
                    f'ref_prefix = "{prefix}"\nstation_name = "Đài truyền thanh {name.lower()}"\n'
                    'slots = ["06:30", "17:30"]\n')
    with (config_dir / "channels.toml").open("a", encoding="utf-8") as channels:
        channels.write(f'\n[channels.{unit}-website]\nunit = "{unit}"\nkind = "website"\n'
                       f'title = "Trang thông tin điện tử {name.lower()}"\n\n[channels.{unit}-website.settings]\n'
                       f'site_title = "Trang thông tin điện tử {name.lower()}"\n'
                       f'base_url = "http://127.0.0.1:8080/{unit}-website/"\n'
                       f'\n[channels.{unit}-loa]\nunit = "{unit}"\nkind = "loudspeaker"\n'
                       f'title = "Hệ thống truyền thanh {name.lower()}"\nlanguages = ["vi"]\ngrace_minutes = 30\n'
                       f'\n[channels.{unit}-loa.settings]\nslots = ["06:30", "17:30"]\n'
                       f'station_id = "Đây là Đài truyền thanh {name.lower()}."\noutro = "Hết chương trình."\n')


def queue(app, *, author: str = "lan", at: datetime | None = None, **fields: Any) -> Announcement:
    fields.setdefault("title", "Thông báo lịch tiếp công dân")
    fields.setdefault("body", "UBND xã Mường La thông báo lịch tiếp công dân tháng 9/2025.")
    fields.setdefault("channels", ["muong-la-website"])
    if not fields.get("next_slot"):
        at = at or app.now() + timedelta(hours=1)
    with write_session(app.engine) as session:
        return announcements.create(session, config=app.config, draft=Draft(at=at, **fields),
                                    author=author, now=app.now())


def approved(app, *, author: str = "lan", approver: str = "hung", translations: dict | None = None,
             **fields: Any) -> Announcement:
    ann = queue(app, author=author, **fields)
    with write_session(app.engine) as session:
        ann = announcements.get(session, ann.id)
        for lang, text in (translations or {}).items():
            body, audio = text if isinstance(text, tuple) else (text, None)
            announcements.translate(session, ann=ann, lang=lang, title=None, body=body, audio=audio,
                                    recordings=app.settings.data_dir / "rec", translator=author, now=app.now())
        announcements.submit(session, ann=ann, actor=author, now=app.now())
        announcements.approve(session, config=app.config, ann=ann, approver=approver, now=app.now())
    return ann


def all_deliveries(app) -> list[Delivery]:
    """Every delivery in the order it was made."""
    with read_session(app.engine) as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)).all())


def dispatch(app, clock, at: datetime):
    """One dispatch pass at ``at`` on the test clock."""
    clock.moment = at
    return app.dispatcher().run_once()


class ScriptedChannel(Channel):
    """A channel whose answers a test scripts: a list of receipts (or callables) used in turn."""

    kind = "scripted"
    category, label = "social", "kênh thử"

    def __init__(self, name: str = "muong-la-website", *, data_dir: Path = Path("/nonexistent"),
                 receipts: list[Receipt | Callable[[Post], Receipt]] | None = None,
                 reconciles: list[Reconciled] | None = None):
        super().__init__(name, {}, data_dir=data_dir)
        self.receipts = list(receipts or [])
        self.reconciles = list(reconciles or [])
        self.sent: list[Post] = []
        self.asked: list[Post] = []

    def send(self, post: Post) -> Receipt:
        self.sent.append(post)
        answer = self.receipts.pop(0) if self.receipts else Receipt(Outcome.SENT, remote_id=f"r-{post.ref_code}")
        return answer(post) if callable(answer) else answer

    def reconcile(self, post: Post, remote_id: str | None) -> Reconciled:
        self.asked.append(post)
        return self.reconciles.pop(0) if self.reconciles else Reconciled(Found.UNKNOWN)


def tone(path: Path, *, seconds: float, volume_db: float, frequency: int = 440) -> Path:
    """A real recording stand-in: a sine tone at a given level, in whatever format ``path`` names."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=f={frequency}:r=22050",
                    "-t", str(seconds), "-af", f"volume={volume_db}dB", str(path)], check=True)
    return path
