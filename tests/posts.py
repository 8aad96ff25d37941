"""A post as the dispatcher hands it to a channel, for the channels' own tests."""

from __future__ import annotations

from datetime import UTC, datetime

from channels.base import Post

NOW = datetime(2025, 9, 1, 0, 0, tzinfo=UTC)


def post(ref="ML-2025-0001.1", lang="vi", title="Hướng dẫn nộp hồ sơ trực tuyến", body="Dòng một.\n\nDòng hai."):
    return Post(delivery_id=1, ref_code=ref, announcement_id=1, lang=lang, title=title, body=body,
                priority="normal", topics=["d"], due_at=NOW, unit_name="Xã Mường La", sent_at=NOW)
