"""Output channels: one module per platform, and the registry that maps a config ``kind`` to a class.

The registry names each kind's module and imports it only when that kind is used, so importing a
small part of this package (``channels.secrets``, ``channels.base``) never pulls in every platform
and its libraries (pydub, PIL, cryptography).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channels.base import Channel, Wiring

_CLASSES = {
    "website": "channels.website:WebsiteChannel",
    "webhook": "channels.webhook:WebhookChannel",
    "loudspeaker": "channels.loudspeaker:LoudspeakerChannel",
    "facebook": "channels.facebook:FacebookChannel",
    "wordpress": "channels.wordpress:WordPressChannel",
    "zalo": "channels.zalo:ZaloChannel",
    "tiktok": "channels.tiktok:TikTokChannel",
}


class _Registry(Mapping[str, "type[Channel]"]):
    """``kind`` -> channel class, importing the class's module on first use."""

    def __getitem__(self, kind: str) -> type[Channel]:
        module, _, name = _CLASSES[kind].partition(":")
        return getattr(import_module(module), name)

    def __iter__(self) -> Iterator[str]:
        return iter(_CLASSES)

    def __len__(self) -> int:
        return len(_CLASSES)


REGISTRY: Mapping[str, type[Channel]] = _Registry()


def get_channel_class(kind: str) -> type[Channel]:
    try:
        return REGISTRY[kind]
    except KeyError:
        raise LookupError(f'No channel kind by the name "{kind}" was found') from None


def build_channel(name: str, kind: str, settings: dict[str, Any], *, data_dir: Path,
                  wiring: Wiring | None = None) -> Channel:
    """A channel of ``kind``, given at once everything it is wired to (``Wiring``; none: the real clock,
    no outbox, no token store, no voices)."""
    return get_channel_class(kind)(name, settings, data_dir=data_dir, wiring=wiring)
