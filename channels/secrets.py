"""Secrets: read from the environment by name, kept in one registry, redacted wherever text leaves.

Every secret the process comes to know goes into the registry: values read from the environment or
a key file, and everything derived from them or obtained at run time (a password as sent, a Basic
header, an ``appsecret_proof``, access and refresh tokens from the token store, including one the
platform refused). ``redact`` replaces each of them, in the forms a server could echo them back in
(as is, URL-encoded, base64 of ``user:secret``), and anything shaped like ``token=...``. It is
applied by the logging filter, to every message stored in the database (``scheduler.record.models``), to
every page and API response (the web app's middleware) and to error text, so a new channel cannot
forget it: a channel only has to ``remember`` what it derives or receives.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from urllib.parse import quote, quote_plus

_KNOWN: set[str] = set()
_LOCK = threading.Lock()
_ORDERED: list[str] = []  # longest first, so a secret inside another is not half-replaced
MIN_LENGTH = 6  # shorter values would redact ordinary words; no real secret is that short
ENV_NAME = r"^[A-Z][A-Z0-9_]*$"  # how a setting names the environment variable that holds a secret
# A key on its own (not the tail of a name such as CCHC_FB_TOKEN) and a value of printable ASCII up to a
# separator: a secret never holds Vietnamese letters, so "password: mật khẩu cần…" is prose, left whole.
_PATTERNS = re.compile(
    r"(?i)((?<![\w-])(?:access_token|refresh_token|appsecret_proof|client_secret|password|secret_key|token)"
    r"[\"']?\s*[=:]\s*[\"']?)([!-~]+?)(?=[\s&\"',;]|$)|(Authorization[\"']?\s*[:=]\s*[\"']?)(Bearer\s+|Basic\s+)?"
    r"([!-~]+?)(?=[\s\"',;]|$)"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def remember(*values: str | None) -> None:
    """Add secret values (and the forms they travel in) to the registry redaction uses."""
    fresh = set()
    for value in values:
        if value and len(value) >= MIN_LENGTH:
            fresh |= {value, quote(value, safe=""), quote_plus(value)}
    with _LOCK:
        if fresh - _KNOWN:
            _KNOWN.update(fresh)
            _ORDERED[:] = sorted(_KNOWN, key=len, reverse=True)


def read_secret(env_name: str) -> str | None:
    """The value of environment variable ``env_name``; remembered so that it is redacted everywhere."""
    value = os.environ.get(env_name)
    remember(value)
    return value or None


def control_problem(env_name: str) -> str | None:
    """Why the secret in ``env_name`` cannot go into an HTTP header, or None. Never shows the value."""
    value = os.environ.get(env_name) or ""
    if _CONTROL.search(value):
        return (f"biến môi trường {env_name} chứa ký tự xuống dòng hoặc ký tự điều khiển (thường do dán thừa); "
                "hãy đặt lại giá trị cho đúng")
    return None


def mask(value: object) -> str:
    text = str(value or "")
    if not text:
        return ""
    return "***" if len(text) < 8 else f"{text[0]}***{text[-1]}"


def redact(text: str) -> str:
    """``text`` with every known secret value and every ``token=...`` style pair replaced."""
    if not text:
        return text
    for secret in _ORDERED:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")

    def _replace(match: re.Match) -> str:
        if match.group(1):
            return f"{match.group(1)}[REDACTED]"
        return f"{match.group(3)}{match.group(4) or ''}[REDACTED]"

    return _PATTERNS.sub(_replace, text)


def redact_any(value: object) -> object:
    """``redact`` through the strings of a JSON-like value (dicts, lists)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_any(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_any(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from every record, its arguments and its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            message = f"{message}\n{formatted}"
            record.exc_info = None
            record.exc_text = None
        record.msg = redact(message)
        record.args = ()
        return True


def install_log_redaction() -> None:
    """Attach the redacting filter to every handler of the root logger (call after logging setup)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
