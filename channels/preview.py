"""Preview mode: write the exact request a channel would send into an outbox folder instead.

Used before credentials exist, and by simulations. The files are what a person checks before the
channel goes live: ``<data>/outbox/<channel>/<ref>.json``. Secrets are masked in them.
"""

from __future__ import annotations

from pathlib import Path

from channels.base import Channel, Found, Outcome, Post, Receipt, Reconciled
from channels.files import atomic_write, slug


def outbox_path(channel: Channel, post: Post) -> Path:
    return channel.data_dir / "outbox" / channel.name / f"{slug(post.ref_code)}.json"


def preview_send(channel: Channel, post: Post) -> Receipt:
    path = outbox_path(channel, post)
    try:
        atomic_write(path, channel.request_for(post).to_json())
    except OSError as exc:
        return Receipt(Outcome.RETRYABLE, message=f"không ghi được hộp thư xem trước: {exc.strerror}")
    return Receipt(Outcome.SENT, remote_id=f"preview:{post.ref_code}", url=str(path),
                   message="chế độ xem trước: đã ghi yêu cầu, không gửi đi")


def preview_reconcile(channel: Channel, post: Post) -> Reconciled:
    path = outbox_path(channel, post)
    if path.exists():
        return Reconciled(Found.PRESENT, f"preview:{post.ref_code}", str(path))
    return Reconciled(Found.ABSENT)
