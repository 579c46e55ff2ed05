"""The one judging code path: eval scorers, the training reward and re-scoring all call
``judge_story``.

render rubric + prompt (length sentence removed) + story (thinking removed)
  -> grader.generate(response_schema=...)  -> strict parse -> aggregate
  -> on a bad reply or a provider error: retry with a new seed (so a cache does not
     hand back the same reply), up to ``max_attempts``
  -> a ``Judgement`` that is either scored, or unscored with the reasons. Never a
     default score.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from inspect_ai.model import (
    ChatMessageUser,
    GenerateConfig,
    Model,
    ResponseSchema,
    get_model,
)
from inspect_ai.util import JSONSchema

from polaris_bench.judging.parse import ParsedReply, ReplyError, parse_reply
from polaris_bench.judging.prompt import render, response_json_schema
from polaris_bench.judging.rubric import Rubric
from polaris_bench.metrics.length import strip_length_sentence
from polaris_bench.story import strip_thinking

log = logging.getLogger(__name__)


# Defaults shared by every task, scorer and the training reward.
DEFAULT_JUDGE_ATTEMPTS = 3  # judge calls per story before it is left unscored
DEFAULT_JUDGE_SEED = 1234  # attempt k uses seed + k


@dataclass(frozen=True)
class JudgeConfig:
    max_attempts: int = DEFAULT_JUDGE_ATTEMPTS
    compact: bool = False  # scores only: no justifications or quotes
    seed: int = DEFAULT_JUDGE_SEED
    temperature: float | None = None  # None: the grader's own default
    max_tokens: int | None = None  # None: sized from the rubric
    strip_length_sentence: bool = True
    # Accept replies that leave criteria out and score what was returned, as the POLARIS
    # evaluation code does (default: such a reply is retried, then left unscored).
    partial_replies: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


@dataclass
class Judgement:
    """The outcome of judging one story with one rubric."""

    rubric_id: str
    rubric_sha256: str
    template_sha256: str
    judge_model: str
    compact: bool
    attempts: int = 0
    scores: dict[str, int] | None = None
    result: dict[str, float] | None = None
    label: str | None = None
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    reported: dict[str, Any] = field(default_factory=dict)
    published_source: str = ""  # where the rubric's published formula took its totals from
    missing: list[str] = field(default_factory=list)  # criteria a partial reply left out
    errors: list[str] = field(default_factory=list)  # one per failed attempt
    criterion_names: dict[str, str] = field(default_factory=dict)  # id -> name, logged for the store

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def unscored_reason(self) -> str | None:
        if self.ok:
            return None
        return "; ".join(f"attempt {i + 1}: {e}" for i, e in enumerate(self.errors)) or "not judged"

    def metadata(self) -> dict[str, Any]:
        """What a scorer records next to the score."""
        return {
            "rubric": self.rubric_id,
            "rubric_sha256": self.rubric_sha256,
            "template_sha256": self.template_sha256,
            "judge_model": self.judge_model,
            "judge_mode": "compact" if self.compact else "full",
            "attempts": self.attempts,
            "criteria": self.scores,
            "criterion_names": self.criterion_names,
            "label": self.label,
            "evidence": self.evidence,
            "reported": self.reported,
            **({"published_source": self.published_source} if self.published_source else {}),
            **({"missing_criteria": self.missing} if self.missing else {}),
            "errors": self.errors,
            **({"unscored_reason": self.unscored_reason} if not self.ok else {}),
            **{k: v for k, v in (self.result or {}).items() if k not in ("overall", "reward")},
        }


def _default_max_tokens(rubric: Rubric, compact: bool) -> int:
    per_criterion = 12 if compact else 160
    return 256 + per_criterion * len(rubric.criteria)


def _grader(grader: Model | str | None) -> Model:
    if isinstance(grader, Model):
        return grader
    if isinstance(grader, str):
        return get_model(grader)
    # No silent fallback to the writer: judging needs an explicit grader role.
    return get_model(role="grader", required=True)


class SharedResponseSchema(ResponseSchema):
    """A judge's reply schema, built once per rubric and mode and shared by every call.

    Inspect deep-copies the generate config at each of its merges (three per call), and
    a pydantic deep copy of a rubric schema with an enum per score costs 2-8 ms: a
    cost that a judge panel multiplies by its size (bench/panel_overhead.py). Nothing
    mutates a response schema (providers dump it, or copy ``json_schema`` explicitly
    before they change it), so a copy may be the schema itself."""

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> SharedResponseSchema:
        return self


_SCHEMA_CACHE_SIZE = 256  # rubrics in use at once (WritingBench builds one per query)
_schemas: OrderedDict[tuple[int, bool], tuple[Rubric, SharedResponseSchema]] = OrderedDict()


def judge_response_schema(rubric: Rubric, *, compact: bool = False) -> SharedResponseSchema:
    """The ``ResponseSchema`` of ``rubric``'s judge reply, built once per rubric object
    and mode (rubrics are frozen) and shared by every call."""
    key = (id(rubric), compact)
    hit = _schemas.get(key)
    if hit is not None and hit[0] is rubric:  # the identity check guards a reused id()
        _schemas.move_to_end(key)
        return hit[1]
    schema = SharedResponseSchema(
        name=f"{rubric.id}_judgement",
        json_schema=JSONSchema.model_validate(response_json_schema(rubric, compact=compact)),
        description=f"Scores for the {rubric.title} rubric",
        strict=True,
    )
    _schemas[key] = (rubric, schema)
    if len(_schemas) > _SCHEMA_CACHE_SIZE:
        _schemas.popitem(last=False)
    return schema


async def judge_story(
    rubric: Rubric,
    prompt: str,
    story: str,
    grader: Model | str | None = None,
    config: JudgeConfig = JudgeConfig(),
    *,
    context: str | None = None,
) -> Judgement:
    """Judge one story; see the module docstring. ``grader`` defaults to the Inspect
    ``grader`` model role. ``context``: the judged text is a window of a longer story
    and this is a digest of the story before it (``polaris_bench.judging.segments``);
    quotes are still checked against the window alone."""
    model = _grader(grader)
    story = strip_thinking(story)
    if config.strip_length_sentence:
        prompt = strip_length_sentence(prompt)
    rendered = render(rubric, prompt, story, compact=config.compact, context=context)
    response_schema = judge_response_schema(rubric, compact=config.compact)
    judgement = Judgement(
        rubric_id=rubric.id,
        rubric_sha256=rubric.sha256,
        template_sha256=rendered.template_sha256,
        judge_model=str(model),
        compact=config.compact,
        criterion_names={c.id: c.name for c in rubric.criteria},
    )
    max_tokens = config.max_tokens or _default_max_tokens(rubric, config.compact)
    for attempt in range(config.max_attempts):
        judgement.attempts = attempt + 1
        gen_config = GenerateConfig(
            response_schema=response_schema,
            seed=config.seed + attempt,
            max_tokens=max_tokens,
            temperature=config.temperature,
        )
        try:
            output = await model.generate([ChatMessageUser(content=rendered.text)], config=gen_config)
        except Exception as exc:  # provider errors that survived Inspect's own retries
            judgement.errors.append(f"judge call failed: {type(exc).__name__}: {exc}")
            log.warning("judge call failed (attempt %d): %s", attempt + 1, exc)
            continue
        if output.error:
            judgement.errors.append(f"judge returned an error: {output.error}")
            continue
        text = output.message.text if output.choices else ""
        try:
            parsed: ParsedReply = parse_reply(
                text, rubric, story, compact=config.compact, partial=config.partial_replies
            )
        except ReplyError as exc:
            judgement.errors.append(str(exc))
            continue
        judgement.scores = parsed.scores
        judgement.evidence = parsed.evidence
        judgement.reported = parsed.reported
        published, judgement.published_source = rubric.published_scores(parsed.scores, parsed.reported)
        judgement.result = rubric.aggregate(parsed.scores, partial=config.partial_replies) | published
        judgement.missing = [c.id for c in rubric.criteria if c.id not in parsed.scores]
        main = judgement.result.get("overall")
        judgement.label = rubric.label_for(main) if main is not None and not math.isnan(main) else None
        return judgement
    return judgement

