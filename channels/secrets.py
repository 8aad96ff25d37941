"""Secrets: read from the environment by name, masked wherever they could be shown or logged."""

from __future__ import annotations

import logging
import os
import re

_KNOWN: set[str] = set()
_PATTERNS = re.compile(
    r"(?i)((?:access_token|refresh_token|appsecret_proof|client_secret|password|secret_key|token)"
    r"[\"']?\s*[=:]\s*[\"']?)([^\s&\"',;]+)|(Authorization[\"']?\s*[:=]\s*[\"']?)(Bearer\s+|Basic\s+)?"
    r"([^\s\"',;]+)"
)


def read_secret(env_name: str) -> str | None:
    """The value of environment variable ``env_name``; remembered so logs can redact it."""
    value = os.environ.get(env_name)
    if value:
        _KNOWN.add(value)
    return value or None


def mask(value: object) -> str:
    text = str(value or "")
    if not text:
        return ""
    return "***" if len(text) < 8 else f"{text[0]}***{text[-1]}"


def redact(text: str) -> str:
    """``text`` with every known secret value and every ``token=...`` style pair replaced."""
    for secret in _KNOWN:
        text = text.replace(secret, "[REDACTED]")

    def _replace(match: re.Match) -> str:
        if match.group(1):
            return f"{match.group(1)}[REDACTED]"
        return f"{match.group(3)}{match.group(4) or ''}[REDACTED]"

    return _PATTERNS.sub(_replace, text)


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
