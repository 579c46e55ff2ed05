"""``polaris report``: the results store as a static, self-contained HTML site.

Pages are rendered with jinja2 from ``report/templates`` (autoescaped: every text from
the store or a log is escaped); style and the small sorting script are inlined, charts
are inline SVG from matplotlib, so the pages open from the file system and request
nothing from any host (a Content-Security-Policy in each page enforces it). The only
part that needs a web server is the bundled Inspect log viewer (``viewer/``), which
loads the logs with ``fetch``.

The site is built in a new folder beside ``--out`` and moved into place at the end:
an existing folder is replaced only with ``force``, and never left half-written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from polaris_bench import __version__
from polaris_bench.stats import N_RESAMPLES

MARKER = ".polaris-report"  # in every site: --force replaces only a folder that has it


class ReportError(RuntimeError):
    """The report cannot be built as asked (the message says why and what to do)."""


@dataclass
class ReportOptions:
    db: Path
    out: Path
    logs: Path | None = None  # where the logs are now, if not at the paths recorded at ingest
    force: bool = False
    viewer: bool = True  # bundle the Inspect log viewer
    n_resamples: int = N_RESAMPLES
    seed: int = 0
    prices: Path | None = None  # a price table (USD per million tokens); None: the bundled one
    opening_words: int = 60
    extremes: int = 3  # worst and best samples shown per model and judge setup


@dataclass
class ReportSummary:
    out: Path
    pages: int = 0
    samples: int = 0
    bytes: int = 0
    seconds: float = 0.0
    missing_logs: list[str] = field(default_factory=list)
    viewer: str | None = None  # why there is no viewer, or None


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("polaris_bench.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["short"] = lambda s, n=12: (s or "")[:n]
    return env


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out {out}: a file is there, not a folder; choose another --out")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ReportError(f"--out {out}: the folder exists; --force replaces it (nothing is changed without it)")
        if not (out / MARKER).exists():
            raise ReportError(f"--out {out}: the folder exists and is not a polaris report (no {MARKER} in it); "
                              "--force replaces only an earlier report: choose another --out")


def _open(db: Path) -> Any:
    from polaris_bench.store.schema import SchemaError, SchemaOutdated, connect

    if not db.exists():
        raise ReportError(f"--db {db}: no results database here; run an eval and `polaris ingest <logs> --db {db}` "
                          "first")
    try:
        try:
            con = connect(db, read_only=True)
        except SchemaOutdated:  # an older schema: open read-write once to migrate
            con = connect(db)
    except SchemaError as exc:
        raise ReportError(str(exc)) from exc
    runs = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    if not runs:
        con.close()
        raise ReportError(f"--db {db}: the results database holds no runs yet; run an eval (e.g. `inspect eval "
                          "polaris_bench/length_gen --model ... --model-role grader=...`) and `polaris ingest logs/` "
                          "first")
    return con


def _swap(staging: Path, out: Path) -> None:
    """Move the finished site into place; an earlier report is removed only after."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_report(opts: ReportOptions, progress: Callable[[str], None] | None = None) -> ReportSummary:
    """Write the site into ``opts.out``; raises ``ReportError`` for bad input."""
    from polaris_bench.report.build import SiteBuilder

    started = time.perf_counter()
    out = opts.out.expanduser().resolve()
    _check_out(out, opts.force)
    if opts.logs is not None and not opts.logs.is_dir():
        raise ReportError(f"--logs {opts.logs}: no such folder")
    con = _open(opts.db)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        builder = SiteBuilder(con, opts, staging, environment(), progress or (lambda _msg: None))
        summary = builder.build()
        (staging / MARKER).write_text(
            f"polaris-bench {__version__} report of {opts.db}, {datetime.now(UTC).isoformat()}\n")
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        con.close()
    summary.out = out
    summary.bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    summary.seconds = time.perf_counter() - started
    return summary
