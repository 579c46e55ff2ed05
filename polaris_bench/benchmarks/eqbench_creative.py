"""EQ-Bench Creative Writing v3 prompts (and EQ-Bench-style prompt files in general).

The v3 file is a JSON object keyed by prompt id ("1".."33", no "27"); each entry has
``category``, ``title``, ``writing_prompt`` with a ``<SEED>`` slot and
``seed_modifiers``. Iteration ``i`` (1-based) fills the slot with modifier
``(i - 1) mod len(modifiers)``, so the three default iterations use three different
modifiers. Sample ids are ``<prompt id>_<iteration>``.

The EQ-Bench Longform prompt file has the same shape without seeds; it loads with
``iterations=1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig
from inspect_ai.scorer import Metric, SampleScore, Scorer, mean, metric, scorer

from polaris_bench import __version__
from polaris_bench.benchmarks import task_args as args
from polaris_bench.benchmarks.common import (
    DatasetError,
    existing_path,
    fetch_remote,
    github_raw_url,
    read_json,
)
from polaris_bench.benchmarks.generations import with_generations
from polaris_bench.benchmarks.solvers import (
    DEFAULT_THINKING_ALLOWANCE,
    MIN_P_PROVIDERS,
    story_solver,
)
from polaris_bench.benchmarks.stated_length import parse_stated_length
from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.judging.scorers import (
    _judge_config,
    _renamed,
    make_panel,
    make_rubric_scorer,
)
from polaris_bench.metrics.length import bucket, bucket_2k
from polaris_bench.metrics.scorer import cliche_index, length_adherence, prompt_stderr
from polaris_bench.stats import CONFIDENCE, N_RESAMPLES
from polaris_bench.stats.inference import bootstrap_mean_ci

SEED_SLOT = "<SEED>"
# Pinned: EQ-bench/creative-writing-bench at commit e7ab009 (2025-08-12); the file's
# bytes are checked against this sha256 on every load.
EQBENCH_V3_COMMIT = "e7ab00917c96aeae577e3eeea15eba882be9d5e0"
EQBENCH_V3_URL = github_raw_url(
    "EQ-bench/creative-writing-bench", EQBENCH_V3_COMMIT, "data/creative_writing_prompts_v3.json"
)
EQBENCH_V3_SHA256 = "87f79b688261318f9182966aa238403aeaa1022f82ffc3ae4d1fe2a48cf1c412"


def default_eqbench_creative_path() -> Path:
    return fetch_remote(
        EQBENCH_V3_URL, "creative_writing_prompts_v3.json", "EQ-Bench Creative Writing v3 prompts",
        sha256=EQBENCH_V3_SHA256,
    )


def _entry_line(raw: str, key: str) -> int | None:
    """The line of ``"key": {`` in the raw JSON, for error messages."""
    needle = f'"{key}"'
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip().startswith(needle):
            return number
    return None


def load_eqbench_prompts(
    path: str | Path | None = None, *, iterations: int = 3, benchmark: str = "eqbench_creative"
) -> list[Sample]:
    """Samples for an EQ-Bench prompt file: one per prompt and iteration."""
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    p = default_eqbench_creative_path() if path is None else existing_path(path, "EQ-Bench prompts")
    data = read_json(p)
    raw = p.read_text(encoding="utf-8")
    if not isinstance(data, dict) or not data:
        raise DatasetError(p, "expected a JSON object mapping prompt ids to prompt entries")
    samples: list[Sample] = []
    for key, entry in data.items():
        line = _entry_line(raw, key)
        if not isinstance(entry, dict):
            raise DatasetError(p, f"prompt {key!r}: expected an object, got {type(entry).__name__}", line)
        prompt = entry.get("writing_prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise DatasetError(p, f"prompt {key!r}: missing or empty 'writing_prompt'", line)
        modifiers: Any = entry.get("seed_modifiers", [])
        if not isinstance(modifiers, list) or not all(isinstance(m, str) and m.strip() for m in modifiers):
            raise DatasetError(p, f"prompt {key!r}: 'seed_modifiers' must be a list of non-empty strings", line)
        has_slot = SEED_SLOT in prompt
        if has_slot and not modifiers:
            raise DatasetError(p, f"prompt {key!r}: has a {SEED_SLOT} slot but no seed_modifiers", line)
        for field in ("category", "title"):
            if field in entry and not isinstance(entry[field], str):
                raise DatasetError(p, f"prompt {key!r}: {field!r} must be a string", line)
        stated = parse_stated_length(prompt)
        length_meta = (
            stated.as_metadata()
            if stated
            else {"target_words": None, "target_range": None, "length_kind": None, "length_unit": None, "length_text": None}
        )
        for iteration in range(1, iterations + 1):
            modifier = modifiers[(iteration - 1) % len(modifiers)] if has_slot else None
            text = prompt.replace(SEED_SLOT, modifier) if modifier is not None else prompt
            target = length_meta["target_words"]
            samples.append(
                Sample(
                    id=f"{key}_{iteration}",
                    input=text,
                    metadata={
                        "benchmark": benchmark,
                        "prompt_id": str(key),
                        "iteration": iteration,
                        "seed_modifier": modifier,
                        "category": entry.get("category"),
                        "title": entry.get("title"),
                        "prompt": text,
                        **length_meta,
                        "bucket": bucket(target),  # type: ignore[arg-type]
                        "bucket_2k": bucket_2k(target),  # type: ignore[arg-type]
                    },
                )
            )
    return samples


def load_eqbench_criteria(path: str | Path) -> list[str]:
    """Criterion names from EQ-Bench's criteria text files (one a line)."""
    p = existing_path(path, "EQ-Bench criteria")
    names = [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise DatasetError(p, "no criteria in file")
    return names


# -- scoring --------------------------------------------------------------------


@metric
def bootstrap_ci(
    cluster_key: str = "prompt_id", n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0
) -> Metric:
    """Percentile bootstrap CI of the mean, resampling clusters (the sample metadata
    ``cluster_key``, e.g. EQ-Bench's prompt id) with replacement."""

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        values = [s.score.as_float() for s in scores]
        clusters = [str((s.sample_metadata or {}).get(cluster_key, s.sample_id)) for s in scores]
        ci = bootstrap_mean_ci(values, clusters, n_resamples=n_resamples, confidence=confidence, seed=seed)
        return {"low": ci.low, "high": ci.high}

    return compute



@scorer(
    metrics={
        "eqbench": [mean(), prompt_stderr(), bootstrap_ci("prompt_id")],
        "piece_score": [mean()],
    }
)
def eqbench_creative_score(
    rubric: str = "eqbench_creative",
    compact: bool = False,
    max_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    grader: str | None = None,
    partial_replies: bool = False,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
) -> Scorer:
    """EQ-Bench Creative Writing v3: ``eqbench`` 0-100 and ``piece_score`` 0-20."""
    loaded = load_rubric(rubric)
    inner = make_rubric_scorer(loaded, judge=_judge_config(compact, max_attempts, partial_replies), grader=grader,
        panel=make_panel(judges, panel_aggregate, panel_min),
    )
    return _renamed(inner, {"criteria_mean": "piece_score"})



# -- the task -------------------------------------------------------------------


TEMPERATURE = 0.7
MIN_P = 0.1


@task
def eqbench_creative(
    dataset: str | None = None,
    iterations: int = 3,
    generations: str | None = None,
    temperature: float = TEMPERATURE,
    min_p: float | None = MIN_P,
    max_tokens: int | None = None,
    thinking: bool | None = None,
    thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE,
    rubric: str = "eqbench_creative",
    compact: bool = False,
    judge_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
    partial_replies: bool = False,
    cliche_list: str | None = None,
) -> Task:
    """Args:
    dataset: path to creative_writing_prompts_v3.json (default: downloaded from
      EQ-Bench's GitHub repository into the cache; offline, pass the file).
    iterations: iterations per prompt, each with the next seed modifier.
    generations: JSONL of existing stories (id = "<prompt id>_<iteration>") to judge
      instead of generating.
    temperature, min_p: generation settings (EQ-Bench v3: 0.7 and 0.1).
    max_tokens: generation limit (default: sized from the stated 1000 words).
    thinking: true/false: whether the writer thinks (default: inferred from the
      model name; only a thinking writer gets the thinking allowance).
    thinking_allowance: extra tokens for a thinking writer's reasoning.
    rubric: bundled rubric name or YAML path.
    compact: judge with scores only (no justifications or quotes).
    judge_attempts: judge calls per story before it is left unscored.
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
    writer = args.writer_args(max_tokens, thinking, thinking_allowance)
    judging = args.judge_args(rubric, compact, judge_attempts, partial_replies)
    panel = args.panel_args(judges, panel_aggregate, panel_min)
    dataset = args.text("dataset", dataset, optional=True)
    iterations = args.positive_int("iterations", iterations)
    temperature = args.number_in("temperature", temperature, 0.0)
    min_p = args.number_in("min_p", min_p, 0.0, 1.0, optional=True)
    generations = args.text("generations", generations, optional=True)
    cliches = args.cliche_list(cliche_list)
    args.require_roles(*args.judge_roles(panel))
    samples = with_generations(load_eqbench_prompts(dataset, iterations=iterations), generations)
    return Task(
        dataset=MemoryDataset(samples, name="eqbench_creative_v3"),
        solver=story_solver(generations, roles=args.judge_roles(panel), min_p=min_p, **writer),
        scorer=[
            eqbench_creative_score(**judging, **panel),
            length_adherence(),
            cliche_index(cliches),
        ],
        config=GenerateConfig(temperature=temperature),
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "eqbench_creative",
            "split": "OOD",
            "units": "0-100 (piece score x 5)",
            "paper_judge": "GPT-5.4",
            "generation": {
                "temperature": temperature,
                "min_p": min_p,
                "min_p_providers": sorted(MIN_P_PROVIDERS),
                "source": "generations file" if generations else "model",
            },
            "iterations": iterations,
        },
    )
