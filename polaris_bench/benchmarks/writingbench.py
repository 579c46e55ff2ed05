"""WritingBench queries (X-PLUG/WritingBench ``benchmark_all.jsonl`` and its subsets).

Each row: ``index``, ``domain1``, ``domain2``, ``query`` and a ``checklist`` of
query-specific criteria, each with ``name``, ``criteria_description`` and band texts
"1-2", "3-4", "5-6", "7-8", "9-10". POLARIS uses domain "Literature & Arts" in English
(no CJK characters in the query): 93 of that domain's 183 queries.

The default source is the copy that ships in the ``inspect-evals`` wheel
(``inspect_evals/writingbench/benchmark_all.jsonl``); without that package, pass the
file with ``-T dataset=``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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
    read_jsonl,
    require_str,
)
from polaris_bench.benchmarks.generations import with_generations
from polaris_bench.benchmarks.solvers import DEFAULT_THINKING_ALLOWANCE, story_solver
from polaris_bench.benchmarks.stated_length import parse_stated_length
from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS, JudgeConfig, judge_story
from polaris_bench.judging.panel import (
    MemberResult,
    Panel,
    PanelResult,
    judge_with_panel,
    panel_members,
)
from polaris_bench.judging.rubric import Criterion, Rubric, load_rubric
from polaris_bench.judging.scorers import _judge_config, make_panel
from polaris_bench.metrics.length import bucket, bucket_2k, has_cjk
from polaris_bench.metrics.scorer import cliche_index, length_adherence, prompt_stderr
from polaris_bench.story import prompt_text, story_text

BANDS: tuple[str, ...] = ("1-2", "3-4", "5-6", "7-8", "9-10")
DEFAULT_DOMAIN = "Literature & Arts"
Language = Literal["en", "zh", "all"]


@dataclass(frozen=True)
class ChecklistItem:
    name: str
    description: str
    bands: dict[str, str]  # "1-2" -> text

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "criteria_description": self.description, **self.bands}


def default_writingbench_path() -> Path:
    try:
        from importlib import resources

        import inspect_evals  # type: ignore[import-not-found]  # noqa: F401

        path = Path(str(resources.files("inspect_evals") / "writingbench" / "benchmark_all.jsonl"))
    except ImportError as exc:
        raise DatasetError(
            None,
            "the default WritingBench file ships in the `inspect-evals` package, which is not "
            "installed; pass WritingBench's benchmark_all.jsonl (or a subset in the same format) "
            "with -T dataset=<path>",
        ) from exc
    if not path.exists():
        raise DatasetError(path, "inspect_evals is installed but has no writingbench/benchmark_all.jsonl; pass -T dataset=<path>")
    return path


def parse_checklist(value: Any, path: Path, line: int) -> list[ChecklistItem]:
    if not isinstance(value, list) or not value:
        raise DatasetError(path, "field 'checklist' must be a non-empty list of criteria", line)
    items: list[ChecklistItem] = []
    for i, crit in enumerate(value, start=1):
        where = f"checklist item {i}"
        if not isinstance(crit, dict):
            raise DatasetError(path, f"{where}: expected an object", line)
        name = crit.get("name")
        desc = crit.get("criteria_description")
        if not isinstance(name, str) or not name.strip():
            raise DatasetError(path, f"{where}: missing or empty 'name'", line)
        if not isinstance(desc, str) or not desc.strip():
            raise DatasetError(path, f"{where} ({name}): missing or empty 'criteria_description'", line)
        missing = [b for b in BANDS if not isinstance(crit.get(b), str) or not crit[b].strip()]
        if missing:
            raise DatasetError(path, f"{where} ({name}): missing band description(s) {missing}", line)
        items.append(ChecklistItem(name=name.strip(), description=desc.strip(), bands={b: crit[b].strip() for b in BANDS}))
    return items


def query_language(query: str) -> Literal["en", "zh"]:
    """POLARIS's rule: a query with any CJK character is not English."""
    return "zh" if has_cjk(query) else "en"


def load_writingbench(
    path: str | Path | None = None,
    *,
    domain: str | None = DEFAULT_DOMAIN,
    language: Language = "en",
) -> list[Sample]:
    """Samples for WritingBench rows of ``domain`` (``domain1``; None or "all" for every
    domain) in ``language`` ("en": no CJK in the query, "zh": some, "all")."""
    if language not in ("en", "zh", "all"):
        raise ValueError(f"language must be 'en', 'zh' or 'all', not {language!r}")
    p = default_writingbench_path() if path is None else existing_path(path, "WritingBench")
    samples: list[Sample] = []
    ids: list[tuple[str, int]] = []
    total = 0
    for line, row in read_jsonl(p):
        total += 1
        ident = as_id(row.get("index"), "index", p, line)
        query = require_str(row, "query", p, line)
        domain1 = require_str(row, "domain1", p, line)
        domain2 = require_str(row, "domain2", p, line)
        checklist = parse_checklist(row.get("checklist"), p, line)
        ids.append((ident, line))
        if domain not in (None, "all") and domain1 != domain:
            continue
        lang = query_language(query)
        if language != "all" and lang != language:
            continue
        stated = parse_stated_length(query)
        meta_len: dict[str, Any] = (
            stated.as_metadata()
            if stated
            else {"target_words": None, "target_range": None, "length_kind": None, "length_unit": None, "length_text": None}
        )
        target = meta_len["target_words"]
        samples.append(
            Sample(
                id=ident,
                input=query,
                metadata={
                    "benchmark": "writingbench",
                    "prompt_id": ident,
                    "index": row["index"],
                    "domain1": domain1,
                    "domain2": domain2,
                    "language": lang,
                    "checklist": [c.as_dict() for c in checklist],
                    "prompt": query,
                    # a Chinese query states characters (length_unit), counted
                    # LongWriter's way (one per CJK character)
                    **meta_len,
                    "bucket": bucket(target),
                    "bucket_2k": bucket_2k(target),
                },
            )
        )
    if total == 0:
        raise DatasetError(p, "no rows")
    check_unique(ids, p, "index")
    if not samples:
        raise DatasetError(p, f"no rows match domain={domain!r} language={language!r}")
    return samples


# -- scoring --------------------------------------------------------------------


def checklist_criterion(item: dict[str, Any], position: int) -> Criterion:
    """A WritingBench checklist item as a one-criterion rubric entry (1-10) whose
    description carries the item's description and its five band descriptions."""
    bands = "\n".join(f"  Score {band}: {item[band]}" for band in BANDS)
    return Criterion(
        id=f"c{position}",
        name=item["name"],
        polarity="positive",
        min=1,
        max=10,
        description=f"{item['criteria_description']}\n{bands}",
    )


async def judge_checklist_member(
    base: Rubric,
    prompt: str,
    story: str,
    checklist: list[dict[str, Any]],
    grader: Model | str | None,
    config: JudgeConfig,
) -> MemberResult:
    """One judge on every checklist criterion (one ``judge_story`` call each, at once):
    its ``score`` is the mean over criteria; any criterion left unscored fails it."""
    rubrics = [base.with_criteria([checklist_criterion(item, i)]) for i, item in enumerate(checklist, start=1)]
    judgements = await asyncio.gather(*(judge_story(r, prompt, story, grader, config) for r in rubrics))
    rows = []
    for item, r, j in zip(checklist, rubrics, judgements):
        cid = r.criteria[0].id
        rows.append(
            {
                "id": cid,
                "name": item["name"],
                "score": (j.scores or {}).get(cid),
                "attempts": j.attempts,
                "evidence": j.evidence.get(cid),
                "unscored_reason": j.unscored_reason,
            }
        )
    attempts = sum(j.attempts for j in judgements)
    failed = [c for c in rows if c["score"] is None]
    if failed:
        reasons = "; ".join(f"{c['name']}: {c['unscored_reason']}" for c in failed)
        reason = f"{len(failed)} of {len(rows)} criteria unscored: {reasons}"
        return MemberResult(None, None, attempts, reason, source=rows)
    value = {"score": sum(float(c["score"]) for c in rows) / len(rows)}
    return MemberResult(value, {c["id"]: c["score"] for c in rows}, attempts, None, source=rows)


def checklist_metadata(base: Rubric, result: PanelResult, checklist: list[dict[str, Any]]) -> dict[str, Any]:
    """One judge: its criterion rows as always. A panel: each criterion's panel score,
    and each member's rows (with their evidence) in its ``panel`` entry."""
    if result.single:
        rows = result.results[0].source
    else:
        for r in result.results:
            r.details["evidence"] = {c["id"]: c["evidence"] for c in r.source}
        panel_scores = result.criteria()
        rows = [
            {
                "id": f"c{i}",
                "name": item["name"],
                "score": panel_scores.get(f"c{i}"),
                "attempts": sum(r.source[i - 1]["attempts"] for r in result.results),
                "evidence": None,
                "unscored_reason": "; ".join(
                    f"{m.role}: {r.source[i - 1]['unscored_reason']}"
                    for m, r in zip(result.members, result.results)
                    if r.source[i - 1]["unscored_reason"]
                )
                or None,
            }
            for i, item in enumerate(checklist, start=1)
        ]
    return {
        "rubric": base.id,
        "rubric_sha256": base.sha256,
        "judge_calls": len(checklist) * len(result.results),
        "attempts": sum(r.attempts for r in result.results),
        "criteria": rows,
    } | result.metadata()


async def judge_checklist(
    base: Rubric,
    prompt: str,
    story: str,
    checklist: list[dict[str, Any]],
    grader: Model | str | None,
    config: JudgeConfig,
    panel: Panel = Panel(),
) -> Score:
    """Every panel member judges every criterion; the sample's ``score`` is the panel
    aggregate of the members' means."""

    async def one(model: Model) -> MemberResult:
        return await judge_checklist_member(base, prompt, story, checklist, model, config)

    result = await judge_with_panel(panel, panel_members(panel, grader), one)
    meta = checklist_metadata(base, result, checklist)
    if not result.scored:
        meta["unscored_reason"] = result.unscored_reason
        return Score.unscored(reason=result.unscored_reason, answer=story[:200], metadata=meta)
    value = result.value()
    explanation = "; ".join(f"{c['name']}: {c['score']:g}" for c in meta["criteria"] if c["score"] is not None)
    return Score(value=value, answer=story[:200], explanation=explanation, metadata=meta)


@scorer(metrics={"score": [mean(), prompt_stderr(), grouped(mean(), "domain2", all=False)]})
def writingbench_score(
    rubric: str = "writingbench",
    compact: bool = False,
    max_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    grader: str | None = None,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
) -> Scorer:
    """WritingBench: one judge call per checklist criterion (1-10) and panel member;
    ``score`` = the panel aggregate of each member's mean over criteria."""
    base = load_rubric(rubric)
    config = _judge_config(compact, max_attempts)
    panel = make_panel(judges, panel_aggregate, panel_min)

    async def score(state: TaskState, target: Target) -> Score:
        checklist = state.metadata.get("checklist")
        if not checklist:
            raise ValueError(f"sample {state.sample_id!r} has no WritingBench checklist in its metadata")
        return await judge_checklist(base, prompt_text(state), story_text(state), checklist, grader, config, panel)

    return score



# -- the task -------------------------------------------------------------------


@task
def writingbench(
    dataset: str | None = None,
    domain: str = DEFAULT_DOMAIN,
    language: str = "en",
    generations: str | None = None,
    max_tokens: int | None = None,
    thinking: bool | None = None,
    thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE,
    rubric: str = "writingbench",
    compact: bool = False,
    judge_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
    cliche_list: str | None = None,
) -> Task:
    """Args:
    dataset: WritingBench benchmark_all.jsonl or a subset in its format (default: the
      copy in the `inspect-evals` package, when installed).
    domain: domain1 to keep ("all" for every domain).
    language: "en" (no CJK in the query), "zh" or "all".
    generations: JSONL of existing responses (id = the row's index) to judge.
    max_tokens: fixed generation limit (default: sized from a stated length).
    thinking: true/false: whether the writer thinks (default: inferred from the
      model name; only a thinking writer gets the thinking allowance).
    thinking_allowance: extra tokens for a thinking writer's reasoning.
    rubric, compact, judge_attempts: judging options (one judge call per checklist
      criterion and judge: 5 per sample with one judge).
    judges: comma-separated model roles that judge every story (default grader; bind
      each with --model-role <role>=<model>): a judge panel.
    panel_aggregate: mean, median or trimmed (drops the highest and lowest judge when
      there are 3 or more): how the panel's scores combine.
    panel_min: judges that must succeed for a sample to be scored (default 1).
    cliche_list: a cliché list file (one word or phrase per line, # comments) for the
      cliche_index scorer, which reports hits per 1,000 words (default: the bundled list).
    """
    writer = args.writer_args(max_tokens, thinking, thinking_allowance)
    judging = args.judge_args(rubric, compact, judge_attempts)
    panel = args.panel_args(judges, panel_aggregate, panel_min)
    dataset = args.text("dataset", dataset, optional=True)
    domain = args.text("domain", domain)  # type: ignore[assignment]
    language = args.choice("language", language, ("en", "zh", "all"))
    generations = args.text("generations", generations, optional=True)
    cliches = args.cliche_list(cliche_list)
    args.require_roles(*args.judge_roles(panel))
    samples = with_generations(load_writingbench(dataset, domain=domain, language=language), generations)  # type: ignore[arg-type]
    return Task(
        dataset=MemoryDataset(samples, name=f"writingbench_{domain}_{language}"),
        solver=story_solver(generations, roles=args.judge_roles(panel), **writer),
        scorer=[
            writingbench_score(**judging, **panel),
            # Chinese lengths are characters: LongWriter's count (CJK chars + words)
            length_adherence(method="paper" if language == "en" else "longwriter"),
            cliche_index(cliches),
        ],
        metadata={
            "polaris_bench_version": __version__,
            "benchmark": "writingbench",
            "split": "OOD",
            "units": "1-10",
            "paper_judge": "Gemini 3.1 Pro",
            "domain": domain,
            "language": language,
            "generation": {"source": "generations file" if generations else "model"},
        },
    )
