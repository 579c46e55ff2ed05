"""Failing fast when a task's default prompts must come from the Hugging Face Hub and
the network is not there: one short connection attempt to the Hub (or to the proxy for
it) before ``datasets`` starts, instead of its retries (about 25 s offline). Raw files
(``common.fetch_remote``) need no probe: their single request has a short timeout.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
import urllib.request

from inspect_ai._util.error import PrerequisiteError

from polaris_bench.benchmarks.common import DatasetError

PROBE_TIMEOUT_S = 3.0
HF_OFFLINE_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


class SourceUnreachableError(DatasetError, PrerequisiteError):
    """A default source that cannot be reached; ``inspect eval`` prints it as one line."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)
        self.message = str(self)


def _endpoint(url: str) -> tuple[str, int]:
    """(host, port) that a request for ``url`` connects to first: its proxy if one is
    configured for the scheme and the host is not bypassed, else the host itself."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxied = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return proxied.hostname or "", proxied.port or (443 if proxied.scheme == "https" else 80)
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def check_reachable(url: str, what: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise ``SourceUnreachableError`` (naming ``-T dataset=``) unless the server for
    ``url`` accepts a connection within ``timeout`` seconds."""
    host, port = _endpoint(url)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else str(exc)
        raise SourceUnreachableError(
            f"the {what} come from {url}, but {host}:{port} cannot be reached ({reason}); "
            "download the file and pass it with -T dataset=<path> (tasks/README.md lists "
            "each task's file and where to get it)"
        ) from exc


def hf_offline() -> bool:
    """The user asked the Hugging Face libraries to work from their cache."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in HF_OFFLINE_ENV)


def check_hub_reachable(dataset_id: str) -> None:
    """Before ``datasets.load_dataset``: skip under ``HF_HUB_OFFLINE=1`` (the cached
    copy is used), else probe the Hub endpoint once."""
    if hf_offline():
        return
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    check_reachable(f"{endpoint}/datasets/{dataset_id}", f"{dataset_id} prompts")
