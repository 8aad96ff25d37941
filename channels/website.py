"""The built-in website: a static site (index, one page per post, an Atom feed) in a folder.

Kind ``website``. Settings: ``site_title``, ``base_url`` (public address of the folder, for links
in the feed), ``folder`` (default ``site/<channel name>`` under the data folder), ``index_size``.
Any web server (or the staff web app) can serve the folder. Every file is written atomically and
all text is escaped by the templates. ``posts.json`` is the site's own record of what it holds: a
post whose reference code is already there is not written again, which makes a repeated send
harmless and lets ``reconcile`` answer exactly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from channels.base import Channel, ChannelSettings, Found, Outcome, Post, Receipt, Reconciled, Wiring
from channels.files import atomic_write, folder_lock, slug
from channels.languages import LANGUAGE_TITLES

LANGUAGE_NAMES = LANGUAGE_TITLES  # a page's language switcher
_LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


class WebsiteSettings(ChannelSettings):
    site_title: str
    base_url: str = ""
    folder: str | None = None
    index_size: int = 50


class WebsiteChannel(Channel):
    """Publishes to the built-in static website (kind ``website``)."""

    kind = "website"
    category = "website"
    label = "Trang thông tin điện tử"
    local = True  # writes files under the data folder only
    Settings = WebsiteSettings

    def __init__(self, name: str, settings: dict[str, Any], *, data_dir: Path, wiring: Wiring | None = None):
        super().__init__(name, settings, data_dir=data_dir, wiring=wiring)
        folder = self.settings.folder or f"site/{name}"
        self.folder = Path(folder) if Path(folder).is_absolute() else data_dir / folder
        self._templates = Environment(
            loader=PackageLoader("channels", "templates"),
            autoescape=select_autoescape(["html", "atom"]),
            keep_trailing_newline=True,
        )

    def check(self) -> list[str]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return [f"không tạo được thư mục trang web {self.folder}: {exc.strerror}"]
        return []

    def send(self, post: Post) -> Receipt:
        try:
            with folder_lock(self.folder):
                manifest = self._manifest()
                existing = next((e for e in manifest if e["ref"] == post.ref_code), None)
                if existing is None:
                    existing = self._publish(post, manifest)
        except OSError as exc:
            return Receipt(Outcome.RETRYABLE, message=f"không ghi được trang web: {exc.strerror}")
        return Receipt(Outcome.SENT, remote_id=existing["ref"], url=self.settings.base_url + existing["path"])

    def reconcile(self, post: Post, remote_id: str | None) -> Reconciled:
        try:
            manifest = self._manifest()
        except OSError as exc:
            return Reconciled(Found.UNKNOWN, message=f"không đọc được trang web: {exc.strerror}")
        for entry in manifest:
            if entry["ref"] == post.ref_code:
                return Reconciled(Found.PRESENT, entry["ref"], self.settings.base_url + entry["path"])
        return Reconciled(Found.ABSENT)

    def _manifest(self) -> list[dict[str, Any]]:
        path = self.folder / "posts.json"
        if not path.exists():
            return []
        return json.loads(path.read_text(encoding="utf-8"))

    def _publish(self, post: Post, manifest: list[dict[str, Any]]) -> dict[str, Any]:
        published = post.sent_at
        entry = {
            "ref": post.ref_code,
            "path": f"posts/{slug(post.ref_code)}.html",
            "title": post.title,
            "body": post.body,
            "lang": post.lang,
            "published": published.isoformat(timespec="seconds"),
        }
        page = self._templates.get_template("post.html").render(
            post=post,
            site_title=self.settings.site_title,
            style=self._style(),
            paragraphs=[p.splitlines() for p in post.body.split("\n\n") if p.strip()],
            published_local=_local(published),
            language_name=LANGUAGE_NAMES.get(post.lang, post.lang),
        )
        atomic_write(self.folder / entry["path"], page)
        manifest.insert(0, entry)
        self._write_indexes(manifest)
        # The manifest goes last: a crash before this line leaves a page that reconcile ignores
        # and the next send overwrites, never a manifest entry without its page.
        atomic_write(self.folder / "posts.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        return entry

    def _write_indexes(self, manifest: list[dict[str, Any]]) -> None:
        shown = [
            {**e, "published_local": _local(datetime.fromisoformat(e["published"])),
             "language_name": LANGUAGE_NAMES.get(e["lang"], e["lang"])}
            for e in manifest[: self.settings.index_size]
        ]
        common = {"site_title": self.settings.site_title, "entries": shown, "style": self._style()}
        atomic_write(self.folder / "index.html",
                     self._templates.get_template("index.html").render(**common))
        feed = self._templates.get_template("feed.atom").render(
            **common,
            base_url=self.settings.base_url,
            feed_id=f"urn:cchc:site:{self.name}",
            updated=manifest[0]["published"] if manifest else datetime.now(UTC).isoformat(),
        )
        atomic_write(self.folder / "feed.atom", feed)

    def _style(self) -> str:
        return self._templates.loader.get_source(self._templates, "_style.css")[0]


def _local(moment: datetime) -> str:
    return moment.astimezone(_LOCAL).strftime("%H:%M %d/%m/%Y")
