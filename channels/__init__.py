"""Output channels: one module per platform, and the registry that maps a config ``kind`` to a class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from channels.base import Channel
from channels.facebook import FacebookChannel
from channels.loudspeaker import LoudspeakerChannel
from channels.tiktok import TikTokChannel
from channels.webhook import WebhookChannel
from channels.website import WebsiteChannel
from channels.wordpress import WordPressChannel
from channels.zalo import ZaloChannel

REGISTRY: dict[str, type[Channel]] = {
    cls.kind: cls
    for cls in (WebsiteChannel, WebhookChannel, LoudspeakerChannel, FacebookChannel, WordPressChannel,
                ZaloChannel, TikTokChannel)
}


def get_channel_class(kind: str) -> type[Channel]:
    try:
        return REGISTRY[kind]
    except KeyError:
        raise LookupError(f'No channel kind by the name "{kind}" was found') from None


def build_channel(name: str, kind: str, settings: dict[str, Any], *, data_dir: Path) -> Channel:
    return get_channel_class(kind)(name, settings, data_dir=data_dir)
