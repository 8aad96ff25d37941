"""Tokens that a channel renews by itself (Zalo OA, TikTok), and the store it keeps them in.

Both platforms hand out a short-lived access token and a **single-use** refresh token: each renewal
returns a new pair and kills the old refresh token. The channel asks its ``TokenStore`` for the
current pair and hands it the platform's refresh call; the store (``scheduler.record.credentials``, sealed
in the database) makes sure only one renewal happens at a time across every process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import Field

from channels.base import Failed, Outcome, Receipt, Wiring
from channels.http import HttpChannel, HttpSettings


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    version: int = 0

    def __repr__(self) -> str:  # never print a token, even in a traceback's locals
        return f"Tokens(version={self.version}, access_expires_at={self.access_expires_at})"


class VaultError(Exception):
    """The store cannot be used as it is (no key, a wrong key, no tokens yet); says how to fix it."""


class TokenProblem(Failed):
    """A renewal did not give a usable token; ``receipt`` says what the delivery should do."""


class TokenStore(Protocol):
    """Where a channel's pair is kept. ``renew`` trades ``seen``'s refresh token through ``exchange``
    once across every process: it returns a newer pair without calling ``exchange`` when another
    renewal already replaced ``seen``, and raises ``TokenProblem`` (RETRYABLE) while another process
    is renewing. ``load``/``renew`` raise ``VaultError`` when the store cannot be used."""

    channel: str

    def now(self) -> datetime: ...

    def stored(self) -> bool: ...

    def load(self) -> Tokens | None: ...

    def save(self, tokens: Tokens) -> Tokens: ...

    def renew(self, seen: Tokens, exchange: Callable[[Tokens], Tokens]) -> Tokens: ...


class TokenSettings(HttpSettings):
    """What a channel that renews its own tokens is configured with besides its own settings."""

    expiry_warning_days: int = Field(default=14, ge=1, le=90)  # staff are told this long before a token ends


class TokenChannel(HttpChannel):
    """An HTTP channel whose access token expires and is renewed through the store.

    Subclasses implement ``exchange`` (the platform's refresh call; raise ``TokenProblem`` when it
    refuses) and set ``renew_before`` (how long before expiry a token counts as due for renewal).
    The composition root gives each one its ``tokens`` store as it builds it (``Wiring.tokens``).
    """

    uses_token_store: ClassVar[bool] = True
    renew_before: ClassVar[timedelta] = timedelta(minutes=30)
    tokens: TokenStore | None = None

    def __init__(self, name: str, settings: dict[str, Any], *, data_dir: Path, wiring: Wiring | None = None):
        super().__init__(name, settings, data_dir=data_dir, wiring=wiring)
        if wiring is not None and wiring.tokens is not None:
            self.tokens = wiring.tokens(name)  # its own store (the database's, sealed; a test's in memory)

    def exchange(self, current: Tokens) -> Tokens:
        raise NotImplementedError

    def now(self) -> datetime:
        """The store's clock (the service's, or a test's), from which new expiry times count."""
        return self.tokens.now() if self.tokens else self.clock()

    def current_tokens(self, *, force: Tokens | None = None) -> Tokens:
        """A usable pair: the stored one, renewed first when it is due (or when ``force`` was refused)."""
        if self.tokens is None:
            raise TokenProblem(Receipt(Outcome.NEEDS_REAUTH, message="kênh chưa được nối với kho mã"))
        try:
            stored = force or self.tokens.load()
            if stored is None:
                raise VaultError(f"kênh {self.name} chưa có mã; hãy nhập mã làm mới (refresh token) bằng "
                                 f"'cchc channel token {self.name}'")
            due = stored.access_expires_at is None or stored.access_expires_at - self.tokens.now() <= self.renew_before
            return self.tokens.renew(stored, self.exchange) if (force or due) else stored
        except VaultError as exc:
            raise TokenProblem(Receipt(Outcome.NEEDS_REAUTH, message=str(exc))) from None

    def keep_fresh(self) -> str | None:
        """Renew the access token when it is due (the service's periodic job); a problem, or None."""
        try:
            self.current_tokens()
        except TokenProblem as exc:
            return exc.receipt.message
        return None

    def token_problems(self, warn_days: int) -> list[str]:
        """What ``check`` says about the stored tokens before asking the platform."""
        try:
            tokens = self.current_tokens()
        except TokenProblem as exc:
            return [exc.receipt.message]
        if tokens.refresh_expires_at is not None:
            left = tokens.refresh_expires_at - self.tokens.now()
            if left <= timedelta(days=warn_days):
                return [f"mã làm mới (refresh token) hết hạn sau {max(0, left.days)} ngày; hãy cấp quyền lại cho "
                        f"ứng dụng và nhập mã mới bằng 'cchc channel token {self.name}'"]
        return []
