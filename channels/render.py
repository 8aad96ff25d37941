"""Per-channel text: what a social platform shows for one announcement in one language.

The title, the body cut to the platform's limit at a word boundary with "…", a link back to the
article on the website (when it is already published), hashtags, and the post's reference code in
brackets. Markup is removed: these platforms show plain text. The reference is how ``reconcile``
finds the post again among the page's recent posts after an unknown outcome, so it is never cut.
"""

from __future__ import annotations

import re

from channels.base import Post

ELLIPSIS = "…"


def marker(post: Post) -> str:
    return f"[{post.ref_code}]"


def social_text(post: Post, *, limit: int, hashtags: list[str], link: str | None = None) -> str:
    """The post's text in at most ``limit`` characters (code points), the reference always kept."""
    tags = " ".join(f"#{tag.lstrip('#')}" for tag in hashtags)
    tail = "\n\n".join(part for part in (f"Xem đầy đủ: {link}" if link else "", f"{tags} {marker(post)}".strip())
                       if part)
    title = cut(plain(post.title), max(1, limit // 4))
    budget = limit - len(title) - len(tail) - 4  # the blank lines between the three parts
    body = cut(plain(post.body), budget) if budget > 0 else ""
    return "\n\n".join(part for part in (title, body, tail) if part)


def plain(text: str) -> str:
    """Text without markup: platforms show posts as plain text, so a tag typed into a title
    (``<script>``) is dropped rather than shown or, on a careless platform, run."""
    return re.sub(r"<[^<>]*>", "", text).strip()


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, ending at a word with "…" when it had to be cut."""
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    kept = text[:room]
    space = kept.rfind(" ")
    if space > room * 0.8:  # end at a word when one is near
        kept = kept[:space]
    return kept.rstrip(" ,;:.-") + ELLIPSIS
