"""Shared reading and validation for the benchmark loaders.

Every loader reports a malformed input as a ``DatasetError`` that names the file, the
line (or row) and what is wrong, instead of skipping the row.
"""

from __future__ import annotations

import csv
import hashlib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polaris_bench.io import InputFileError, Row, read_json, read_jsonl
from polaris_bench.paths import cache_root, resolve_user_path

# A dataset file that cannot be used: ``<file>:<line>: <what is wrong>``.
DatasetError = InputFileError


def existing_path(path: str | Path, what: str, override: str = "-T dataset=") -> Path:
    p = resolve_user_path(path)
    if not p.exists():
        raise DatasetError(p, f"{what} file not found (pass the file with {override}<path>)")
    if p.is_dir():
        raise DatasetError(p, f"expected a {what} file, got a folder")
    return p


def read_table(path: str | Path) -> Iterator[Row]:
    """Rows of a .jsonl, .json (a list of objects), .csv or .parquet file. Numbers are
    file lines for JSONL and CSV, and 1-based row numbers for JSON lists and parquet."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        yield from read_jsonl(p)
    elif suffix == ".json":
        data = read_json(p)
        if not isinstance(data, list):
            raise DatasetError(p, "a .json prompt file must hold a list of objects")
        for number, obj in enumerate(data, start=1):
            if not isinstance(obj, dict):
                raise DatasetError(p, f"item {number} is not an object")
            yield number, obj
    elif suffix == ".csv":
        with p.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            line = 1
            for row in reader:
                yield line + 1, dict(row)
                line = reader.line_num
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(p)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise DatasetError(p, f"cannot read parquet: {exc}") from exc
        for number, obj in enumerate(table.to_pylist(), start=1):
            yield number, obj
    else:
        raise DatasetError(p, f"unsupported file type {suffix!r} (use .jsonl, .json, .csv or .parquet)")


def require_str(row: dict[str, Any], key: str, path: Path, line: int, *, allow_empty: bool = False) -> str:
    if key not in row or row[key] is None:
        raise DatasetError(path, f"missing field {key!r}", line)
    value = row[key]
    if not isinstance(value, str):
        raise DatasetError(path, f"field {key!r} must be a string, got {type(value).__name__}", line)
    if not allow_empty and not value.strip():
        raise DatasetError(path, f"field {key!r} is empty", line)
    return value


def require_positive_int(row: dict[str, Any], key: str, path: Path, line: int) -> int:
    if key not in row or row[key] is None or row[key] == "":
        raise DatasetError(path, f"missing field {key!r}", line)
    value = row[key]
    if isinstance(value, bool):
        raise DatasetError(path, f"field {key!r} must be a positive integer, got {value!r}", line)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value <= 0:
        raise DatasetError(path, f"field {key!r} must be a positive integer, got {value!r}", line)
    return value


def as_id(value: Any, key: str, path: Path, line: int) -> str:
    """An id field as a string (ints are accepted: WritingBench's ``index``)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DatasetError(path, f"field {key!r} must be a string or an integer, got {value!r}", line)
    text = str(value).strip()
    if not text:
        raise DatasetError(path, f"field {key!r} is empty", line)
    return text


def check_unique(ids: list[tuple[str, int]], path: Path, what: str = "id") -> None:
    seen: dict[str, int] = {}
    for ident, line in ids:
        if ident in seen:
            raise DatasetError(path, f"duplicate {what} {ident!r} (first on line {seen[ident]})", line)
        seen[ident] = line


# -- remote defaults -----------------------------------------------------------------


def github_raw_url(repo: str, commit: str, path: str) -> str:
    """A file of a GitHub repository at a fixed commit (never a moving branch)."""
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_sha256(data: bytes, expected: str, where: str | Path, url: str, what: str) -> None:
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise DatasetError(
            where,
            f"sha256 {got[:16]}... is not the pinned {what} ({url}, sha256 {expected[:16]}...): "
            "delete the cached file to download it again, or pass your own file with -T dataset=<path>",
        )


# Seconds for connecting and for each read: these files are small, and offline the
# task stops after this long instead of half a minute.
DOWNLOAD_TIMEOUT_S = 5.0


def fetch_remote(url: str, filename: str, what: str, timeout: float = DOWNLOAD_TIMEOUT_S, *, sha256: str) -> Path:
    """A canonical public file at a pinned URL, downloaded once into the cache and
    checked against its pinned sha256 every time it is used. Without a network, or on a
    mismatch, the error names the ``-T dataset=`` override."""
    target = cache_root() / "datasets" / filename
    if target.exists():
        _check_sha256(target.read_bytes(), sha256, target, url, what)
        return target
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (fixed https URLs)
            data = response.read()
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DatasetError(
            None,
            f"could not download the {what} from {url} ({exc}); download it yourself and pass "
            f"-T dataset=<path>",
        ) from exc
    _check_sha256(data, sha256, url, url, what)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target
