"""Ingest Inspect logs (``.eval`` and ``.json``) into the results store.

* Logs are read with Inspect's own API (``list_eval_logs`` / ``read_eval_log``).
* Idempotent: a run is keyed by its Inspect ``eval_id``; ingesting the same log again
  changes nothing. A log whose content changed (re-scored, or finished after an earlier
  ingest of a partial log) replaces its run's rows in one transaction.
* Incremental: a file whose path, size and mtime match what was ingested before is
  not even opened.
* Every log that is not ingested is reported with a reason (still running, no
  samples, unreadable/truncated, ...); the others are ingested regardless. What an
  ingested log holds that cannot be read (criterion names missing, a value of an
  unexpected shape) is listed in its outcome's ``warnings`` (``store.rows``).
* Secrets never reach the database: model args, role args, base URLs, generation
  config headers and error texts are scrubbed (``store.scrub``).
* Display names (``store.names``): derived from the model, or set with ``names``.
* eval-retry writes a new log (new eval_id, same task_id); the older attempt is kept
  but marked ``superseded_by`` so queries never count its samples twice.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from polaris_bench.store.audits import is_audit_log, store_audit
from polaris_bench.store.names import model_label, refresh_display_names, set_names
from polaris_bench.store.rows import Columns, RunRows, build_rows, utcnow
from polaris_bench.store.schema import RUN_TABLES
from polaris_bench.store.scrub import REDACTED, scrub, scrub_text

__all__ = [
    "REDACTED", "IngestReport", "LogOutcome", "build_rows", "discover", "fingerprint", "ingest", "ingest_file",
    "model_label", "scrub", "scrub_text",
]

LOG_SUFFIXES = (".eval", ".json")

# -- outcome report -------------------------------------------------------------------


@dataclass
class LogOutcome:
    path: str
    outcome: str  # ingested | replaced | unchanged | duplicate | skipped | error
    reason: str = ""
    run_id: str | None = None
    samples: int = 0
    warnings: list[str] = field(default_factory=list)  # what could not be read from the log


@dataclass
class IngestReport:
    outcomes: list[LogOutcome] = field(default_factory=list)
    seconds: float = 0.0
    named: dict[str, int] = field(default_factory=dict)  # --name MODEL -> runs it names

    def by(self, *kinds: str) -> list[LogOutcome]:
        return [o for o in self.outcomes if o.outcome in kinds]

    @property
    def ingested(self) -> list[LogOutcome]:
        return self.by("ingested", "replaced")

    @property
    def errors(self) -> list[LogOutcome]:
        return self.by("error")

    @property
    def warned(self) -> list[LogOutcome]:
        return [o for o in self.outcomes if o.warnings]

    @property
    def samples(self) -> int:
        return sum(o.samples for o in self.ingested)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[o.outcome] = out.get(o.outcome, 0) + 1
        return out


# -- discovering logs ------------------------------------------------------------------


def _local(name: str) -> str:
    if name.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return unquote(urlparse(name).path)
    return name


def discover(paths: Iterable[str | Path]) -> tuple[list[tuple[str, int, float]], list[LogOutcome]]:
    """Log files under ``paths`` (files or folders, folders searched recursively with
    Inspect's ``list_eval_logs``) as (absolute path, size, mtime), oldest first, and
    outcomes for paths that are not logs."""
    from inspect_ai.log import list_eval_logs

    found: dict[str, tuple[str, int, float]] = {}
    problems: list[LogOutcome] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            infos = list_eval_logs(str(p.resolve()), recursive=True, descending=False)
            if not infos:
                problems.append(LogOutcome(str(p), "skipped", "no Inspect logs (.eval/.json) in this folder"))
            for info in infos:
                path = str(Path(_local(info.name)).resolve())
                st = os.stat(path)
                found[path] = (path, st.st_size, st.st_mtime)
        elif p.is_file():
            if p.suffix not in LOG_SUFFIXES:
                problems.append(LogOutcome(str(p), "skipped", "not an Inspect log (expected .eval or .json)"))
                continue
            st = p.stat()
            path = str(p.resolve())
            found[path] = (path, st.st_size, st.st_mtime)
        else:
            problems.append(LogOutcome(str(p), "error", "no such file or folder"))
    return sorted(found.values(), key=lambda t: (t[2], t[0])), problems


def fingerprint(log: Any) -> str:
    """What identifies one state of a run's log: id, status, completion time and
    results (so a re-scored or completed log is a change, a copy is not)."""
    h = hashlib.sha256()
    h.update(str(log.eval.eval_id).encode())
    h.update(str(log.status).encode())
    h.update(str(log.stats.completed_at if log.stats else "").encode())
    h.update(str(len(log.samples or []) if log.samples is not None else -1).encode())
    if log.results is not None:
        h.update(log.results.model_dump_json(exclude_none=True).encode())
    return h.hexdigest()


# -- writing ----------------------------------------------------------------------------


def _insert(con: duckdb.DuckDBPyConnection, table: str, cols: Columns) -> None:
    if not len(cols):
        return
    name = f"_ingest_{table}"
    con.register(name, cols.table())
    try:
        con.execute(f"INSERT INTO {table} ({', '.join(cols.cols)}) SELECT {', '.join(cols.cols)} FROM {name}")
    finally:
        con.unregister(name)


def _delete_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    for table in RUN_TABLES:
        con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
    con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])


def _write_run(con: duckdb.DuckDBPyConnection, rows: RunRows) -> None:
    run = rows.run
    cols = list(run)
    con.execute(
        f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        [run[c] for c in cols],
    )
    for table, columns in rows.tables().items():
        _insert(con, table, columns)
    refresh_display_names(con, [run["run_id"]])


def _mark_superseded(con: duckdb.DuckDBPyConnection, task_id: str | None, model: str | None) -> None:
    """Among runs of one task_id and model (eval-retry attempts), all but the newest
    are superseded by it."""
    if not task_id:
        return
    rows = con.execute(
        "SELECT run_id FROM runs WHERE task_id = ? AND model IS NOT DISTINCT FROM ? "
        "ORDER BY created DESC NULLS LAST, completed_at DESC NULLS LAST, run_id DESC",
        [task_id, model],
    ).fetchall()
    if not rows:
        return
    latest = rows[0][0]
    con.execute(
        "UPDATE runs SET superseded_by = CASE WHEN run_id = ? THEN NULL ELSE ? END "
        "WHERE task_id = ? AND model IS NOT DISTINCT FROM ?",
        [latest, latest, task_id, model],
    )


def _record_file(con: duckdb.DuckDBPyConnection, path: str, size: int, mtime: float, outcome: LogOutcome,
                 fp: str | None) -> None:
    con.execute(
        "INSERT OR REPLACE INTO log_files (path, size, mtime, run_id, fingerprint, outcome, reason, warnings, seen_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [path, size, mtime, outcome.run_id, fp, outcome.outcome, outcome.reason or None, outcome.warnings or None,
         utcnow()],
    )


def _read_log(path: str) -> Any:
    from inspect_ai.log import read_eval_log

    return read_eval_log(path)


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: str,
    size: int,
    mtime: float,
    *,
    force: bool = False,
    include_started: bool = False,
) -> LogOutcome:
    """Ingest one log file (see the module docstring for the rules)."""
    seen = con.execute("SELECT size, mtime, run_id, outcome FROM log_files WHERE path = ?", [path]).fetchone()
    if (
        seen is not None
        and not force
        and seen[0] == size
        and seen[1] == mtime
        and seen[3] in ("ingested", "replaced", "duplicate", "unchanged")
        and con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [seen[2]]).fetchone()[0]
    ):
        return LogOutcome(path, "unchanged", "already ingested (file unchanged)", seen[2])
    try:
        log = _read_log(path)
    except Exception as exc:  # corrupt, truncated, not a log
        detail = scrub_text(f"{type(exc).__name__}: {exc}".splitlines()[0])[:300]
        outcome = LogOutcome(path, "error", f"unreadable log ({detail})")
        _record_file(con, path, size, mtime, outcome, None)
        return outcome
    run_id = str(log.eval.eval_id)
    if log.status == "started" and not include_started:
        outcome = LogOutcome(path, "skipped", "the eval is still running (status 'started'); ingest it when it ends",
                             run_id)
        _record_file(con, path, size, mtime, outcome, None)
        return outcome
    if not log.samples:
        why = "the log has no samples" + (
            " (written with --no-log-samples)" if log.eval.config and log.eval.config.log_samples is False else ""
        )
        outcome = LogOutcome(path, "skipped", f"{why}; nothing to store per sample (status {log.status})", run_id)
        _record_file(con, path, size, mtime, outcome, None)
        return outcome
    fp = fingerprint(log)
    existing = con.execute("SELECT log_fingerprint, log_path FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if existing is not None and existing[0] == fp and not force:
        same = existing[1] == path
        outcome = LogOutcome(
            path,
            "unchanged" if same else "duplicate",
            "already ingested (same content)" if same else f"same run already ingested from {existing[1]}",
            run_id,
        )
        _record_file(con, path, size, mtime, outcome, fp)
        return outcome
    rows = build_rows(log, path, fp)
    n = len(rows.samples)
    replaced = existing is not None
    outcome = LogOutcome(
        path,
        "replaced" if replaced else "ingested",
        ("log changed since it was ingested; run replaced" if replaced else "") + (
            f"{'; ' if replaced else ''}status {log.status}" if log.status != "success" else ""
        ),
        run_id,
        n,
        warnings=rows.warnings,
    )
    con.execute("BEGIN TRANSACTION")
    try:
        _delete_run(con, run_id)  # also clears rows a half-deleted run may have left
        if is_audit_log(log):
            rows = store_audit(con, log, rows)
        _write_run(con, rows)
        _mark_superseded(con, rows.run["task_id"], rows.run["model"])
        _record_file(con, path, size, mtime, outcome, fp)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return outcome


def ingest(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[str | Path],
    *,
    force: bool = False,
    include_started: bool = False,
    progress: Any = None,
    names: Mapping[str, str] | None = None,
) -> IngestReport:
    """Ingest every log under ``paths``; never stops at a bad log. ``names`` (model
    string or label -> display name) are recorded and applied to every stored run."""
    t0 = time.perf_counter()
    files, problems = discover(paths)
    report = IngestReport(outcomes=list(problems))
    for i, (path, size, mtime) in enumerate(files):
        try:
            outcome = ingest_file(con, path, size, mtime, force=force, include_started=include_started)
        except Exception as exc:  # a bug or a database problem: report, go on
            outcome = LogOutcome(path, "error", scrub_text(f"ingest failed: {type(exc).__name__}: {exc}")[:300])
        report.outcomes.append(outcome)
        if progress is not None:
            progress(i + 1, len(files), outcome)
    if names:
        report.named = set_names(con, names)
    report.seconds = time.perf_counter() - t0
    return report
