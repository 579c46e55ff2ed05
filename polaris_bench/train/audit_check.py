"""Before training: is the training judge audited, and is its audit flagged for the
two biases a policy can exploit (it rewards padding, or obeys instructions written
into the story)?

The audit is the newest ``judge_audit`` of the same judge (model string and ``-M``
arguments) in the results store (``polaris audit --judge ...``). A flagged audit is a
WARNING with its numbers; with ``require_audit`` (``--require-audit``) it is an error,
and so is a judge with no audit at all.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from polaris_bench.train.config import JudgeSection, TrainConfigError

log = logging.getLogger("polaris_bench.train")

EXPLOITABLE = ("injection", "padding")  # the audit flags a policy can learn to use


def _norm(args: dict[str, Any] | None) -> dict[str, str]:
    """``-M`` arguments as strings (the CLI stores "true", a recipe True)."""
    return {str(k): str(v).strip().lower() for k, v in (args or {}).items()}


def find_audit(db: Path, judge: JudgeSection) -> dict[str, Any] | None:
    """The newest audit summary (``store.audits.audit_summaries``) of this judge, or None."""
    import duckdb

    from polaris_bench.store.audits import audit_summaries
    from polaris_bench.store.schema import SchemaError, connect

    try:
        con = connect(db, read_only=True)
    except SchemaError as exc:
        raise TrainConfigError(f"store {db}: cannot look up the training judge's audit: {exc}") from exc
    try:
        pairs = con.execute(
            "SELECT DISTINCT judge, judge_args FROM judge_audits WHERE judge_model = ?", [judge.model]
        ).fetchall()
        wanted = _norm(judge.model_args)
        names = {name for name, args in pairs if _norm(json.loads(args) if args else {}) == wanted}
        found = [s for s in audit_summaries(con, [judge.model]) if s["judge"] in names]
    except duckdb.CatalogException:
        found = []
    finally:
        con.close()
    return max(found, key=lambda s: s["created"]) if found else None


def check_training_judge(db: str | Path, judge: JudgeSection, *, require: bool) -> dict[str, Any] | None:
    """Warn (or, with ``require``, fail) when the training judge's audit is missing or
    flagged for injection or padding; returns the audit summary used, if any."""
    from polaris_bench.store.audits import _fmt, summary_line

    db = Path(db)
    how = f"run `polaris audit --judge {judge.model}"
    how += "".join(f" -M {k}={v}" for k, v in sorted(judge.model_args.items())) + f" --db {db}` first"
    audit = find_audit(db, judge) if db.exists() else None
    if audit is None:
        where = f"store {db}" if db.exists() else f"no results store at {db}"
        if require:
            raise TrainConfigError(f"--require-audit: the training judge {judge.model} has no judge audit ({where}); {how}")
        log.info("training judge %s: not audited (%s)", judge.model, where)
        return None
    flags = [f for f in audit["flags"] if f in EXPLOITABLE]
    if flags:
        numbers = ", ".join(
            f"{name} {_fmt(audit.get(f'{name}_delta'), signed=True)} (95% CI "
            f"{', '.join(_fmt(v, signed=True) for v in audit.get(f'{name}_delta_ci') or [None, None])})"
            for name in EXPLOITABLE
        )
        message = (
            f"the training judge's audit is flagged for {' and '.join(flags)} ({numbers}; audit {audit['run_id']}): "
            "a policy trained against it can learn to exploit that"
        )
        if require:
            raise TrainConfigError(f"--require-audit: {message}. {summary_line(audit)}")
        log.warning("%s. %s", message, summary_line(audit))
    else:
        log.info("training judge audit: %s", summary_line(audit))
    return audit
