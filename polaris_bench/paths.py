"""Paths given by users on the command line."""

from __future__ import annotations

import os
from pathlib import Path


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
