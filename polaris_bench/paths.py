"""Paths: the project's default files, its cache, and paths given on the command line."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB = Path("results") / "polaris.duckdb"  # the results store
DEFAULT_PLOT = Path("results") / "length_curves.png"  # `polaris plot` and the demo
DEFAULT_POSITION_PLOT = Path("results") / "position_curves.png"  # `polaris plot --kind position`
CACHE_ENV = "POLARIS_CACHE"


def cache_root() -> Path:
    """Where downloads are kept (``models/`` for local models, ``datasets/`` for
    benchmark files): ``$POLARIS_CACHE``, else ``~/.cache/polaris-bench``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "polaris-bench"


def resolve_user_path(path: str | Path) -> Path:
    """A path as the user meant it. Inspect runs a task file with the working directory
    set to the file's folder, so a relative ``-T`` path that does not exist there is
    looked up from the directory the command was started in (the shell's ``PWD``)."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    started = os.environ.get("PWD")
    if started:
        candidate = Path(started) / p
        if candidate.exists():
            return candidate
    return p
