"""``polaris audit``: run the judge audit on one judge and store it, or show the stored
audits.

    polaris audit --judge openai/gpt-4.1 [--rubric story_quality] [--repeats 5] [--probes N]
                  [--preferences litbench.jsonl] [-M key=value ...] [--db ...] [--log-dir ...]
    polaris audit --format json          # every audited judge in the store, one object each

``--judge`` takes an Inspect model string or a role binding ``grader=<model string>``.
The audit runs in-process through ``inspect_ai.eval`` (task ``judge_audit``, no writer:
model ``none/none``), its log is ingested into ``--db``, and the judge's summary is
printed. Exit status: 0 done (flags are findings, not errors); 1 the eval or ingest
failed; 2 bad arguments or nothing stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from polaris_bench.paths import DEFAULT_DB

DEFAULT_LOG_DIR = "logs/audit"


def _model_args(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"-M {pair!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def judge_string(judge: str) -> str:
    """``grader=<model>`` or ``<model>`` -> the model string."""
    role, sep, model = judge.partition("=")
    if sep:
        if role.strip() != "grader":
            raise ValueError(f"--judge {judge!r}: the audited judge is the 'grader' role (grader=<model>)")
        return model.strip()
    return judge.strip()


def _print(summaries: list[dict[str, Any]], fmt: str) -> None:
    from polaris_bench.store.audits import summary_line

    if fmt == "json":
        print(json.dumps(summaries if len(summaries) != 1 else summaries[0], indent=2))
    else:
        for s in summaries:
            print(summary_line(s))


def run_audit(args: argparse.Namespace) -> int:
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model

    from polaris_bench.benchmarks.judge_audit import judge_audit
    from polaris_bench.store.audits import audit_summaries, judge_name
    from polaris_bench.store.ingest import ingest
    from polaris_bench.store.schema import connect

    try:
        model = judge_string(args.judge)
        margs = _model_args(args.model_arg)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    task_args: dict[str, Any] = {"rubric": args.rubric, "repeats": args.repeats}
    if args.probes is not None:
        task_args["probes"] = args.probes
    if args.preferences:
        task_args["preferences"] = args.preferences
    [log] = inspect_eval(
        judge_audit(**task_args),
        model="none/none",
        model_roles={"grader": get_model(model, memoize=False, **margs)},
        log_dir=args.log_dir,
        display="none",
    )
    if log.status != "success":
        print(f"error: the audit did not finish: {log.error}", file=sys.stderr)
        return 1
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    con = connect(args.db)
    try:
        report = ingest(con, [log.location])
        if report.errors:
            print(f"error: could not ingest {log.location}: {report.errors[0].reason}", file=sys.stderr)
            return 1
        name = judge_name(log.eval.model_roles["grader"].model, dict(log.eval.model_roles["grader"].args or {}))
        mine = [s for s in audit_summaries(con) if s["judge"] == name]
    finally:
        con.close()
    _print(mine, args.format)
    return 0


def show_audits(args: argparse.Namespace) -> int:
    from polaris_bench.store.audits import audit_summaries
    from polaris_bench.store.schema import SchemaError, connect

    if not Path(args.db).exists():
        print(f"error: {args.db}: no results database yet; run `polaris audit --judge <model>` first", file=sys.stderr)
        return 2
    try:
        con = connect(args.db)
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        summaries = audit_summaries(con)
    finally:
        con.close()
    if args.format == "json":
        print(json.dumps(summaries, indent=2))
    elif not summaries:
        print("No judge audits stored yet: run `polaris audit --judge <model>`.")
    else:
        _print(summaries, "table")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    return run_audit(args) if args.judge else show_audits(args)


def register(subparsers: argparse._SubParsersAction) -> None:
    from polaris_bench.benchmarks.judge_audit import DEFAULT_REPEATS

    p = subparsers.add_parser(
        "audit", help="audit a judge (noise, position, length, injection, human agreement) and store it; "
        "without --judge: show the stored audits")
    p.add_argument("--judge", help="the judge: an Inspect model string or grader=<model string>")
    p.add_argument("-M", "--model-arg", action="append", metavar="KEY=VALUE",
                   help="model argument of the judge (repeatable), e.g. -M obey=true for offline/judge")
    p.add_argument("--rubric", default="story_quality", help="rubric whose main score is audited")
    p.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="judge calls per probe as written")
    p.add_argument("--probes", type=int, help="use the first N probe stories (default: all)")
    p.add_argument("--preferences", help="reader preference pairs (.jsonl, LitBench's columns)")
    p.add_argument("--db", default=str(DEFAULT_DB), help=f"DuckDB results file (default {DEFAULT_DB})")
    p.add_argument("--log-dir", default=DEFAULT_LOG_DIR, help=f"Inspect log folder (default {DEFAULT_LOG_DIR})")
    p.add_argument("--format", "-f", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_audit)
