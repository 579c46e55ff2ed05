"""Reading the project's input files (prompt sets, generations, training rows) with
errors that say ``<file>:<line>: <what is wrong>``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any


class InputFileError(ValueError):
    """An input file that cannot be used: ``<file>:<line>: <what is wrong>``."""

    def __init__(self, path: str | Path | None, message: str, line: int | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.problem = message
        where = self.path or "<dataset>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


Row = tuple[int, dict[str, Any]]  # (line or row number, 1-based; the row)


def read_jsonl(path: str | Path | Traversable) -> Iterator[Row]:
    """Objects of a JSON-lines file (a path or a package resource) with their 1-based
    line numbers; blank lines are allowed, anything else that is not a JSON object is
    an error."""
    source = Path(path) if isinstance(path, str) else path
    with source.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(source, f"not valid JSON: {exc.msg} (column {exc.colno})", number) from exc
            if not isinstance(obj, dict):
                raise InputFileError(source, f"expected a JSON object, got {type(obj).__name__}", number)
            yield number, obj


def read_json(path: str | Path) -> Any:
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFileError(p, f"not valid JSON: {exc.msg}", exc.lineno) from exc
