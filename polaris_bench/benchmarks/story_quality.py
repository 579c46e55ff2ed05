"""POLARIS prompt files: ``uid``, ``prompt``, ``target_word_count`` (the HF dataset
``rishanthrajendhran/POLARIS``, test split 180 rows, train 1,388), from .jsonl, .json,
.csv or .parquet.

Also reads the POLARIS training schema (``prompt`` as chat messages whose user turn
ends "Your story should be approximately N words long."): the user turn is the prompt
and the target is parsed from that sentence. A file without a ``uid`` column gets
ids ``row<N>``; a row with an empty uid is an error.

The prompt given to the writer states the length with the paper's sentence: it is
appended when the prompt does not already contain it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample

from polaris_bench import __version__
from polaris_bench.benchmarks import task_args as args
from polaris_bench.benchmarks.common import (
    DatasetError,
    as_id,
    check_unique,
    existing_path,
    read_table,
    require_positive_int,
)
from polaris_bench.benchmarks.generations import with_generations
from polaris_bench.benchmarks.solvers import DEFAULT_THINKING_ALLOWANCE, story_solver
from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS
from polaris_bench.judging.scorers import story_quality as story_quality_scorer
from polaris_bench.judging.segments import story_segments
from polaris_bench.metrics.length import (
    bucket,
    bucket_2k,
    length_instruction,
    parse_target,
)
from polaris_bench.metrics.scorer import cliche_index, length_adherence
from polaris_bench.story import last_user_turn

log = logging.getLogger(__name__)

POLARIS_HF_ID = "rishanthrajendhran/POLARIS"
# The HF dataset's commit id at the paper's release could not be verified from here (the
# Hub is not reachable from this project's build machines), so no commit is pinned by
# default: the loader reads "main" and logs a warning, and every run records the revision
# it asked for. Pin one with -T revision=<commit id> (a 40-hex commit from the dataset's
# "Files and versions" history); set this constant once the commit is known.
POLARIS_HF_REVISION: str | None = None


def _prompt_text(value: Any, path: Path, line: int) -> str:
    if isinstance(value, str):
        if not value.strip():
            raise DatasetError(path, "field 'prompt' is empty", line)
        return value
    # chat messages (list, tuple or numpy array from parquet)
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)) and value:
        text = last_user_turn(value)
        if not text or not text.strip():
            raise DatasetError(path, "field 'prompt' is a message list without a non-empty user turn", line)
        return text
    raise DatasetError(path, f"field 'prompt' must be a string or a list of chat messages, got {type(value).__name__}", line)


def _hf_rows(dataset_id: str, split: str, revision: str | None = None) -> tuple[Path, list[tuple[int, dict[str, Any]]]]:
    try:
        import datasets  # type: ignore[import-not-found]
    except ImportError as exc:
        raise DatasetError(
            None,
            f"the POLARIS prompts ({dataset_id}, split {split!r}) need the `datasets` package and "
            "network access; pass a local file with -T dataset=<path> (.jsonl/.csv/.parquet with "
            "uid, prompt, target_word_count)",
        ) from exc
    from polaris_bench.benchmarks.online import check_hub_reachable

    check_hub_reachable(dataset_id)  # fail in seconds offline, not after the Hub retries
    try:
        if revision is None:
            log.warning(
                "%s is read from its moving 'main' branch (no revision pinned); pass -T revision=<commit> "
                "to pin it", dataset_id,
            )
        ds = datasets.load_dataset(dataset_id, split=split, revision=revision)
    except Exception as exc:  # offline, unknown split, ...
        raise DatasetError(
            None, f"could not load {dataset_id} split {split!r} ({exc}); pass a local file with -T dataset=<path>"
        ) from exc
    return Path(dataset_id), [(i, dict(row)) for i, row in enumerate(ds, start=1)]


def load_polaris_prompts(
    path: str | Path | None = None,
    *,
    split: str = "test",
    benchmark: str = "story_quality",
    revision: str | None = POLARIS_HF_REVISION,
) -> list[Sample]:
    """Samples for POLARIS prompts; ``path`` None loads the HF dataset (needs network)
    at ``revision`` (a commit id; None: the moving main branch, with a warning)."""
    if path is None or (isinstance(path, str) and path == POLARIS_HF_ID):
        p, rows = _hf_rows(POLARIS_HF_ID, split, revision)
    else:
        p = existing_path(path, "POLARIS prompts")
        rows = list(read_table(p))
    if not rows:
        raise DatasetError(p, "no rows")
    has_uid = any("uid" in row for _, row in rows)
    samples: list[Sample] = []
    ids: list[tuple[str, int]] = []
    for line, row in rows:
        if "prompt" not in row or row["prompt"] is None:
            raise DatasetError(p, "missing field 'prompt'", line)
        prompt = _prompt_text(row["prompt"], p, line)
        uid = as_id(row.get("uid"), "uid", p, line) if has_uid else f"row{line}"
        stated = parse_target(prompt)
        if row.get("target_word_count") not in (None, ""):
            target = require_positive_int(row, "target_word_count", p, line)
            if stated is not None and stated != target:
                raise DatasetError(
                    p, f"target_word_count {target} disagrees with the prompt's stated length {stated}", line
                )
        elif stated is not None:
            target = stated
        else:
            raise DatasetError(p, "no 'target_word_count' and no length sentence in the prompt", line)
        text = prompt if stated is not None else f"{prompt.rstrip()} {length_instruction(target)}"
        ids.append((uid, line))
        samples.append(
            Sample(
                id=uid,
                input=text,
                metadata={
                    "benchmark": benchmark,
                    "prompt_id": uid,
                    "prompt": text,
                    "target_words": target,
                    "bucket": bucket(target),
                    "bucket_2k": bucket_2k(target),
                },
            )
        )
    check_unique(ids, p, "uid")
    return samples


# -- the task -------------------------------------------------------------------


@task
def story_quality(
    dataset: str | None = None,
    split: str = "test",
    revision: str | None = POLARIS_HF_REVISION,
    generations: str | None = None,
    max_tokens: int | None = None,
    thinking: bool | None = None,
    thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE,
    rubric: str = "story_quality",
    compact: bool = False,
    judge_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
    segments: int | None = None,
    decay_margin: float | None = None,
    partial_replies: bool = False,
    cliche_list: str | None = None,
) -> Task:
    """Args:
    dataset: POLARIS prompt file (.jsonl/.csv/.parquet); default the HF test split.
    split: HF split when no file is given.
    revision: HF dataset commit id to pin when no file is given (default: main, warned).
    generations: JSONL of existing stories (id = uid) to judge instead of generating.
    max_tokens: fixed generation limit (default: sized from each target).
    thinking: true/false: whether the writer thinks (default: inferred from the
      model name; only a thinking writer gets the thinking allowance).
    thinking_allowance: extra tokens for a thinking writer's reasoning.
    rubric: a bundled rubric name or a YAML path (polaris_sq aggregation).
    compact: judge with scores only (no justifications or quotes).
    judge_attempts: judge calls per story before it is left unscored.
    partial_replies: score a judge reply that leaves dimensions out, as the POLARIS
      evaluation code does (published_overall from its reported totals); default: retry,
      then leave the sample unscored.
    judges: comma-separated model roles that judge every story (default grader; bind
      each with --model-role <role>=<model>): a judge panel.
    panel_aggregate: mean, median or trimmed (drops the highest and lowest judge when
      there are 3 or more): how the panel's scores combine.
    panel_min: judges that must succeed for a sample to be scored (default 1).
    cliche_list: a cliché list file (one word or phrase per line, # comments) for the
      cliche_index scorer, which reports hits per 1,000 words (default: the bundled list).
    segments: judge quality along the story too: windows of about this many words
      (an integer >= 100; 2000 is a good value), each judged with the story_segment
      rubric by the same judges, and the per-sample decay (scorer story_segments).
      Default off.
    decay_margin: quality points (0-100) below the first window that count as a
      drop for decay_onset (default 5; only with segments).
    """
    writer = args.writer_args(max_tokens, thinking, thinking_allowance)
    judging = args.judge_args(rubric, compact, judge_attempts, partial_replies)
    panel = args.panel_args(judges, panel_aggregate, panel_min)
    segmented = args.segment_args(segments, decay_margin)
    dataset = args.text("dataset", dataset, optional=True)
    split = args.text("split", split)
    generations = args.text("generations", generations, optional=True)
    cliches = args.cliche_list(cliche_list)
    args.require_roles(*args.judge_roles(panel))
    samples = with_generations(
        load_polaris_prompts(dataset, split=split, benchmark="story_quality", revision=revision), generations
    )
    return Task(
        dataset=MemoryDataset(samples, name="polaris_id"),
        solver=story_solver(generations, roles=args.judge_roles(panel), **writer),
        scorer=[
            story_quality_scorer(**judging, **panel),
            length_adherence(),
            cliche_index(cliches),
            *([story_segments(**segmented, compact=judging["compact"], max_attempts=judging["max_attempts"],
                            cliche_list=cliches, **panel)]
              if segmented else []),
        ],
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "story_quality",
            "split": "ID",
            "units": "SQ overall [-159, 108]; published_overall min(100, P - N + bonus)",
            "dataset_revision": None if dataset else (revision or "main (unpinned)"),
            "paper_judge": "GPT-5.4",
            "generation": {"source": "generations file" if generations else "model"},
        },
    )
