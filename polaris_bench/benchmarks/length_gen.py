"""The length-generalization sweep: story prompts x requested lengths.

Sample ids are ``<prompt id>@<target>`` so that runs of different models pair up in
the store. The length instruction is the paper's sentence, appended to the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample

from polaris_bench import __version__
from polaris_bench.benchmarks import task_args as args
from polaris_bench.benchmarks.common import DatasetError, read_jsonl
from polaris_bench.benchmarks.generations import with_generations
from polaris_bench.benchmarks.solvers import DEFAULT_THINKING_ALLOWANCE, story_solver
from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS
from polaris_bench.judging.scorers import story_quality
from polaris_bench.judging.segments import story_segments
from polaris_bench.metrics.length import bucket, bucket_2k, length_instruction
from polaris_bench.metrics.scorer import cliche_index, length_adherence
from polaris_bench.paths import resolve_user_path

# One target in each of the paper's six 2k-word buckets, ending at 12k words.
DEFAULT_TARGETS: tuple[int, ...] = (1000, 3000, 5000, 7000, 9000, 12000)


@dataclass(frozen=True)
class StoryPrompt:
    id: str
    prompt: str
    genre: str | None = None


class PromptFileError(DatasetError):
    """A prompt file or ``-T prompts=`` value that cannot be used."""


def embedded_prompts() -> list[StoryPrompt]:
    return _parse_prompts(resources.files("polaris_bench").joinpath("data/story_prompts.jsonl"))


def _parse_prompts(source: Path | Traversable) -> list[StoryPrompt]:
    prompts: list[StoryPrompt] = []
    seen: set[str] = set()
    for lineno, row in read_jsonl(source):
        pid, prompt = row.get("id"), row.get("prompt")
        if not isinstance(pid, str) or not pid or "@" in pid:
            raise PromptFileError(source, "'id' must be a non-empty string without '@'", lineno)
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptFileError(source, "'prompt' must be a non-empty string", lineno)
        if pid in seen:
            raise PromptFileError(source, f"duplicate id {pid!r}", lineno)
        seen.add(pid)
        prompts.append(StoryPrompt(id=pid, prompt=prompt.strip(), genre=row.get("genre")))
    if not prompts:
        raise PromptFileError(source, "no prompts")
    return prompts


def select_prompts(spec: str | None) -> list[StoryPrompt]:
    """``None``: the embedded set; a path to a JSONL file (``id``, ``prompt``,
    optional ``genre``); an integer N: the first N embedded prompts; or a comma list of
    embedded prompt ids."""
    if spec is None or str(spec).strip() == "":
        return embedded_prompts()
    spec = str(spec).strip()
    path = resolve_user_path(spec)
    if path.suffix in (".jsonl", ".json") or path.exists():
        if not path.exists():
            raise PromptFileError(path, "prompt file not found")
        return _parse_prompts(path)
    prompts = embedded_prompts()
    if spec.isdigit():
        n = int(spec)
        if not 1 <= n <= len(prompts):
            raise PromptFileError("-T prompts", f"asks for {n} prompts; the embedded set has {len(prompts)}")
        return prompts[:n]
    by_id = {p.id: p for p in prompts}
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        raise PromptFileError("-T prompts", f"unknown prompt id(s) {unknown}; embedded ids: {', '.join(by_id)}")
    return [by_id[w] for w in wanted]


def parse_targets(spec: str | int | list[int] | tuple[int, ...] | None) -> list[int]:
    if spec is None:
        return list(DEFAULT_TARGETS)
    return args.word_counts("targets", spec)


def sweep_samples(prompts: list[StoryPrompt], targets: list[int]) -> list[Sample]:
    samples = []
    for p in prompts:
        for t in targets:
            full = f"{p.prompt} {length_instruction(t)}"
            samples.append(
                Sample(
                    id=f"{p.id}@{t}",
                    input=full,
                    metadata={
                        "prompt_id": p.id,
                        "prompt": full,
                        "genre": p.genre,
                        "target_words": t,
                        "bucket": bucket(t),
                        "bucket_2k": bucket_2k(t),
                    },
                )
            )
    return samples


# -- the task -------------------------------------------------------------------


@task
def length_gen(
    prompts: str | None = None,
    targets: str | None = None,
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
    generations: str | None = None,
    cliche_list: str | None = None,
) -> Task:
    """Args:
    prompts: embedded set (default), a JSONL path, N (first N) or comma-separated ids.
    targets: comma-separated word counts (default 1000,3000,5000,7000,9000,12000).
    max_tokens: fixed generation limit (default: sized from each target).
    thinking: true/false: whether the writer thinks (default: inferred from the
      model name; only a thinking writer gets the thinking allowance).
    thinking_allowance: extra tokens for a thinking writer's reasoning.
    rubric: a bundled rubric name or a YAML path (polaris_sq aggregation).
    compact: judge with scores only (no justifications or quotes).
    judge_attempts: judge calls per story before it is left unscored.
    generations: JSONL of existing stories (id = "<prompt id>@<target>") to judge
      instead of generating.
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
    wanted = parse_targets(targets)
    writer = args.writer_args(max_tokens, thinking, thinking_allowance)
    judging = args.judge_args(rubric, compact, judge_attempts)
    panel = args.panel_args(judges, panel_aggregate, panel_min)
    segmented = args.segment_args(segments, decay_margin)
    generations = args.text("generations", generations, optional=True)
    cliches = args.cliche_list(cliche_list)
    args.require_roles(*args.judge_roles(panel))
    try:
        chosen = select_prompts(None if prompts is None else args.text("prompts", prompts))
    except PromptFileError as exc:  # a bad spec names itself "-T prompts"; a bad file, the file
        problem = exc.problem if (exc.path or "").startswith("-T") else str(exc)
        raise args.TaskArgumentError("prompts", prompts, problem) from exc
    samples = with_generations(sweep_samples(chosen, wanted), generations)
    return Task(
        dataset=MemoryDataset(samples, name="length_gen"),
        solver=story_solver(generations, roles=args.judge_roles(panel), **writer),
        scorer=[
            story_quality(**judging, **panel),
            length_adherence(),
            cliche_index(cliches),
            *([story_segments(**segmented, compact=judging["compact"], max_attempts=judging["max_attempts"],
                            cliche_list=cliches, **panel)]
              if segmented else []),
        ],
        metadata={"benchmark": "length_gen", "split": "ID+OOD", "polaris_bench_version": __version__},
    )
