"""A generic JSON webhook: hands each post to another system (a portal, a smart-radio platform, n8n).

Kind ``webhook``. Settings: ``url``; ``reconcile_url`` (optional); ``token_env`` (optional: the
name of the environment variable holding a bearer token); ``timeout_seconds``; ``id_field`` and
``url_field`` (where the answer puts the new item's id and address).

The contract, which a receiving system implements (and ``tests/fakes/webhook.py`` follows):

- ``POST url`` with JSON ``{ref, announcement_id, lang, title, body, priority, topics, due_at,
  unit}``, headers ``Authorization: Bearer <token>`` (when configured) and ``Idempotency-Key: <ref>``.
- ``2xx`` with JSON ``{"id": ..., "url": ...}``: stored. ``429`` with ``Retry-After``: try later.
  ``401/403``: the token is wrong. ``503``: not stored, try later. Other ``5xx``: unknown.
  Other ``4xx``: refused for good.
- ``GET reconcile_url?ref=<ref>``: ``200 {"id", "url"}`` when the item exists, ``404`` when not.
"""

from __future__ import annotations

from typing import Any

import requests
from pydantic import Field

from channels.base import (
    Found,
    Outcome,
    OutgoingRequest,
    Post,
    Receipt,
    Reconciled,
)
from channels.http import HttpChannel, HttpSettings, call
from channels.secrets import ENV_NAME, mask, read_secret


class WebhookSettings(HttpSettings):
    url: str = Field(pattern=r"^https?://")
    reconcile_url: str | None = Field(default=None, pattern=r"^https?://")
    token_env: str | None = Field(default=None, pattern=ENV_NAME)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    id_field: str = "id"
    url_field: str = "url"


class WebhookChannel(HttpChannel):
    """Posts each delivery as JSON to a configured address (kind ``webhook``)."""

    kind = "webhook"
    category = "website"
    label = "Chuyển sang hệ thống khác"
    Settings = WebhookSettings
    supports_preview = True

    def check(self) -> list[str]:
        if self.settings.token_env and not read_secret(self.settings.token_env):
            return [f"chưa đặt biến môi trường {self.settings.token_env} (mã truy cập của kênh)"]
        return []

    def _payload(self, post: Post) -> dict[str, Any]:
        return {
            "ref": post.ref_code,
            "announcement_id": post.announcement_id,
            "lang": post.lang,
            "title": post.title,
            "body": post.body,
            "priority": post.priority,
            "topics": post.topics,
            "due_at": post.due_at.isoformat(),
            "unit": post.unit_name,
        }

    def _headers(self, post: Post, token: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": post.ref_code}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def request_for(self, post: Post) -> OutgoingRequest:
        token = read_secret(self.settings.token_env) if self.settings.token_env else None
        headers = self._headers(post, token and mask(token))
        return OutgoingRequest("POST", self.settings.url, headers, self._payload(post))

    def send(self, post: Post) -> Receipt:
        token = None
        if self.settings.token_env:
            token = read_secret(self.settings.token_env)
            if not token:
                return Receipt(Outcome.NEEDS_REAUTH,
                               message=f"chưa đặt biến môi trường {self.settings.token_env}")
        return call(
            lambda: self._session.post(
                self.settings.url, json=self._payload(post), headers=self._headers(post, token),
                timeout=self.send_timeout(),
            ),
            lambda response: self._receipt(response, post),
        )

    def _receipt(self, response: requests.Response, post: Post) -> Receipt:
        data = response.json() if response.content else {}
        return Receipt(
            Outcome.SENT,
            remote_id=str(data.get(self.settings.id_field) or post.ref_code),
            url=data.get(self.settings.url_field),
            http_status=response.status_code,
        )

    def reconcile(self, post: Post, remote_id: str | None) -> Reconciled:
        if not self.settings.reconcile_url:
            return Reconciled(Found.UNKNOWN, message="kênh không khai báo reconcile_url để kiểm tra lại")
        token = read_secret(self.settings.token_env) if self.settings.token_env else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._session.get(
                self.settings.reconcile_url, params={"ref": post.ref_code}, headers=headers,
                timeout=self.settings.timeout_seconds,
            )
        except requests.RequestException as exc:
            return Reconciled(Found.UNKNOWN, message=f"không hỏi được nền tảng: {type(exc).__name__}")
        if response.status_code == 404:
            return Reconciled(Found.ABSENT)
        if response.status_code == 200:
            data = response.json()
            return Reconciled(Found.PRESENT, str(data.get(self.settings.id_field) or post.ref_code),
                              data.get(self.settings.url_field))
        return Reconciled(Found.UNKNOWN, message=f"nền tảng trả lời {response.status_code}")
