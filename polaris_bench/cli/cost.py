"""``polaris cost`` (what stored runs cost, per run and role, or per sample of one run)
and ``polaris estimate`` (what a run will cost, before it runs; ``--check LOG`` after).
Exit status 2 with a one-line error for bad options, price files or logs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from polaris_bench.paths import DEFAULT_DB

COST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_model", "model"), ("benchmark", "benchmark"), ("run", "run"), ("role", "role"),
    ("model", "role's model"), ("calls", "calls"), ("input_tokens", "input tok"), ("cache_read_tokens", "cached tok"),
    ("output_tokens", "output tok"), ("cost", "cost (USD)"), ("per_sample", "per sample"),
    ("per_1k", "per 1k words judged"),
)
SAMPLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("sample_id", "sample"), ("epoch", "epoch"), ("role", "role"), ("model", "model"), ("calls", "calls"),
    ("input_tokens", "input tok"), ("output_tokens", "output tok"), ("words", "words"), ("cost", "cost (USD)"),
)


def _print(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...], fmt_: str, title: str,
           notes: list[str]) -> None:
    from polaris_bench.report.tables import (
        _json_safe,
        _raw,
        _rich_table,
        fmt,
        make_console,
        money,
    )

    if fmt_ == "json":
        print(json.dumps({"costs": [{k: _json_safe(v) for k, v in r.items()} for r in rows], "notes": notes}, indent=2))
        return
    if fmt_ == "csv":
        sys.stdout.write(_raw(rows, "csv"))
        return
    shown = []
    for r in rows:
        d = {k: fmt(v) for k, v in r.items()}
        d["run"] = str(r.get("run_id", ""))[:8]
        d["cost"] = money(r["cost_usd"]) if r.get("cost_usd") is not None else r.get("price", "—")
        d["per_sample"] = money(r.get("cost_per_sample_usd"))
        d["per_1k"] = money(r.get("cost_per_1k_words_usd"))
        shown.append(d)
    console = make_console()
    console.print(_rich_table(title, shown, columns))
    for n in notes:
        console.print(f"note: {n}", markup=False)


def cmd_cost(args: argparse.Namespace) -> int:
    from polaris_bench.cli.store import _fail, _open
    from polaris_bench.costs.prices import PriceError, load_prices
    from polaris_bench.store.costs import role_costs, sample_costs
    from polaris_bench.store.schema import SchemaError

    try:
        prices = load_prices(args.prices)
        con = _open(args.db)
    except (PriceError, SchemaError) as exc:
        return _fail(exc)
    try:
        run_ids = None
        if args.run:
            run_ids = [r[0] for r in con.execute(
                "SELECT run_id FROM runs WHERE run_id LIKE ? || '%' OR model_label = ? OR display_name = ?",
                [args.run, args.run, args.run]).fetchall()]
            if not run_ids:
                return _fail(LookupError(f"--run {args.run}: no stored run has this id (or id prefix), model or name"))
        if args.samples:
            if run_ids is None or len(run_ids) != 1:
                return _fail(ValueError("--samples needs --run naming exactly one run"))
            rows = sample_costs(con, prices, run_ids[0])
            columns, title = SAMPLE_COLUMNS, f"cost per sample of run {run_ids[0]}"
        else:
            rows = role_costs(con, prices, run_ids)
            columns, title = COST_COLUMNS, "cost per run and role"
        stored = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    except PriceError as exc:
        return _fail(exc)
    finally:
        con.close()
    notes = [f"prices from {prices.source}" + (f" (as of {prices.as_of}; yours to check)" if prices.as_of else "")]
    if not rows:
        notes.append("no token usage stored" + (" (runs ingested before schema v8: `polaris ingest --force <logs>`)"
                                                 if stored else "; run `polaris ingest <logs>` first"))
    _print(rows, columns, args.format, title, notes)
    return 0 if rows else 2


ESTIMATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("role", "role"), ("model", "model"), ("batch", "batch"), ("calls", "calls"), ("input_tokens", "input tok"),
    ("output", "output tok (at most)"), ("cost", "USD (at most)"), ("price", "price entry"),
)
CHECK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("role", "role"), ("model", "model"), ("calls", "calls est / actual"), ("input", "input tok est / actual"),
    ("output", "output tok est / actual"), ("total", "total tok est / actual"), ("total_err", "total error"),
)


def _task_args(items: list[str] | None) -> dict[str, Any]:
    """``-T key=value`` as Inspect parses them (YAML values; ``a,b`` stays a string)."""
    from inspect_ai._cli.util import parse_cli_args

    return dict(parse_cli_args(tuple(items or ())))


def _model_roles(items: list[str] | None) -> tuple[dict[str, str], dict[str, bool]]:
    """``--model-role ROLE=MODEL`` or ``ROLE={model: MODEL, batch: true}`` (Inspect's
    forms) -> (role -> model string, role -> batch)."""
    import yaml

    from polaris_bench.costs.estimate import EstimateError

    roles: dict[str, str] = {}
    batch: dict[str, bool] = {}
    for item in items or []:
        role, sep, value = item.partition("=")
        if not sep or not role.strip() or not value.strip():
            raise EstimateError(f"--model-role {item!r}: expected ROLE=MODEL or ROLE={{model: MODEL, batch: true}}")
        role = role.strip()
        parsed: Any = value.strip()
        if parsed.startswith("{"):
            try:
                parsed = yaml.safe_load(parsed)
            except yaml.YAMLError as exc:
                raise EstimateError(f"--model-role {item!r}: not valid YAML ({exc})") from exc
            if not isinstance(parsed, dict) or not isinstance(parsed.get("model"), str):
                raise EstimateError(f"--model-role {item!r}: the mapping needs a 'model' string")
            batch[role] = bool(parsed.get("batch"))
            parsed = parsed["model"]
        roles[role] = str(parsed)
    return roles, batch


def _fmt_tokens(v: Any) -> str:
    from polaris_bench.report.tables import fmt

    return fmt(round(v)) if isinstance(v, (int, float)) else "—"


def cmd_estimate(args: argparse.Namespace) -> int:
    from polaris_bench.cli.store import _fail
    from polaris_bench.costs.estimate import Assumptions, EstimateError, check, estimate
    from polaris_bench.costs.prices import PriceError, load_prices
    from polaris_bench.report.tables import (
        _json_safe,
        _rich_table,
        fmt,
        fmt_share,
        make_console,
        money,
    )

    try:
        prices = load_prices(args.prices)
        assumptions = Assumptions(args.tokens_per_word, args.failure_rate, args.judge_reply_share)
        if args.check:
            est, rows = check(args.check, prices, assumptions)
        else:
            if not args.task:
                raise EstimateError("name a task (e.g. length_gen or tasks/length_gen.py), or --check LOG")
            roles, batch = _model_roles(args.model_role)
            if args.batch_writer:
                batch["writer"] = True
            est = estimate(args.task, _task_args(args.task_arg), args.model, roles, prices, assumptions, batch)
            rows = []
    except (EstimateError, PriceError) as exc:
        return _fail(exc)
    notes = [*est.notes,
             (f"assumed: {assumptions.tokens_per_word} tokens per word, judge failure rate "
              f"{fmt_share(assumptions.failure_rate)} (retried up to -T judge_attempts), a judge reply uses "
              f"{fmt_share(assumptions.judge_reply_share)} of its {est.judge_reply_budget}-token budget; "
              "'at most': every judge attempt spent and every reply at its full budget"),
             f"prices from {prices.source}" + (f" (as of {prices.as_of}; yours to check)" if prices.as_of else "")]
    if args.format == "json":
        out = est.as_dict() | {"notes": notes}
        if args.check:
            out["check"] = rows
        print(json.dumps(out, indent=2, default=_json_safe))
        return 0
    console = make_console()
    shown = []
    for r in est.roles:
        shown.append({
            "role": r.role, "model": str(r.model), "batch": "yes" if r.batch else "no", "calls": fmt(r.calls, 1),
            "input_tokens": _fmt_tokens(r.input_tokens),
            "output": f"{_fmt_tokens(r.output_tokens)} ({_fmt_tokens(r.output_ceiling)})",
            "cost": (f"{money(r.cost_usd)} ({money(r.cost_ceiling_usd)})" if r.cost_usd is not None else "no price"),
            "price": r.price,
        })
    total, ceiling = est.total(), est.total("cost_ceiling_usd")
    title = (f"estimate: {est.task} ({est.samples} samples): "
             + (f"{money(total)} (at most {money(ceiling)})" if total is not None else
                "no total: " + ", ".join(str(r.model) for r in est.roles if r.cost_usd is None) + " have no price"))
    console.print(_rich_table(title, shown, ESTIMATE_COLUMNS))
    if rows:
        def pair(r: dict[str, Any], key: str) -> str:
            err = r.get(f"{key}_err")
            return (f"{_fmt_tokens(r.get(f'{key}_est'))} / {_fmt_tokens(r.get(key))}"
                    + (f" ({100 * err:+.1f}%)" if err is not None else ""))

        checked = [{"role": r["role"], "model": str(r.get("model") or ""), "calls": pair(r, "calls") if "calls" in r else "",
                    "input": pair(r, "input") if "input" in r else "", "output": pair(r, "output") if "output" in r else "",
                    "total": pair(r, "total"),
                    "total_err": f"{100 * r['total_err']:+.1f}%" if r.get("total_err") is not None else "—"}
                   for r in rows]
        console.print(_rich_table(f"estimate vs {args.check}", checked, CHECK_COLUMNS))
        shares = [f"{r['role']} {fmt_share(r['reply_share'])}" for r in rows if r.get("reply_share") is not None]
        if shares:
            notes.append("judge replies used " + ", ".join(shares) + " of their budget (--judge-reply-share)")
    for n in notes:
        console.print(f"note: {n}", markup=False)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from polaris_bench.cli.store import add_prices_option

    p = sub.add_parser("cost", help="what stored runs cost: tokens and USD per run and role (writer, each judge)")
    p.add_argument("--db", default=str(DEFAULT_DB), help=f"DuckDB results file (default {DEFAULT_DB})")
    add_prices_option(p)
    p.add_argument("--run", help="one run: its id (or a prefix), model label or display name")
    p.add_argument("--samples", action="store_true", help="per sample of the --run")
    p.add_argument("--format", "-f", choices=("table", "json", "csv"), default="table")
    p.set_defaults(func=cmd_cost)

    from polaris_bench.costs.estimate import (
        DEFAULT_FAILURE_RATE,
        DEFAULT_REPLY_SHARE,
        DEFAULT_TOKENS_PER_WORD,
    )

    p = sub.add_parser("estimate", help="before a run: writer and judge calls, tokens and USD for a task and its "
                       "-T options; --check LOG compares with a finished run")
    p.add_argument("task", nargs="?", help="task name or file (length_gen, tasks/length_gen.py)")
    p.add_argument("-T", dest="task_arg", action="append", metavar="KEY=VALUE", help="task option, as for inspect eval")
    p.add_argument("--model", help="the writer's Inspect model string")
    p.add_argument("--model-role", action="append", metavar="ROLE=MODEL",
                   help="a judge role's model (grader=openai/gpt-5.4), or 'grader={model: openai/gpt-5.4, batch: true}' "
                   "for a judge run through the provider's batch API (repeatable)")
    p.add_argument("--batch-writer", action="store_true", help="the writer runs in batch mode too (--batch)")
    add_prices_option(p)
    p.add_argument("--tokens-per-word", type=float, default=DEFAULT_TOKENS_PER_WORD,
                   help=f"tokens per English word, for prompts, stories and the judge prompt (default {DEFAULT_TOKENS_PER_WORD})")
    p.add_argument("--failure-rate", type=float, default=DEFAULT_FAILURE_RATE,
                   help=f"share of judge replies that fail and are retried (default {DEFAULT_FAILURE_RATE})")
    p.add_argument("--judge-reply-share", type=float, default=DEFAULT_REPLY_SHARE,
                   help=f"share of the judge's reply budget a reply uses (default {DEFAULT_REPLY_SHARE}; --check "
                   "prints the measured share)")
    p.add_argument("--check", metavar="LOG", help="compare the estimate for this log's task options and models "
                   "with the tokens it recorded, per role")
    p.add_argument("--format", "-f", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_estimate)
