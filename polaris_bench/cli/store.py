"""``polaris`` sub-commands of the results store: ``ingest``, ``leaderboard``,
``compare``, ``agreement``, ``plot`` and ``reference load``. ``register(subparsers)`` adds them to
the ``polaris`` parser; each handler returns an exit status. Also runnable alone:
``python -m polaris_bench.cli.store leaderboard``.

Exit status: 0 done; 1 ingest finished but some logs could not be read (the others
were ingested); 2 the query could not be answered (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polaris_bench.paths import DEFAULT_DB, DEFAULT_PLOT, DEFAULT_POSITION_PLOT
from polaris_bench.stats import N_RESAMPLES


# `plot --out`'s default object: argparse hands this very object back when --out is not
# given, so `--kind position` can tell its own default apart from an explicit path.
_PLOT_OUT = str(DEFAULT_PLOT)


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=str(DEFAULT_DB), help=f"DuckDB results file (default {DEFAULT_DB})")


def _add_query_opts(p: argparse.ArgumentParser, datasets: bool = True) -> None:
    p.add_argument("--benchmark", "-b", help="one benchmark (task name, e.g. length_gen); default: all")
    p.add_argument(
        "--judges",
        choices=("split", "refuse", "mix"),
        default="split",
        help="results from different judge models / rubric hashes / prompt templates / modes: "
        "split them into rows (default), refuse, or mix (pool them on purpose)",
    )
    p.add_argument("--mix-judges", action="store_true", help="same as --judges mix")
    if datasets:
        p.add_argument(
            "--datasets",
            choices=("split", "mix"),
            default="split",
            help="runs over different datasets (sample ids and inputs, e.g. another prompt file): "
            "separate rows (default) or mix (pool them on purpose)",
        )
    p.add_argument("--include-incomplete", action="store_true", help="also use runs that did not finish")
    p.add_argument("--score", help="headline score as 'scorer.key' or 'key' (default: per benchmark)")
    p.add_argument("--resamples", type=int, default=N_RESAMPLES,
                   help=f"bootstrap resamples of every CI and of pooled Elo ratings (default {N_RESAMPLES})")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", "-f", choices=("table", "csv", "json", "markdown"), default="table")
    p.add_argument("--output", "-o", help="write csv/json/markdown to this file instead of stdout")


def add_prices_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prices", metavar="FILE",
                   help="price table (YAML, USD per million tokens per model string; default: the bundled "
                   "polaris_bench/data/prices.yaml)")


def _judges(args: argparse.Namespace) -> str:
    return "mix" if args.mix_judges else args.judges


def _open(db: str, *, create: bool = False):
    from polaris_bench.store.schema import SchemaError, SchemaOutdated, connect

    path = Path(db)
    if not create and not path.exists():
        raise SchemaError(f"{path}: no results database yet; run `polaris ingest <logs> --db {path}` first")
    if create:
        return connect(path)
    try:
        return connect(path, read_only=True)
    except SchemaOutdated:  # an older schema: open read-write once to migrate
        return connect(path)


def _emit(text: str | None, output: str | None) -> None:
    if text is None:
        return
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


# -- handlers -------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from polaris_bench.report.tables import make_console
    from polaris_bench.store.ingest import ingest
    from polaris_bench.store.names import ModelNameError, parse_name
    from polaris_bench.store.queries import counts
    from polaris_bench.store.schema import SchemaError

    # everything that can be checked before the database is created or changed
    missing = [p for p in args.paths if not Path(p).expanduser().exists()]
    if missing:
        return _fail(FileNotFoundError(f"{missing[0]}: no such file or folder; nothing was ingested"))
    try:
        names = dict(parse_name(n) for n in args.name or [])
    except ModelNameError as exc:
        return _fail(exc)
    console = make_console()
    try:
        con = _open(args.db, create=True)
    except SchemaError as exc:
        return _fail(exc)
    try:
        report = ingest(con, args.paths, force=args.force, include_started=args.include_started, names=names)
        totals = counts(con)
    finally:
        con.close()
    shown = [o for o in report.outcomes if args.verbose or o.outcome not in ("unchanged",)]
    if shown:
        table = Table(title=f"ingest into {args.db}", title_justify="left")
        for col in ("log", "outcome", "samples", "reason"):
            table.add_column(col, justify="right" if col == "samples" else "left")
        for o in shown:
            style = {"error": "red", "skipped": "yellow", "duplicate": "dim"}.get(o.outcome)
            table.add_row(*(Text(x) for x in (Path(o.path).name, o.outcome, str(o.samples) if o.samples else "",
                                               o.reason)), style=style)
        console.print(table)
    for o in report.warned:
        for w in o.warnings:
            console.print(Text(f"warning: {Path(o.path).name}: {w}", style="yellow"))
    for model, n in report.named.items():
        text = (f"name: {model} -> {names[model]} ({n} run(s))" if n else
                f"name: no run of {model!r} in the store yet; {names[model]!r} applies once one is ingested")
        console.print(Text(text, style=None if n else "yellow"))
    c = report.counts()
    summary = ", ".join(f"{v} {k}" for k, v in sorted(c.items())) or "no logs found"
    console.print(
        Text(f"{summary}; {report.samples} samples in {report.seconds:.1f} s. "
        f"Store: {totals['runs']} runs, {totals['samples']} samples, {totals['scores']} scores.")
    )
    return 1 if report.errors else 0


def _query(args: argparse.Namespace, query: Any, *positional: Any, **extra: Any) -> Any:
    """Run a store query with the options every query command shares; the connection
    is always closed."""
    con = _open(args.db)
    try:
        return query(
            con,
            *positional,
            judges=_judges(args),
            include_incomplete=args.include_incomplete,
            score=args.score,
            n_resamples=args.resamples,
            seed=args.seed,
            **extra,
        )
    finally:
        con.close()


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from polaris_bench.costs.prices import PriceError, load_prices
    from polaris_bench.report.tables import render_leaderboard
    from polaris_bench.store.queries import QueryError, leaderboard
    from polaris_bench.store.schema import SchemaError

    try:
        prices = load_prices(args.prices)
        board = _query(args, leaderboard, args.benchmark, reference=not args.no_reference, datasets=args.datasets,
                       panel=args.panel)
        board.notes.extend(_audit_notes(args.db, board))
        _attach_costs(args.db, board, prices)
    except (QueryError, SchemaError, PriceError) as exc:
        return _fail(exc)
    _emit(render_leaderboard(board, args.format), args.output)
    return 0


def _attach_costs(db: str, board: Any, prices: Any) -> None:
    """The cost columns of every run row (``store.costs``), priced with ``prices``."""
    from polaris_bench.store.costs import attach_costs

    if not any(r.get("run_ids") for r in board.rows):
        return
    con = _open(db)
    try:
        attach_costs(con, board, prices)
    finally:
        con.close()
    if prices.as_of:
        board.notes.append(f"costs priced with {prices.source} (prices of {prices.as_of}; check them, or --prices FILE)")


def _audit_notes(db: str, board: Any) -> list[str]:
    """Under the tables: the audit of every judge the board used, or "not audited"."""
    from polaris_bench.store.audits import audit_lines, board_judges

    judges = board_judges(board)
    if not judges:
        return []
    con = _open(db)
    try:
        return audit_lines(con, judges)
    finally:
        con.close()


def cmd_compare(args: argparse.Namespace) -> int:
    from polaris_bench.report.tables import render_compare
    from polaris_bench.store.queries import QueryError, compare
    from polaris_bench.store.schema import SchemaError

    try:
        rows, notes = _query(args, compare, args.model_a, args.model_b, args.benchmark)
    except (QueryError, SchemaError) as exc:
        return _fail(exc)
    _emit(render_compare(rows, notes, args.format), args.output)
    return 0 if rows else 2


def cmd_agreement(args: argparse.Namespace) -> int:
    from polaris_bench.report.tables import render_agreement
    from polaris_bench.store.panels import agreement
    from polaris_bench.store.queries import QueryError
    from polaris_bench.store.schema import SchemaError

    try:
        con = _open(args.db)
    except SchemaError as exc:
        return _fail(exc)
    try:
        results, notes = agreement(con, args.benchmark, include_incomplete=args.include_incomplete, score=args.score,
                                   criteria=not args.no_criteria, criteria_ci=args.criteria_ci,
                                   n_resamples=args.resamples, seed=args.seed)
    except QueryError as exc:
        return _fail(exc)
    finally:
        con.close()
    _emit(render_agreement(results, notes, args.format), args.output)
    return 0 if results else 2


def cmd_plot_training(args: argparse.Namespace) -> int:
    from polaris_bench.report.plots import plot_training
    from polaris_bench.store.schema import SchemaError
    from polaris_bench.store.training import (
        TrainingRunNotFound,
        resolve_train_run,
        training_curve,
    )

    if not args.run:
        print("error: polaris plot --kind training needs a training run (its id or output dir)", file=sys.stderr)
        return 2
    try:
        con = _open(args.db)
    except SchemaError as exc:
        return _fail(exc)
    try:
        run = resolve_train_run(con, args.run)
        evals, judges = training_curve(con, run)
    except TrainingRunNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        con.close()
    default = Path(args.db).parent / f"training_{run}.png"
    out = plot_training(evals, judges, default if args.out is _PLOT_OUT else args.out, title=run)
    print(f"wrote {out}")
    for r in evals.itertuples():
        for alarm in r.alarms if r.alarms is not None else []:
            print(f"alarm at step {r.step}: {alarm}")
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        evals.drop(columns=["alarms"]).merge(
            judges.pivot(index="step", columns="role", values="score").add_prefix("score_"), on="step", how="left"
        ).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from polaris_bench.report.plots import plot_curves, plot_position

    if args.kind == "training":
        return cmd_plot_training(args)
    from polaris_bench.store.queries import QueryError, curves
    from polaris_bench.store.schema import SchemaError
    from polaris_bench.store.windows import position_curves

    query, draw, default_out = {
        "length": (curves, plot_curves, DEFAULT_PLOT),
        "position": (position_curves, plot_position, DEFAULT_POSITION_PLOT),
    }[args.kind]
    try:
        frame, notes = _query(args, query, args.benchmark, args.model or None, datasets=args.datasets)
    except (QueryError, SchemaError) as exc:
        return _fail(exc)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if frame.empty:
        return _fail(QueryError("nothing to plot"))
    out = draw(frame, default_out if args.out is _PLOT_OUT else args.out)
    print(f"wrote {out}")
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


def cmd_reference_load(args: argparse.Namespace) -> int:
    from polaris_bench.store.reference import SOURCE, load_reference
    from polaris_bench.store.schema import SchemaError

    try:
        con = _open(args.db, create=True)
    except SchemaError as exc:
        return _fail(exc)
    try:
        n = load_reference(con)
    finally:
        con.close()
    print(f"loaded {n} published reference numbers ({SOURCE}) into {args.db}")
    return 0


# -- wiring ---------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``ingest``, ``leaderboard``, ``compare``, ``plot`` and ``reference`` to the
    ``polaris`` sub-command parser."""
    p = subparsers.add_parser("ingest", help="read Inspect logs (.eval/.json, files or folders) into the results store")
    p.add_argument("paths", nargs="+", help="log files or folders (searched recursively)")
    _add_db(p)
    p.add_argument("--force", action="store_true", help="re-read and re-store logs even if unchanged")
    p.add_argument("--include-started", action="store_true", help="also ingest logs of evals still running")
    p.add_argument("--verbose", "-v", action="store_true", help="list unchanged logs too")
    p.add_argument(
        "--name",
        action="append",
        metavar="MODEL=DISPLAY",
        help="show MODEL (its Inspect model string, or its full label with -M args) as DISPLAY in every "
        "report; kept in the store for later runs too (repeatable)",
    )
    p.set_defaults(func=cmd_ingest)

    p = subparsers.add_parser("leaderboard", help="one row per model: score with 95%% CI, length ratio, ID/near/far, slope")
    _add_db(p)
    _add_query_opts(p)
    _add_format(p)
    p.add_argument("--no-reference", action="store_true", help="leave out the paper's published rows")
    p.add_argument(
        "--panel", default="mean", metavar="mean|trimmed|z|ROLE|MODEL",
        help="how a judge panel's members make one score: mean (default), trimmed (drop the highest and lowest of 3+), "
        "z (each judge's scores standardised, then averaged), or one member alone by its role or model string",
    )
    add_prices_option(p)
    p.set_defaults(func=cmd_leaderboard)

    p = subparsers.add_parser("agreement", help="how much the judges of a panel agree: Krippendorff's alpha, "
                              "Spearman/Kendall, model-ranking correlation, leave-one-judge-out")
    _add_db(p)
    p.add_argument("--benchmark", "-b", help="one benchmark (task name, e.g. length_gen); default: all")
    p.add_argument("--include-incomplete", action="store_true", help="also use runs that did not finish")
    p.add_argument("--score", help="the score judged, as 'scorer.key' or 'key' (default: the headline)")
    p.add_argument("--no-criteria", action="store_true", help="leave out the per-criterion rows")
    p.add_argument("--criteria-ci", action="store_true",
                   help="bootstrap CIs for the per-criterion rows too (slow: alpha is recomputed per resample)")
    p.add_argument("--resamples", type=int, default=N_RESAMPLES, help=f"bootstrap resamples (default {N_RESAMPLES})")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    _add_format(p)
    p.set_defaults(func=cmd_agreement)

    p = subparsers.add_parser("compare", help="paired comparison of two models on the samples both ran")
    p.add_argument("model_a", help="display name or model label (or a unique part of either)")
    p.add_argument("model_b")
    _add_db(p)
    _add_query_opts(p, datasets=False)  # pairs are matched by sample id and input
    _add_format(p)
    p.set_defaults(func=cmd_compare)

    p = subparsers.add_parser("plot", help="PNG: quality and length ratio vs requested length (or, --kind position, "
                              "window quality and self-repetition along the story; --kind training RUN, a training "
                              "run's checkpoint evaluations over steps), one line per model")
    _add_db(p)
    _add_query_opts(p)
    p.add_argument("--kind", choices=("length", "position", "training"), default="length",
                   help="length (default): quality and length ratio against the requested length; position: the "
                   "windows of -T segments= runs, quality and self-repetition against the position in the story; "
                   "training: a training run's checkpoint evaluations over optimizer steps (give RUN)")
    p.add_argument("run", nargs="?", help="--kind training: the training run (its id, an id prefix or its output dir)")
    p.add_argument("--model", "-m", action="append", help="only these models (repeatable)")
    p.add_argument("--out", default=_PLOT_OUT,
                   help=f"PNG path (default {DEFAULT_PLOT}; --kind position: {DEFAULT_POSITION_PLOT}; "
                   "--kind training: training_<run>.png beside --db)")
    p.add_argument("--csv", help="also write the plotted points as CSV")
    p.set_defaults(func=cmd_plot)

    p = subparsers.add_parser("reference", help="published reference numbers")
    rsub = p.add_subparsers(dest="reference_command", required=True)
    q = rsub.add_parser("load", help="load the POLARIS paper's published results as reference rows")
    _add_db(q)
    q.set_defaults(func=cmd_reference_load)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polaris-store", description="polaris-bench results store")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
