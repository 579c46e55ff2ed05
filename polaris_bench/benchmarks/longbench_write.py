"""LongBench-Write prompts (THUDM/LongWriter ``evaluation/longbench_write*.jsonl``).

Each row: ``prompt``, ``type``, ``length`` (the required length: words for English
prompts, characters for Chinese ones; LongWriter counts both with one rule: CJK
characters plus English words). ``longbench_write_en.jsonl`` has the 60 English
prompts, ``longbench_write.jsonl`` all 120. Rows have no id field: a sample's id is
its 1-based line number (or the row's ``id`` where a file has one).
"""

from __future__ import annotations

from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import Model
from inspect_ai.scorer import Score, Scorer, Target, grouped, mean, scorer
from inspect_ai.solver import TaskState

from polaris_bench import __version__
from polaris_bench.benchmarks import task_args as args
from polaris_bench.benchmarks.common import (
    DatasetError,
    as_id,
    check_unique,
    existing_path,
    fetch_remote,
    github_raw_url,
    read_jsonl,
    require_positive_int,
    require_str,
)
from polaris_bench.benchmarks.generations import with_generations
from polaris_bench.benchmarks.solvers import MAX_TOKENS_CAP, story_solver
from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS, judge_story
from polaris_bench.judging.panel import (
    MemberResult,
    aggregate,
    judge_with_panel,
    panel_members,
)
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.judging.scorers import (
    _judge_config,
    judgement_member,
    make_panel,
    panel_judgement_metadata,
)
from polaris_bench.metrics.length import (
    bucket,
    bucket_2k,
    count_words,
    has_cjk,
    longwriter_length_score,
)
from polaris_bench.metrics.scorer import cliche_index, length_adherence, prompt_stderr
from polaris_bench.story import prompt_text, story_text

NAN = float("nan")

# Pinned: THUDM/LongWriter at commit 3fcfdff (2024-09-27); sha256 checked on every load.
LONGWRITER_COMMIT = "3fcfdff43deceb49f7936c6bf25ad88d61df0bfa"
LONGBENCH_WRITE_EN_URL = github_raw_url("THUDM/LongWriter", LONGWRITER_COMMIT, "evaluation/longbench_write_en.jsonl")
LONGBENCH_WRITE_EN_SHA256 = "87800927761f340e48899e4df5d47fb7211ad4936a63420dbfa979660414259f"


def default_longbench_write_path() -> Path:
    return fetch_remote(
        LONGBENCH_WRITE_EN_URL, "longbench_write_en.jsonl", "LongBench-Write English prompts",
        sha256=LONGBENCH_WRITE_EN_SHA256,
    )


def load_longbench_write(path: str | Path | None = None) -> list[Sample]:
    p = default_longbench_write_path() if path is None else existing_path(path, "LongBench-Write")
    samples: list[Sample] = []
    ids: list[tuple[str, int]] = []
    for line, row in read_jsonl(p):
        prompt = require_str(row, "prompt", p, line)
        length = require_positive_int(row, "length", p, line)
        kind = row.get("type")
        if kind is not None and not isinstance(kind, str):
            raise DatasetError(p, f"field 'type' must be a string, got {type(kind).__name__}", line)
        ident = as_id(row["id"], "id", p, line) if "id" in row else str(line)
        ids.append((ident, line))
        zh = has_cjk(prompt)
        samples.append(
            Sample(
                id=ident,
                input=prompt,
                metadata={
                    "benchmark": "longbench_write",
                    "prompt_id": ident,
                    "type": kind,
                    "language": "zh" if zh else "en",
                    "prompt": prompt,
                    "target_words": length,
                    "length_unit": "characters" if zh else "words",
                    "bucket": bucket(length),
                    "bucket_2k": bucket_2k(length),
                    # LongWriter's own length ranges for its per-range reports
                    "length_range": longwriter_range(length),
                },
            )
        )
    if not samples:
        raise DatasetError(p, "no rows")
    check_unique(ids, p, "id")
    return samples


def longwriter_range(length: int) -> str:
    """LongBench-Write's length groups: [0, 500), [500, 2000), [2000, 4000), 4000+."""
    if length < 500:
        return "<500"
    if length < 2000:
        return "500-2k"
    if length < 4000:
        return "2k-4k"
    return ">4k"


# -- scoring --------------------------------------------------------------------


def longbench_values(s_q: float | None, required: int, produced_text: str) -> dict[str, float]:
    """S_q (None when the judge failed), S_l from LongWriter's counting, and S, S_avg."""
    produced = count_words(produced_text, "longwriter")
    s_l = longwriter_length_score(required, produced)
    if s_q is None:
        return {"S": NAN, "S_q": NAN, "S_l": s_l, "S_avg": NAN, "words": float(produced)}
    return {"S": s_q * s_l / 100.0, "S_q": s_q, "S_l": s_l, "S_avg": (s_q + s_l) / 2.0, "words": float(produced)}


@scorer(
    metrics={
        "S": [mean(), prompt_stderr()],
        "S_q": [mean(), prompt_stderr()],
        "S_l": [mean(), prompt_stderr(), grouped(mean(), "length_range", all=False)],
        "S_avg": [mean()],
        "words": [mean()],
    }
)
def longbench_write_score(
    rubric: str = "longbench_write",
    compact: bool = False,
    max_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    grader: str | None = None,
    partial_replies: bool = False,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
) -> Scorer:
    """LongBench-Write: quality S_q (judge, length ignored; the panel aggregate of the
    members' S_q), length S_l, S = S_q*S_l/100."""
    loaded = load_rubric(rubric)
    config = _judge_config(compact, max_attempts, partial_replies)
    key = loaded.aggregation.name if loaded.aggregation.kind == "weighted_mean" else "overall"
    panel = make_panel(judges, panel_aggregate, panel_min)

    async def score(state: TaskState, target: Target) -> Score:
        story = story_text(state)
        required = state.metadata.get("target_words")
        if not required:
            raise ValueError(f"sample {state.sample_id!r} has no required length (target_words)")
        prompt = prompt_text(state)

        async def one(model: Model) -> MemberResult:
            member = judgement_member(await judge_story(loaded, prompt, story, model, config))
            if member.value is not None:  # the member's own S_q, S_l, S
                member.value = longbench_values(member.value[key], int(required), story)
            return member

        result = await judge_with_panel(panel, panel_members(panel, grader), one)
        s_q = aggregate([r.value["S_q"] for r in result.ok_results if r.value], panel.aggregate) if result.scored else None
        value = longbench_values(s_q, int(required), story)
        meta = panel_judgement_metadata(loaded, result, value)
        if not result.scored:
            meta["unscored_reason"] = result.unscored_reason
        return Score(
            value=value,
            answer=story[:200],
            reason=None if result.scored else f"S_q unscored: {result.unscored_reason}",
            explanation=f"S_q={value['S_q']:.1f} S_l={value['S_l']:.1f} S={value['S']:.1f}",
            metadata=meta,
        )

    return score



# -- the task -------------------------------------------------------------------


@task
def longbench_write(
    dataset: str | None = None,
    generations: str | None = None,
    max_tokens: int | None = MAX_TOKENS_CAP,
    rubric: str = "longbench_write",
    compact: bool = False,
    judge_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
    partial_replies: bool = False,
    cliche_list: str | None = None,
) -> Task:
    """Args:
    dataset: longbench_write_en.jsonl / longbench_write.jsonl (default: the English
      file, downloaded from LongWriter's GitHub repository into the cache).
    generations: JSONL of existing responses (id = the 1-based line number) to judge.
    max_tokens: generation limit (LongWriter uses 32768).
    rubric, compact, judge_attempts: judging options.
    partial_replies: average the criteria a judge reply returned when it leaves some
      out, as the POLARIS evaluation code does (default: retry, then unscored).
    judges: comma-separated model roles that judge every story (default grader; bind
      each with --model-role <role>=<model>): a judge panel.
    panel_aggregate: mean, median or trimmed (drops the highest and lowest judge when
      there are 3 or more): how the panel's scores combine.
    panel_min: judges that must succeed for a sample to be scored (default 1).
    cliche_list: a cliché list file (one word or phrase per line, # comments) for the
      cliche_index scorer, which reports hits per 1,000 words (default: the bundled list).
    """
    max_tokens = args.positive_int("max_tokens", max_tokens, optional=True)
    judging = args.judge_args(rubric, compact, judge_attempts, partial_replies)
    panel = args.panel_args(judges, panel_aggregate, panel_min)
    dataset = args.text("dataset", dataset, optional=True)
    generations = args.text("generations", generations, optional=True)
    cliches = args.cliche_list(cliche_list)
    args.require_roles(*args.judge_roles(panel))
    samples = with_generations(load_longbench_write(dataset), generations)
    return Task(
        dataset=MemoryDataset(samples, name="longbench_write"),
        solver=story_solver(generations, roles=args.judge_roles(panel), max_tokens=max_tokens),
        scorer=[
            longbench_write_score(**judging, **panel),
            length_adherence(method="longwriter"),
            cliche_index(cliches),
        ],
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "longbench_write",
            "split": "OOD",
            "units": "S = S_q * S_l / 100 (0-100)",
            "paper_judge": "Gemini 3.1 Pro",
            "generation": {"max_tokens": max_tokens, "source": "generations file" if generations else "model"},
        },
    )
