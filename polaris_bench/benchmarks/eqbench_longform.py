"""EQ-Bench Longform as POLARIS applies it (ID): the POLARIS test prompts (1k-12k words;
``uid``, ``prompt``, ``target_word_count``) judged on 12 EQ-Bench Longform dimensions
0-20: negatives inverted, "Forced Poetry or Metaphor" reshaped (x/20)^1.7*20 and
weighted x5, weighted mean scaled to 0-100; reported per length bucket.

EQ-Bench's own prompt file (``longform_creative_writing_prompts_minimalist.json``: an
object keyed by prompt id with ``category``, ``title``, ``writing_prompt``) states no
length. EQ-Bench has the story written in 8 chapters of about 1,000 words; here it is
written in one turn, so each of its prompts gets an 8,000-word target
(``-T target_words=`` to change), stated to the writer with the paper's sentence.

    inspect eval tasks/eqbench_longform.py -T dataset=polaris_test.jsonl \
        --model <writer> --model-role grader=<judge>
    inspect eval tasks/eqbench_longform.py \
        -T dataset=longform_creative_writing_prompts_minimalist.json ...
"""

from __future__ import annotations

from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import Scorer, grouped, mean, scorer

from polaris_bench import __version__
from polaris_bench.benchmarks import task_args as args
from polaris_bench.benchmarks.common import existing_path, read_json
from polaris_bench.benchmarks.eqbench_creative import load_eqbench_prompts
from polaris_bench.benchmarks.generations import with_generations
from polaris_bench.benchmarks.solvers import DEFAULT_THINKING_ALLOWANCE, story_solver
from polaris_bench.benchmarks.story_quality import (
    POLARIS_HF_REVISION,
    load_polaris_prompts,
)
from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.judging.scorers import _judge_config, make_panel, make_rubric_scorer
from polaris_bench.metrics.length import bucket, bucket_2k, length_instruction
from polaris_bench.metrics.scorer import cliche_index, length_adherence, prompt_stderr

# EQ-Bench Longform's protocol: 8 chapters of about 1,000 words each.
EQBENCH_LONGFORM_TARGET = 8000


def is_eqbench_prompt_file(path: str | Path | None) -> bool:
    """EQ-Bench's prompt format: a .json file holding one object keyed by prompt id
    (POLARIS's .json files hold a list of rows)."""
    if path is None or str(path).startswith("rishanthrajendhran/"):
        return False
    p = existing_path(path, "EQ-Bench Longform / POLARIS prompts")
    return p.suffix.lower() == ".json" and isinstance(read_json(p), dict)


def load_eqbench_longform_prompts(path: str | Path, target_words: int | None = None) -> list[Sample]:
    """Samples for EQ-Bench's own longform prompt file: id = the prompt's key, the
    paper's length sentence appended with ``target_words`` (default 8,000)."""
    if target_words is None:
        target_words, source = EQBENCH_LONGFORM_TARGET, "EQ-Bench Longform: 8 chapters of about 1,000 words"
    else:
        source = "-T target_words="
    samples = []
    for base in load_eqbench_prompts(path, iterations=1, benchmark="eqbench_longform"):
        meta = base.metadata or {}
        text = f"{str(base.input).rstrip()} {length_instruction(target_words)}"
        samples.append(
            Sample(
                id=meta["prompt_id"],
                input=text,
                metadata={
                    "benchmark": "eqbench_longform",
                    "prompt_id": meta["prompt_id"],
                    "category": meta.get("category"),
                    "title": meta.get("title"),
                    "prompt": text,
                    "target_words": target_words,
                    "target_source": source,
                    "bucket": bucket(target_words),
                    "bucket_2k": bucket_2k(target_words),
                },
            )
        )
    return samples


@scorer(
    metrics={
        "eqbench_longform": [
            mean(),
            prompt_stderr(),
            grouped(mean(), "bucket", all=False),
        ],
        "criteria_mean": [mean()],
    }
)
def eqbench_longform_score(
    rubric: str = "eqbench_longform",
    compact: bool = False,
    max_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    grader: str | None = None,
    partial_replies: bool = False,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
) -> Scorer:
    """EQ-Bench Longform (POLARIS's 12 dimensions): ``eqbench_longform`` 0-100."""
    loaded = load_rubric(rubric)
    return make_rubric_scorer(loaded, judge=_judge_config(compact, max_attempts, partial_replies), grader=grader,
        panel=make_panel(judges, panel_aggregate, panel_min),
    )



@task
def eqbench_longform(
    dataset: str | None = None,
    split: str = "test",
    revision: str | None = POLARIS_HF_REVISION,
    generations: str | None = None,
    max_tokens: int | None = None,
    thinking: bool | None = None,
    thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE,
    target_words: int | None = None,
    rubric: str = "eqbench_longform",
    compact: bool = False,
    judge_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
    partial_replies: bool = False,
    cliche_list: str | None = None,
) -> Task:
    """Args:
    dataset: POLARIS prompt file (.jsonl/.csv/.parquet with uid, prompt,
      target_word_count), or EQ-Bench's longform_creative_writing_prompts_minimalist.json;
      default the HF dataset rishanthrajendhran/POLARIS (needs the `datasets`
      package and network).
    split: HF split when no file is given.
    revision: HF dataset commit id to pin when no file is given (default: main, warned).
    generations: JSONL of existing stories (id = uid) to judge instead of generating.
    max_tokens: fixed generation limit (default: sized from each target).
    thinking: true/false: whether the writer thinks (default: inferred from the
      model name; only a thinking writer gets the thinking allowance).
    thinking_allowance: extra tokens for a thinking writer's reasoning.
    target_words: the length asked of every prompt of EQ-Bench's own file (default
      8000: 8 chapters of about 1,000 words); POLARIS files state their own.
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
    writer = args.writer_args(max_tokens, thinking, thinking_allowance)
    judging = args.judge_args(rubric, compact, judge_attempts, partial_replies)
    panel = args.panel_args(judges, panel_aggregate, panel_min)
    dataset = args.text("dataset", dataset, optional=True)
    split = args.text("split", split)
    target_words = args.positive_int("target_words", target_words, optional=True)
    generations = args.text("generations", generations, optional=True)
    cliches = args.cliche_list(cliche_list)
    args.require_roles(*args.judge_roles(panel))
    if is_eqbench_prompt_file(dataset):
        prompts = load_eqbench_longform_prompts(dataset, target_words)  # type: ignore[arg-type]
        name = "eqbench_longform_prompts"
    elif target_words is not None:
        raise args.TaskArgumentError(
            "target_words", target_words, "applies only to EQ-Bench's own prompt file; POLARIS prompts state their targets"
        )
    else:
        prompts = load_polaris_prompts(dataset, split=split, benchmark="eqbench_longform", revision=revision)
        name = "polaris_id"
    samples = with_generations(prompts, generations)
    return Task(
        dataset=MemoryDataset(samples, name=name),
        solver=story_solver(generations, roles=args.judge_roles(panel), **writer),
        scorer=[
            eqbench_longform_score(**judging, **panel),
            length_adherence(),
            cliche_index(cliches),
        ],
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "eqbench_longform",
            "split": "ID",
            "units": "0-100",
            "paper_judge": "GPT-5.4",
            "generation": {"source": "generations file" if generations else "model"},
        },
    )
