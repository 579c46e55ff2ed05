"""The ``polaris`` command: rubric tools, the demo, the results store, training and
local models. Sub-commands import their modules lazily so ``polaris --help`` is quick
and an optional extra that is not installed only breaks the command that needs it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from polaris_bench.paths import DEFAULT_DB, DEFAULT_PLOT


def _rubric_validate(args: argparse.Namespace) -> int:
    from polaris_bench.judging.prompt import response_json_schema
    from polaris_bench.judging.rubric import RubricError, load_rubric

    status = 0
    for name in args.rubrics:
        try:
            rubric = load_rubric(name)
        except RubricError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        response_json_schema(rubric)
        print(f"ok: {rubric.source_path} ({rubric.id}, {len(rubric.criteria)} criteria, sha256 {rubric.sha256[:12]})")
    return status


def _rubric_show(args: argparse.Namespace) -> int:
    import json

    from polaris_bench.judging.prompt import render, response_json_schema
    from polaris_bench.judging.rubric import load_rubric

    rubric = load_rubric(args.rubric)
    if args.schema:
        print(json.dumps(response_json_schema(rubric, compact=args.compact), indent=2))
    else:
        print(render(rubric, "<the writing prompt>", "<the story>", compact=args.compact).text)
    return 0


def _rubric_list(args: argparse.Namespace) -> int:
    from polaris_bench.judging.rubric import bundled_rubrics

    print("\n".join(bundled_rubrics()))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from polaris_bench.cli.demo import DemoConfig, run_demo

    return run_demo(
        DemoConfig(
            writer=args.writer,
            judge=args.judge,
            prompts=args.prompts,
            targets=args.targets,
            log_dir=args.log_dir,
            db=args.db,
            plot=args.plot,
            compact=not args.full_judge,
        )
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polaris", description="polaris-bench: long-story benchmarks and training")
    sub = parser.add_subparsers(dest="command", required=True)

    rubric = sub.add_parser("rubric", help="list, validate or show rubrics")
    rsub = rubric.add_subparsers(dest="rubric_command", required=True)
    p = rsub.add_parser("list", help="bundled rubric names")
    p.set_defaults(func=_rubric_list)
    p = rsub.add_parser("validate", help="check rubric files (names or paths)")
    p.add_argument("rubrics", nargs="+")
    p.set_defaults(func=_rubric_validate)
    p = rsub.add_parser("show", help="print the rendered judge prompt or the reply schema")
    p.add_argument("rubric")
    p.add_argument("--schema", action="store_true", help="print the JSON schema instead")
    p.add_argument("--compact", action="store_true", help="scores-only mode")
    p.set_defaults(func=_rubric_show)

    from polaris_bench.cli.demo import (
        DEFAULT_JUDGE,
        DEFAULT_LOG_DIR,
        DEFAULT_PROMPTS,
        DEFAULT_TARGETS,
        DEFAULT_WRITER,
    )

    demo = sub.add_parser("demo", help="the main job: sweep, judge, ingest, leaderboard, plot")
    demo.add_argument("--writer", default=DEFAULT_WRITER, help=f"Inspect model string (default {DEFAULT_WRITER})")
    demo.add_argument("--judge", default=DEFAULT_JUDGE, help=f"grader model string (default {DEFAULT_JUDGE})")
    demo.add_argument("--prompts", default=DEFAULT_PROMPTS)
    demo.add_argument("--targets", default=DEFAULT_TARGETS)
    demo.add_argument("--log-dir", default=DEFAULT_LOG_DIR)
    demo.add_argument("--db", default=str(DEFAULT_DB))
    demo.add_argument("--plot", default=str(DEFAULT_PLOT))
    demo.add_argument("--full-judge", action="store_true", help="justifications and quotes, not the compact mode")
    demo.set_defaults(func=_demo)

    # Listed for --help only: main() hands "train ..." to polaris_bench.train.run.
    sub.add_parser("train", help="GRPO + HRI training: polaris train --config train/configs/smoke.yaml")

    _register_optional(sub)
    return parser


def _register_optional(sub: argparse._SubParsersAction) -> None:
    """Sub-commands of the store and of local models (cheap to import; a command
    whose extra is missing says which one to install when it runs)."""
    from polaris_bench.cli import audit as audit_cli
    from polaris_bench.cli import cost as cost_cli
    from polaris_bench.cli import models as local_cli
    from polaris_bench.cli import report as report_cli
    from polaris_bench.cli import store as store_cli

    store_cli.register(sub)
    report_cli.register(sub)
    local_cli.register(sub)
    audit_cli.register(sub)
    cost_cli.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    from polaris_bench.extras import MissingExtraError, require_extra

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "train":  # the trainer parses its own options
            require_extra("train", "polaris train")
            from polaris_bench.train.run import main as train_main

            return int(train_main(argv[1:]) or 0)
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except MissingExtraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
