"""The token store of channels that renew their own tokens (Zalo OA, TikTok): sealed in the database.

- the pair is sealed with Fernet (``CCHC_SECRET_KEY``: one key, or several separated by commas, the
  first used to seal and all tried to open, so a key can be rotated) and never stored in clear;
- one renewal at a time: a process takes a short lease on the row in one transaction, calls the
  platform outside any transaction, and writes the new pair in the next. Another process that finds
  the lease taken waits for a later pass; one that finds a newer version uses it instead of renewing;
- a crash after the platform answered but before the new pair was written loses the account: the
  platform has killed the old refresh token. That window is one HTTP answer long; a person then
  enters a new refresh token with ``cchc channel token NAME``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from channels.base import Outcome, Receipt
from channels.secrets import read_secret, remember
from channels.tokens import TokenProblem, Tokens, VaultError
from scheduler.clock import utc_now
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Credential

KEY_ENV = "CCHC_SECRET_KEY"
KEY_FILE_ENV = "CCHC_SECRET_KEY_FILE"
LEASE = timedelta(seconds=90)
_LOCKS: dict[str, threading.Lock] = {}


def new_key() -> str:
    return Fernet.generate_key().decode()


def _cipher() -> MultiFernet:
    text = read_secret(KEY_ENV)
    path = os.environ.get(KEY_FILE_ENV)
    if not text and path:
        try:
            text = Path(path).read_text().strip()
            remember(text, *text.split(","))
        except OSError as exc:
            raise VaultError(f"không đọc được tệp khóa {path} ({KEY_FILE_ENV}): {exc.strerror}") from None
    if not text:
        raise VaultError(f"chưa đặt khóa mã hoá {KEY_ENV}: tạo khóa bằng 'cchc channel key' và đặt vào biến "
                         f"môi trường {KEY_ENV} (hoặc ghi vào một tệp và đặt {KEY_FILE_ENV})")
    try:
        return MultiFernet([Fernet(part.strip().encode()) for part in text.split(",") if part.strip()])
    except (ValueError, TypeError):
        raise VaultError(f"khóa {KEY_ENV} không đúng dạng (cần 44 ký tự base64 do 'cchc channel key' tạo)") from None


class CredentialStore:
    """The sealed tokens of one channel (a ``channels.tokens.TokenStore``)."""

    def __init__(self, engine: Engine, channel: str, *, now: Callable[[], datetime] = utc_now):
        self.engine, self.channel, self.now = engine, channel, now

    def stored(self) -> bool:
        """Whether tokens were entered for this channel (no key needed to know)."""
        with read_session(self.engine) as session:
            return session.get(Credential, self.channel) is not None

    def load(self) -> Tokens | None:
        with read_session(self.engine) as session:
            row = session.get(Credential, self.channel)
            return self._open(row) if row else None

    def save(self, tokens: Tokens) -> Tokens:
        """Replace the pair (a person entered a new refresh token); renewals in flight lose their lease."""
        remember(tokens.access_token, tokens.refresh_token)
        sealed = self._seal(tokens)
        with write_session(self.engine) as session:
            row = session.get(Credential, self.channel)
            version = (row.version if row else 0) + 1
            if row is None:
                row = Credential(channel_id=self.channel, sealed=sealed, updated_at=self.now())
            row.sealed, row.version, row.refreshing_until, row.updated_at = sealed, version, None, self.now()
            row.access_expires_at, row.refresh_expires_at = tokens.access_expires_at, tokens.refresh_expires_at
            session.add(row)
        return replace(tokens, version=version)

    def renew(self, seen: Tokens, exchange: Callable[[Tokens], Tokens]) -> Tokens:
        """Trade ``seen``'s refresh token for a new pair, once across every process.

        Returns a newer pair without calling ``exchange`` when another renewal already replaced
        ``seen``. Raises ``TokenProblem`` (RETRYABLE) while another process holds the lease, and lets
        whatever ``exchange`` raises through after giving the lease back.
        """
        lock = _LOCKS.setdefault(self.channel, threading.Lock())
        with lock:
            with write_session(self.engine) as session:
                row = session.exec(select(Credential).where(Credential.channel_id == self.channel)
                                   .with_for_update()).first()
                if row is None:
                    raise VaultError(f"kênh {self.channel} chưa có mã; "
                                     f"hãy nhập bằng 'cchc channel token {self.channel}'")
                if row.version != seen.version:
                    return self._open(row)
                if row.refreshing_until and row.refreshing_until > self.now():
                    raise TokenProblem(Receipt(Outcome.RETRYABLE, retry_after=LEASE.total_seconds(),
                                               message="một tiến trình khác đang làm mới mã truy cập; sẽ thử lại"))
                row.refreshing_until = self.now() + LEASE
                current = self._open(row)
            try:
                fresh = exchange(current)
            except BaseException:
                self._release(seen.version)
                raise
            remember(fresh.access_token, fresh.refresh_token)
            with write_session(self.engine) as session:
                session.execute(update(Credential).where(col(Credential.channel_id) == self.channel).values(
                    sealed=self._seal(fresh), version=Credential.version + 1, refreshing_until=None,
                    access_expires_at=fresh.access_expires_at, refresh_expires_at=fresh.refresh_expires_at,
                    updated_at=self.now()))
            return replace(fresh, version=seen.version + 1)

    def _release(self, version: int) -> None:
        with write_session(self.engine) as session:
            session.execute(update(Credential).where(col(Credential.channel_id) == self.channel,
                                                     col(Credential.version) == version)
                            .values(refreshing_until=None))

    @staticmethod
    def _seal(tokens: Tokens) -> str:
        data = {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token}
        return _cipher().encrypt(json.dumps(data).encode()).decode()

    @staticmethod
    def _open(row: Credential) -> Tokens:
        try:
            data = json.loads(_cipher().decrypt(row.sealed.encode()))
        except InvalidToken:
            raise VaultError(f"khóa {KEY_ENV} hiện tại không mở được mã đã lưu của kênh {row.channel_id}: hãy đặt "
                             "lại khóa cũ (có thể ghép 'khóa_mới,khóa_cũ'), hoặc nhập lại mã bằng "
                             f"'cchc channel token {row.channel_id}'") from None
        remember(data["access_token"], data["refresh_token"])
        return Tokens(data["access_token"], data["refresh_token"], row.access_expires_at, row.refresh_expires_at,
                      row.version)
