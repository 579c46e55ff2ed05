"""Keeping secrets out of the results store: model args, role args, base URLs,
generation config headers and error texts pass through ``scrub`` before they are
stored."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDACTED = "[redacted]"


_SECRET_KEY = re.compile(
    r"(api[_-]?key|apikey|secret|password|passwd|credential|cookie|authorization|"
    r"(^|[_-])auth($|[_-])|bearer|access[_-]?key|private[_-]?key|session[_-]?id|signature|"
    r"headers?$|(^|[_-])token$)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_\-]{12,}|sk-ant-[A-Za-z0-9_\-]{8,}|hf_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_\-]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16}"
    r"|(?i:bearer)\s+[A-Za-z0-9._\-~+/=]{8,})"
)
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>]+")


def scrub_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def scrub_text(text: str) -> str:
    """Remove credentials from free text: URL user/password and query strings, and
    strings shaped like provider API keys or bearer tokens."""
    if not text:
        return text
    text = _URL.sub(lambda m: scrub_url(m.group(0)), text)
    return _SECRET_VALUE.sub(REDACTED, text)


def scrub(value: Any, key: str | None = None) -> Any:
    """A copy of ``value`` without secrets: values under secret-looking keys (api_key,
    token, authorization, headers, ...) are redacted, URLs lose credentials and query
    strings, and key-shaped strings are redacted wherever they appear."""
    if key is not None and _SECRET_KEY.search(key) and value not in (None, "", {}, []):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


