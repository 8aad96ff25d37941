"""The demo announcements in ``config/samples/announcements.toml``, queued and sent for review.

Their times are relative ("tomorrow at 06:00"), so the demo works whatever day it is run. Loading
twice adds nothing: each sample is keyed by its name in the file.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import Session, select

from scheduler import announcements
from scheduler.announcements import Draft
from scheduler.clock import LOCAL_TZ
from scheduler.config import Config
from scheduler.record.models import Announcement


def load(session: Session, *, config: Config, now: datetime, recordings) -> list[Announcement]:  # noqa: ANN001
    created = []
    for key, sample in config.samples.items():
        if session.exec(select(Announcement).where(Announcement.sample_key == key)).first():
            continue
        schedule = sample.schedule
        at = None
        if not schedule.next_slot:
            day = now.astimezone(LOCAL_TZ).date() + timedelta(days=schedule.in_days)
            hour, minute = map(int, schedule.time.split(":"))
            at = datetime.combine(day, time(hour, minute), LOCAL_TZ)
        draft = Draft(
            title=sample.title, body=sample.body, topics=sample.topics, channels=sample.channels,
            languages=list(sample.languages), priority=sample.priority, at=at,
            next_slot=schedule.next_slot, unit=sample.unit,
            repeat=schedule.repeat if schedule.repeat != "none" else None,
            until=(at.date() + timedelta(days=schedule.days)) if at and schedule.repeat != "none" else None,
        )
        ann = announcements.create(session, config=config, draft=draft, author=sample.author, now=now)
        ann.sample_key = key
        for lang, text in sample.translations.items():
            announcements.translate(session, ann=ann, lang=lang, title=text.title, body=text.body,
                                    audio=None, recordings=recordings, translator=sample.author, now=now)
        announcements.submit(session, ann=ann, actor=sample.author, now=now)
        created.append(ann)
    return created
