"""What the report needs from the Inspect logs themselves: the store keeps scores,
length metrics and the judge's evidence for the scorer's own criteria, but not the
stories nor each panel member's evidence. Those are read from the run's log: the path
the store recorded at ingest, or a log with the same eval id under ``--logs DIR``.
A run whose log cannot be found or read gets a reason, which its pages show.

The Inspect log viewer is bundled (``inspect view bundle``) from copies of the logs
found, so each sample page can link to the sample in the viewer."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb

from polaris_bench.story import strip_thinking

VIEWER_DIR = "viewer"
Evidence = dict[str, dict[str, Any]]  # criterion id -> {"justification": str, "quotes": [str]}


@dataclass
class SampleText:
    story: str | None
    # (scorer, member) -> that panel member's evidence (member: position in the panel)
    members: dict[tuple[str, int], Evidence] = field(default_factory=dict)


@dataclass
class RunLog:
    run_id: str
    path: Path | None = None
    missing: str | None = None  # why the log's content is not in the report
    viewer_name: str | None = None  # the log's file name inside the bundled viewer
    samples: dict[tuple[str, int], SampleText] = field(default_factory=dict)


def _header_ids(folder: Path) -> dict[str, Path]:
    """eval id -> log file, for every log under ``folder`` (headers only)."""
    from inspect_ai.log import read_eval_log

    from polaris_bench.store.ingest import discover

    found, _ = discover([folder])
    out: dict[str, Path] = {}
    for path, _size, _mtime in found:
        try:
            out.setdefault(str(read_eval_log(path, header_only=True).eval.eval_id), Path(path))
        except Exception:  # noqa: BLE001, S112 - an unreadable file is simply not a candidate
            continue
    return out


def locate_logs(con: duckdb.DuckDBPyConnection, run_ids: Iterable[str], logs_dir: Path | None) -> dict[str, RunLog]:
    """Where each run's log is: under ``logs_dir`` (matched by eval id) first, else the
    path recorded at ingest."""
    run_ids = list(run_ids)
    stored = dict(con.execute("SELECT run_id, log_path FROM runs").fetchall())
    in_dir = _header_ids(logs_dir) if logs_dir is not None else {}
    out: dict[str, RunLog] = {}
    for run_id in run_ids:
        log = RunLog(run_id)
        if run_id in in_dir:
            log.path = in_dir[run_id]
        elif stored.get(run_id) and Path(stored[run_id]).is_file():
            log.path = Path(stored[run_id])
        else:
            where = f" nor under {logs_dir}" if logs_dir is not None else " (--logs DIR names where the logs are now)"
            log.missing = f"log not found: not at {stored.get(run_id) or 'an unrecorded path'}{where}"
        out[run_id] = log
    return out


def _panel(meta: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The panel members of a score, numbered as the store numbers them (store.rows)."""
    panel = meta.get("panel")
    if not isinstance(panel, list):
        return []
    return [e for e in panel if isinstance(e, Mapping) and isinstance(e.get("model"), str)]


def read_run(log: RunLog) -> None:
    """Fill ``log.samples`` from the log file (or set ``log.missing``)."""
    if log.path is None:
        return
    from inspect_ai.log import read_eval_log

    try:
        # the whole log (not read_eval_log_samples, which walks the header's sample ids
        # and would miss samples a log holds under other ids)
        for sample in read_eval_log(str(log.path)).samples or []:
            completion = sample.output.completion if sample.output is not None else ""
            text = SampleText(strip_thinking(completion or ""))
            for scorer, score in (sample.scores or {}).items():
                for i, entry in enumerate(_panel(score.metadata or {})):
                    evidence = entry.get("evidence")
                    if isinstance(evidence, Mapping):
                        text.members[(scorer, i)] = {str(k): dict(v) for k, v in evidence.items()
                                                     if isinstance(v, Mapping)}
            log.samples[(str(sample.id), int(sample.epoch))] = text
    except Exception as exc:  # noqa: BLE001 - a damaged log: its pages say so
        log.samples.clear()
        log.missing = f"log {log.path} could not be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"


def bundle_viewer(logs: Mapping[str, RunLog], out: Path) -> str | None:
    """Bundle the Inspect log viewer with copies of the logs found into ``out``
    (``inspect view bundle``); sets each log's ``viewer_name``. Returns why not, or None."""
    from inspect_ai.log import bundle_log_dir

    found = [log for log in logs.values() if log.path is not None and log.missing is None]
    if not found:
        return "no log at hand"
    with tempfile.TemporaryDirectory(prefix="polaris-viewer-logs-") as tmp:
        used: set[str] = set()
        for log in found:
            assert log.path is not None
            name = log.path.name if log.path.name not in used else f"{log.run_id}-{log.path.name}"
            used.add(name)
            shutil.copy2(log.path, Path(tmp) / name)
            log.viewer_name = name
        try:
            bundle_log_dir(log_dir=tmp, output_dir=str(out), overwrite=True)
        except Exception as exc:  # noqa: BLE001 - the report stands without the viewer
            for log in found:
                log.viewer_name = None
            return f"inspect view bundle failed ({type(exc).__name__}: {exc})"
    return None


def viewer_link(log: RunLog, sample_id: str, epoch: int) -> str | None:
    """The bundled viewer's address of one sample, relative to the report's root (the
    viewer's hash route: ``#/logs/<log file>/samples/sample/<id>/<epoch>/``)."""
    if log.viewer_name is None:
        return None
    return (f"{VIEWER_DIR}/index.html#/logs/{quote(log.viewer_name)}/samples/sample/"
            f"{quote(str(sample_id), safe='')}/{epoch}/")
