"""Pairwise Elo over existing stories (POLARIS's pairwise ladder): the stories of two or
more models for the same prompts, read from their Inspect logs (no regeneration) and
paired by sample id. Every pair is judged in both A/B orders with anonymised labels on
nine criteria, each won by A or B with 1-5 pluses; plus_diff decides the verdict
(>= 10: A>>B 1.0, > 0: A>B 0.75, 0: tie 0.5, > -10: B>A 0.25, else B>>A 0.0). Reports
Glicko-2 ratings (the paper's), Bradley-Terry ratings with bootstrap 95% CIs over
prompts, win rates, and the position bias (how often the verdict flips with the order).

    inspect eval tasks/story_elo.py -T logs=logs/a.eval,logs/b.eval \
        --model-role grader=<judge>
    inspect eval tasks/story_elo.py -T logs=logs/ -T max_words=4000 ...
    inspect eval tasks/story_elo.py -T generations=stories.jsonl ...  # model,id,prompt,story
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import Model
from inspect_ai.scorer import Metric, SampleScore, Score, Scorer, Target, metric, scorer
from inspect_ai.solver import Generate, Solver, TaskState, solver

from polaris_bench import __version__
from polaris_bench.benchmarks import task_args as args
from polaris_bench.benchmarks.solvers import check_roles
from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS
from polaris_bench.judging.pairwise import (
    PAIRWISE_RUBRIC,
    PairCounts,
    PairOutcome,
    judge_pair,
    position_bias,
)
from polaris_bench.judging.panel import MemberResult, judge_with_panel, panel_members
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.judging.scorers import _judge_config, make_panel
from polaris_bench.metrics.length import count_words
from polaris_bench.paths import resolve_user_path
from polaris_bench.stats import CONFIDENCE, N_RESAMPLES
from polaris_bench.stats.ratings import Match, rate_players
from polaris_bench.story import last_user_turn, strip_thinking

# -- the stories to compare ----------------------------------------------------


class PairingError(ValueError):
    """Logs or generations that cannot be paired (the message says which and why)."""


@dataclass(frozen=True)
class StoryRecord:
    model: str
    sample_id: str
    epoch: int
    prompt: str
    story: str
    source: str


@dataclass
class StoryPool:
    """Stories per model, keyed by (sample id, epoch); ``skipped`` counts samples left
    out per model with the reason (an errored sample has no story)."""

    stories: dict[str, dict[tuple[str, int], StoryRecord]] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, record: StoryRecord) -> None:
        by_key = self.stories.setdefault(record.model, {})
        key = (record.sample_id, record.epoch)
        if key in by_key:
            raise PairingError(
                f"{record.source}: model {record.model!r} already has a story for sample "
                f"{record.sample_id!r} epoch {record.epoch} (from {by_key[key].source})"
            )
        by_key[key] = record

    def skip(self, model: str, reason: str) -> None:
        per = self.skipped.setdefault(model, {})
        per[reason] = per.get(reason, 0) + 1

    @property
    def models(self) -> list[str]:
        return sorted(self.stories)


def log_paths(spec: str | Sequence[str]) -> list[Path]:
    """``a.eval,b.eval`` or a list of paths; a folder stands for every log inside it."""
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s) for s in spec]
    paths: list[Path] = []
    for item in items:
        if not item:
            continue
        p = resolve_user_path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix in (".eval", ".json") and q.is_file())
            if not found:
                raise PairingError(f"{p}: no Inspect logs (.eval/.json) in this folder")
            paths.extend(found)
        elif p.exists():
            paths.append(p)
        else:
            raise PairingError(f"{p}: log file not found")
    if not paths:
        raise PairingError("no logs given (use -T logs=a.eval,b.eval or a folder)")
    return paths


def _input_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return last_user_turn(value) or ""


def stories_from_logs(spec: str | Sequence[str]) -> StoryPool:
    """Read the writers' stories from Inspect logs (no regeneration)."""
    from inspect_ai.log import read_eval_log

    pool = StoryPool()
    for path in log_paths(spec):
        try:
            log = read_eval_log(str(path))
        except Exception as exc:
            raise PairingError(f"{path}: not a readable Inspect log ({exc})") from exc
        if log.eval.task.split("/")[-1] == "story_elo":
            continue  # a folder may hold earlier comparison runs: they hold no stories
        if not log.samples:
            raise PairingError(f"{path}: the log has no samples (status {log.status})")
        for sample in log.samples:
            # a run that judged a generations file names the writer in each row
            model = (sample.metadata or {}).get("generation_model") or log.eval.model
            if sample.error is not None:
                pool.skip(model, "sample error")
                continue
            story = sample.output.completion if sample.output else ""
            prompt = (sample.metadata or {}).get("prompt") or _input_text(sample.input)
            pool.add(
                StoryRecord(
                    model=model,
                    sample_id=str(sample.id),
                    epoch=int(sample.epoch or 1),
                    prompt=prompt,
                    story=story,
                    source=str(path),
                )
            )
    return pool


def stories_from_generations(path: str | Path) -> StoryPool:
    """Rows with ``model``, an id, ``prompt`` and the story (see datasets.generations)."""
    from polaris_bench.benchmarks.common import (
        DatasetError,
        as_id,
        existing_path,
        read_jsonl,
    )
    from polaris_bench.benchmarks.generations import ID_FIELDS, STORY_FIELDS

    p = existing_path(path, "generations", override="-T generations=")
    pool = StoryPool()
    for line, row in read_jsonl(p):
        model = row.get("model")
        if not isinstance(model, str) or not model.strip():
            raise DatasetError(p, "story_elo generations need a 'model' field on every row", line)
        id_key = next((k for k in ID_FIELDS if k in row), None)
        story_key = next((k for k in STORY_FIELDS if k in row), None)
        if id_key is None or story_key is None:
            raise DatasetError(p, "a row needs an id (id/sample_id/uid/prompt_id) and a story (story/output/completion/response)", line)
        prompt, story = row.get("prompt"), row[story_key]
        if not isinstance(prompt, str) or not prompt.strip():
            raise DatasetError(p, "story_elo generations need the 'prompt' text on every row", line)
        if not isinstance(story, str):
            raise DatasetError(p, f"field {story_key!r} must be a string", line)
        epoch = row.get("epoch", 1)
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
            raise DatasetError(p, "field 'epoch' must be a positive integer", line)
        try:
            pool.add(StoryRecord(model, as_id(row[id_key], id_key, p, line), epoch, prompt, story, f"{p}:{line}"))
        except PairingError as exc:
            raise DatasetError(p, str(exc), line) from exc
    return pool


@dataclass(frozen=True)
class Pair:
    """Two models' stories for the same sample (X sorts before Y)."""

    sample_id: str
    epoch: int
    prompt: str
    x: StoryRecord
    y: StoryRecord

    @property
    def id(self) -> str:
        suffix = f"#{self.epoch}" if self.epoch != 1 else ""
        return f"{self.sample_id}{suffix}|{self.x.model}|{self.y.model}"


def round_robin(pool: StoryPool, models: Sequence[str] | None = None) -> list[Pair]:
    """Every pair of models on every sample both have a story for."""
    names = sorted(models) if models else pool.models
    missing = [m for m in names if m not in pool.stories]
    if missing:
        raise PairingError(f"no stories for model(s) {missing}; models in the logs: {pool.models}")
    if len(names) < 2:
        raise PairingError(f"story_elo needs stories of at least two models; found {names}")
    pairs: list[Pair] = []
    for mx, my in itertools.combinations(names, 2):
        sx, sy = pool.stories[mx], pool.stories[my]
        common = sorted(set(sx) & set(sy))
        for key in common:
            a, b = sx[key], sy[key]
            if a.prompt.strip() != b.prompt.strip():
                raise PairingError(
                    f"sample {key[0]!r}: the prompts of {mx!r} ({a.source}) and {my!r} ({b.source}) "
                    "differ; pair logs of the same task and dataset"
                )
            pairs.append(Pair(sample_id=key[0], epoch=key[1], prompt=a.prompt, x=a, y=b))
    if not pairs:
        raise PairingError(f"the models {names} share no sample id; pair logs of the same task and dataset")
    return pairs


# -- scoring --------------------------------------------------------------------


@metric
def pairwise_ratings(
    glicko_periods: int = 1,
    bootstrap: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Metric:
    """Ratings over all judged pairs: ``glicko:<model>`` (Glicko-2, the paper's),
    ``bt:<model>`` with ``bt_low:``/``bt_high:`` (Bradley-Terry, bootstrap over
    prompts), ``win_rate:<model>``, ``flip_rate`` and ``slot_a_win_rate``."""

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        matches: list[Match] = []
        positions: list[PairCounts] = []
        for s in scores:
            value = s.score.value
            meta = s.sample_metadata or {}
            if not isinstance(value, dict) or math.isnan(float(value.get("score_x", math.nan))):
                continue
            matches.append(
                Match(meta["model_x"], meta["model_y"], float(value["score_x"]), cluster=str(meta.get("sample_id")))
            )
            positions.append(
                PairCounts(float(value["flipped"]), float(value["slot_a_wins"]), float(value["slot_b_wins"]))
            )
        out: dict[str, float] = {}
        if not matches:
            return out
        rated = rate_players(
            matches, glicko_periods=glicko_periods, n_resamples=bootstrap, confidence=confidence, seed=seed
        )
        for model, r in rated.items():
            out[f"glicko:{model}"] = r.glicko.rating
            out[f"glicko_rd:{model}"] = r.glicko.rd
            out[f"bt:{model}"], out[f"bt_low:{model}"], out[f"bt_high:{model}"] = r.bt.rating, r.bt.low, r.bt.high
            out[f"win_rate:{model}"] = r.win_rate
        out.update(position_bias(positions))
        out["pairs"] = float(len(matches))
        return out

    return compute



def _order_meta(result: Any) -> dict[str, Any]:
    j = result.judgement
    return {
        "order": result.order,
        "margins": result.margins,
        "plus_a": result.plus_a if result.ok else None,
        "plus_b": result.plus_b if result.ok else None,
        "verdict": result.verdict if result.ok else None,
        "draws": result.draws if result.ok else None,
        "attempts": j.attempts if j else None,
        "evidence": j.evidence if j else None,
        "unscored_reason": j.unscored_reason if j else "not judged",
    }


def _pair_member(outcome: PairOutcome) -> MemberResult:
    """One member's panel entry for a pair: its value, its margins per order
    (``xy:<criterion>``, ``yx:<criterion>``) and both order records."""
    attempts = sum(r.judgement.attempts if r.judgement else 0 for r in (outcome.xy, outcome.yx))
    details = {"xy": _order_meta(outcome.xy), "yx": _order_meta(outcome.yx)}
    if not outcome.ok:
        reason = "; ".join(
            f"order {r.order}: {r.judgement.unscored_reason if r.judgement else 'not judged'}"
            for r in (outcome.xy, outcome.yx)
            if not r.ok
        )
        return MemberResult(None, None, attempts, reason, details, outcome)
    value = {
        "score_x": outcome.score_x,
        "plus_diff_xy": float(outcome.xy.plus_diff),
        "plus_diff_yx": float(outcome.yx.plus_diff),
        "flipped": float(outcome.flipped),
        "slot_a_wins": float(outcome.slot_a_wins),
        "slot_b_wins": float(outcome.slot_b_wins),
    }
    criteria = {f"{r.order.lower()}:{cid}": m for r in (outcome.xy, outcome.yx) for cid, m in (r.margins or {}).items()}
    return MemberResult(value, criteria, attempts, None, details, outcome)


@scorer(metrics=[pairwise_ratings()])
def pairwise_score(
    rubric: str = PAIRWISE_RUBRIC,
    max_words: int | None = None,
    compact: bool = False,
    max_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    grader: str | None = None,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
) -> Scorer:
    """Judge the sample's two stories in both A/B orders (see polaris_bench.judging.pairwise),
    by every member of the judge panel; the pair's values are the panel aggregate (a
    panel's ``flipped`` is the share of its members whose verdict flips). The ratings
    are its metric; ``story_elo`` builds that metric from its own options."""
    loaded = load_rubric(rubric)
    config = _judge_config(compact, max_attempts)
    panel = make_panel(judges, panel_aggregate, panel_min)

    async def score(state: TaskState, target: Target) -> Score:
        meta = state.metadata

        async def one(model: Model) -> MemberResult:
            outcome = await judge_pair(
                loaded, meta["prompt"], meta["story_x"], meta["story_y"], model, config, max_words=max_words
            )
            return _pair_member(outcome)

        result = await judge_with_panel(panel, panel_members(panel, grader), one)
        record: dict[str, Any] = {"model_x": meta["model_x"], "model_y": meta["model_y"]}
        if result.single:  # one judge: its order records at the top level, as always
            record |= result.results[0].details
        record |= {"rubric": loaded.id, "rubric_sha256": loaded.sha256} | result.metadata()
        if result.single:
            for entry in record["panel"]:  # kept once, at the top level
                entry.pop("xy", None), entry.pop("yx", None)
        if not result.scored:
            record["unscored_reason"] = result.unscored_reason
            return Score.unscored(reason=result.unscored_reason, metadata=record)
        value = result.value()
        if result.single:
            outcome = result.results[0].source
            answer = f"X as A: {outcome.xy.verdict}; X as B: {outcome.yx.verdict}"
        else:
            answer = "; ".join(
                f"{m.role}: {r.value['score_x']:.2f}" if r.value else f"{m.role}: unscored"
                for m, r in zip(result.members, result.results)
            )
        return Score(
            value=value,
            answer=answer,
            explanation=f"score for {meta['model_x']}: {value['score_x']:.3f}"
            + (" (verdict flips with the order)" if result.single and value["flipped"] else "")
            + ("" if result.single else f" (panel of {len(result.results)}, {panel.aggregate})"),
            metadata=record,
        )

    return score


@solver
def compare_existing() -> Solver:
    """Nothing to generate: the stories are in the sample metadata."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        return state

    return solve


@task
def story_elo(
    logs: str | None = None,
    generations: str | None = None,
    models: str | None = None,
    max_words: int | None = None,
    rubric: str = PAIRWISE_RUBRIC,
    compact: bool = False,
    judge_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
    glicko_periods: int = 1,
    bootstrap: int = N_RESAMPLES,
) -> Task:
    """Args:
    logs: comma-separated Inspect logs (or folders of logs) of the models to compare.
    generations: instead of logs, a JSONL with model, id, prompt and story per row.
    models: comma-separated subset of the models found (default: all).
    max_words: truncate each story to this many words before judging (default: none).
    rubric: pairwise rubric (default story_elo: nine criteria, signed plus margins).
    compact, judge_attempts: judging options (2 judge calls per pair).
    glicko_periods: Glicko-2 rating periods over the round robin (1: textbook).
    bootstrap: bootstrap resamples for the Bradley-Terry CIs.
    judges: comma-separated model roles that judge every story (default grader; bind
      each with --model-role <role>=<model>): a judge panel.
    panel_aggregate: mean, median or trimmed (drops the highest and lowest judge when
      there are 3 or more): how the panel's scores combine.
    panel_min: judges that must succeed for a sample to be scored (default 1).
    """
    logs = args.text("logs", logs, optional=True)
    generations = args.text("generations", generations, optional=True)
    if bool(logs) == bool(generations):
        raise args.TaskArgumentError(
            "logs", logs, "story_elo needs exactly one of -T logs=<a.eval,b.eval|folder> or -T generations=<jsonl>"
        )
    models = args.text("models", models, optional=True)
    max_words = args.positive_int("max_words", max_words, optional=True)
    judging = args.judge_args(rubric, compact, judge_attempts)
    panel = args.panel_args(judges, panel_aggregate, panel_min)
    glicko_periods = args.positive_int("glicko_periods", glicko_periods)  # type: ignore[assignment]
    bootstrap = args.positive_int("bootstrap", bootstrap)  # type: ignore[assignment]
    args.require_roles(*args.judge_roles(panel))
    pool = stories_from_logs(logs) if logs else stories_from_generations(generations)  # type: ignore[arg-type]
    chosen = [m.strip() for m in models.split(",")] if models else None
    pairs = round_robin(pool, chosen)
    samples = [
        Sample(
            id=pair.id,
            input=pair.prompt,
            metadata={
                "benchmark": "story_elo",
                "prompt": pair.prompt,
                "sample_id": pair.sample_id,
                "epoch": pair.epoch,
                "model_x": pair.x.model,
                "model_y": pair.y.model,
                "story_x": pair.x.story,
                "story_y": pair.y.story,
                "words_x": count_words(strip_thinking(pair.x.story)),
                "words_y": count_words(strip_thinking(pair.y.story)),
                "source_x": pair.x.source,
                "source_y": pair.y.source,
            },
        )
        for pair in pairs
    ]
    return Task(
        dataset=MemoryDataset(samples, name="story_elo_pairs"),
        solver=[check_roles(*args.judge_roles(panel)), compare_existing()],
        scorer=pairwise_score(
            max_words=max_words,
            **judging,
            **panel,
        ),
        # the ratings depend on the task's options, so the task sets the scorer's metric
        metrics=[pairwise_ratings(glicko_periods=glicko_periods, bootstrap=bootstrap)],
        model="none/none",
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "story_elo",
            "split": "ID+OOD",
            "units": "Glicko-2 rating (Elo scale); Bradley-Terry with 95% CI",
            "paper_judge": "Gemini 3 Flash",
            "models": sorted({p.x.model for p in pairs} | {p.y.model for p in pairs}),
            "skipped": pool.skipped,
            "max_words": max_words,
        },
    )
