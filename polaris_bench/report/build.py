"""The pages of the report, rendered in order: the Inspect viewer bundle (so that
sample pages know their links), one page per sample (run by run: a run's log is read
once and let go), one page per model, and the index (leaderboards, length curves,
judges, runs). ``site.build_report`` is the entry point."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import pandas as pd

from polaris_bench import __version__
from polaris_bench.costs.prices import load_prices
from polaris_bench.report import context as ctx
from polaris_bench.report.logs import VIEWER_DIR, bundle_viewer, locate_logs, read_run
from polaris_bench.report.plots import curves_figure, position_figure, svg_text
from polaris_bench.report.samples import run_details, sample_context
from polaris_bench.report.site import ReportOptions, ReportSummary
from polaris_bench.store.benchmarks import spec_for
from polaris_bench.store.costs import attach_costs


class SiteBuilder:
    def __init__(self, con: duckdb.DuckDBPyConnection, opts: ReportOptions, root: Path, env: jinja2.Environment,
                 progress: Callable[[str], None]) -> None:
        self.con, self.opts, self.root, self.env, self.progress = con, opts, root, env, progress
        self.generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        self.summary = ReportSummary(out=root)
        self.runs = ctx.runs_table(con)
        self.run_by_id = {r["run_id"]: r for r in self.runs}

    # -- writing ------------------------------------------------------------------------

    def render(self, template: str, path: str, **values: Any) -> None:
        depth = path.count("/")
        html = self.env.get_template(template).render(
            root="../" * depth, version=__version__, generated=self.generated, db=str(self.opts.db), **values)
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
        self.summary.pages += 1

    # -- the store -------------------------------------------------------------------------

    def build(self) -> ReportSummary:
        from polaris_bench.store.audits import (
            audit_lines,
            audit_summaries,
            board_judges,
        )
        from polaris_bench.store.panels import agreement, apply_panel
        from polaris_bench.store.queries import leaderboard, sample_scores

        o = self.opts
        self.progress("leaderboard")
        board = leaderboard(self.con, n_resamples=o.n_resamples, seed=o.seed)
        board.notes.extend(audit_lines(self.con, board_judges(board)))
        if any(r.get("run_ids") for r in board.rows):  # the cost columns, as `polaris leaderboard` shows them
            prices = load_prices(o.prices)
            attach_costs(self.con, board, prices)
            if prices.as_of:
                board.notes.append(f"costs priced with {prices.source} (prices of {prices.as_of})")
        df = sample_scores(self.con)
        df, _ = apply_panel(self.con, df, "mean")
        frame = ctx.sample_frame(self.con, df)
        models = sorted(set(frame["model"])) if not frame.empty else []
        logs = locate_logs(self.con, sorted(set(frame["run_id"])) if not frame.empty else [], o.logs)
        if o.viewer:
            self.progress("inspect view bundle")
            self.summary.viewer = bundle_viewer(logs, self.root / VIEWER_DIR)
        else:
            self.summary.viewer = "not bundled (--no-viewer)"
        self.progress("length curves")
        curves, curve_frames = self.curves(frame)
        positions = self.positions()
        self.progress("samples")
        per_model = self.sample_pages(frame, logs)
        self.summary.missing_logs = sorted({log.missing for log in logs.values() if log.missing})
        self.progress("models")
        for model in models:
            self.model_page(model, board, per_model.get(model, []), curve_frames, logs)
        self.progress("index")
        results, agreement_notes = agreement(self.con, criteria=False, n_resamples=o.n_resamples, seed=o.seed)
        self.render(
            "index.html", "index.html", title="polaris-bench report",
            sections=ctx.leaderboard_sections(board, set(models)), elo=ctx.elo_section(board, set(models)),
            notes=board.notes, curves=curves, positions=positions, models=[{"name": m, "href": ctx.model_href(m),
                                                       "samples": len(per_model.get(m, []))} for m in models],
            judges=ctx.judges_table(self.con), audits=ctx.audits_table(audit_summaries(self.con)),
            agreement=ctx.agreement_tables(results), agreement_notes=agreement_notes,
            runs=self.runs, missing_logs=self.summary.missing_logs, viewer_note=self.summary.viewer,
        )
        return self.summary

    def curves(self, frame: pd.DataFrame) -> tuple[list[dict[str, Any]], dict[str, pd.DataFrame]]:
        """Length curves of every benchmark whose samples have a requested length."""
        from polaris_bench.store.queries import curves

        out, frames = [], {}
        if frame.empty:
            return out, frames
        for bench in sorted(set(frame.loc[frame["target_words"].notna(), "benchmark"])):
            points, notes = curves(self.con, bench, n_resamples=self.opts.n_resamples, seed=self.opts.seed)
            if points.empty:
                continue
            frames[bench] = points
            out.append({"benchmark": bench, "svg": svg_text(curves_figure(points)), "notes": notes})
        return out, frames

    def positions(self) -> list[dict[str, Any]]:
        """Quality along the story, for every benchmark with stored windows (runs with
        ``-T segments=``); none without."""
        from polaris_bench.store.windows import position_curves

        benches = [b for (b,) in self.con.execute(
            "SELECT DISTINCT r.benchmark FROM story_windows w JOIN runs r ON r.run_id = w.run_id "
            "WHERE r.superseded_by IS NULL AND r.status = 'success' ORDER BY 1").fetchall()]
        out = []
        for bench in benches:
            points, notes = position_curves(self.con, bench, n_resamples=self.opts.n_resamples, seed=self.opts.seed)
            if not points.empty:
                out.append({"benchmark": bench, "svg": svg_text(position_figure(points)), "notes": notes})
        return out

    # -- pages ---------------------------------------------------------------------------------

    def sample_pages(self, frame: pd.DataFrame, logs: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """Write every sample's page; returns each model's sample summaries."""
        per_model: dict[str, list[dict[str, Any]]] = {}
        if frame.empty:
            return per_model
        for run_id, rows in frame.groupby("run_id", sort=True):
            log = logs[run_id]
            read_run(log)
            details = run_details(self.con, str(run_id))
            for row in rows.to_dict("records"):
                model = str(row["model"])
                digits = spec_for(str(row["benchmark"])).digits
                href = ctx.sample_href(model, str(run_id), str(row["sample_id"]), int(row["epoch"]))
                page = sample_context(row, log, details)
                score = ctx.as_number(row["score"])
                text = log.samples.get((str(row["sample_id"]), int(row["epoch"])))
                summary = {
                    "sample_id": str(row["sample_id"]), "epoch": int(row["epoch"]), "run_id": str(run_id),
                    "href": href, "benchmark": row["benchmark"], "setup": ctx.setup_label(row),
                    "dataset": "" if row.get("dataset_name") in (None, "", row["benchmark"]) else row["dataset_name"], "prompt_id": row.get("prompt_id") or "",
                    "target": ctx.as_number(row.get("target_words")), "bucket": row.get("bucket") or "",
                    "words": ctx.as_number(row.get("words")), "ratio": ctx.as_number(row.get("length_ratio")),
                    "score": score, "score_text": ctx.score_text(score, digits),
                    "reason": row.get("unscored_reason") or "",
                    "opening": ctx.opening(text.story if text else None, self.opts.opening_words),
                    "log_missing": page["story_missing"],
                }
                self.render("sample.html", href, title=f"{model} · {row['sample_id']}", model=model,
                            model_href=ctx.model_href(model), sample=summary, page=page,
                            runs=[self.run_by_id[str(run_id)]] if str(run_id) in self.run_by_id else [])
                per_model.setdefault(model, []).append(summary)
                self.summary.samples += 1
            log.samples.clear()  # keep one run's stories in memory at a time
        return per_model

    def model_page(self, model: str, board: Any, samples: list[dict[str, Any]], curve_frames: dict[str, pd.DataFrame],
                   logs: dict[str, Any]) -> None:
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for s in samples:
            groups.setdefault((s["benchmark"], s["setup"], s["dataset"]), []).append(s)
        sets = []
        for (bench, setup, dataset), g in sorted(groups.items()):
            worst, best = ctx.extremes(g, self.opts.extremes)
            sets.append({"benchmark": bench, "setup": setup, "dataset": dataset, "samples": g,
                         "worst": worst, "best": best})
        rows = [r for r in board.rows if r["model"] == model and r.get("source") != "published"]
        sections = ctx.leaderboard_sections(type(board)(rows=rows, agreement=board.agreement), {model})
        buckets = [t for frame in curve_frames.values() for t in ctx.bucket_tables(frame, model)]
        run_ids = {s["run_id"] for s in samples}
        self.render("model.html", ctx.model_href(model), title=model, model=model, sections=sections,
                    buckets=buckets, sets=sets, runs=[r for r in self.runs if r["run_id"] in run_ids],
                    missing=sorted({logs[r].missing for r in run_ids if logs[r].missing}))
