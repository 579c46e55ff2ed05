"""A results store for the report tests, from offline runs, made once per session:
the store tests' logs (``store_logs``: two writers judged by offline/judge, one of
them with malformed replies, a second judge, story_elo), the two writers' sweeps in
their copies with windows along the story and cliché scores (``window_logs``), plus a
panel of three judges over both writers and a small judge audit; the paper's
reference rows are loaded. ``report_site`` builds the report of it once (viewer
bundled)."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from store_logs import store_logs
from window_logs import lens_logs

RESAMPLES = 200  # bootstrap resamples of the report and of the CLI numbers it is compared with
PANEL = ("grader", "grader_b", "grader_c")


def _eval(task, log_dir: Path, model, roles: dict[str, str]) -> None:
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model

    logs = inspect_eval(task, model=model, model_roles={r: get_model(m, memoize=False) for r, m in roles.items()},
                        log_dir=str(log_dir), display="none", log_format="eval", score_display=False,
                        log_realtime=False)
    assert all(log.status == "success" for log in logs), [log.error for log in logs]


@lru_cache(maxsize=1)
def report_store() -> tuple[Path, Path]:
    """(database, folder of the extra logs); the store logs are under ``store_logs()``."""
    from polaris_bench.benchmarks.judge_audit import judge_audit
    from polaris_bench.benchmarks.length_gen import length_gen
    from polaris_bench.cli.store import main as store_cli

    base = Path(tempfile.mkdtemp(prefix="polaris-report-store-"))
    _eval(length_gen(prompts="2", targets="150,300", judges=",".join(PANEL)), base / "logs" / "panel",
          ["offline/writer-a", "offline/writer-b"],
          dict(zip(PANEL, ("offline/judge-a", "offline/judge-b", "offline/judge-c"))))
    _eval(judge_audit(probes=3, repeats=2), base / "logs" / "audit", "none/none", {"grader": "offline/judge"})
    db = base / "store.duckdb"
    # the sweeps as their lens copies (the same runs with windows and cliché scores)
    logs = [lens_logs(), store_logs() / "judge_x", store_logs() / "elo", base / "logs"]
    assert store_cli(["ingest", *map(str, logs), "--db", str(db)]) == 0
    assert store_cli(["reference", "load", "--db", str(db)]) == 0
    return db, base / "logs"


@lru_cache(maxsize=1)
def report_site() -> Path:
    from polaris_bench.report.site import ReportOptions, build_report

    db, _ = report_store()
    out = Path(tempfile.mkdtemp(prefix="polaris-report-site-")) / "site"
    build_report(ReportOptions(db=db, out=out, n_resamples=RESAMPLES))
    return out
