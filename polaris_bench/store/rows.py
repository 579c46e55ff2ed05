"""One Inspect log -> the rows of every store table (pure: no database access).

``build_rows`` walks the samples once and hands each piece to the function that owns
its table: ``_sample_row`` (samples), ``_scorer_rows`` (scorer_results and scores),
``_criteria_rows`` (criteria), ``_judgement_rows`` (judgements, judgement_scores,
judgement_criteria), ``_pairwise_rows`` (pairwise), ``_rating_rows`` (ratings),
``_window_rows`` (story_windows), ``_usage_rows`` (usage: tokens per role, per sample
and for the run), ``_run_scorer_rows`` (run_scorers) and ``_run_row`` (runs).

* The length columns come from the scorer named ``length_adherence``, nothing else.
* Windows along a story: one story_windows row per entry of the ``segments`` list in
  the metadata of the scorer named ``story_segments``; an entry that cannot be placed
  (no index or word positions) is left out, a value that cannot be read is NULL, and
  either is reported.
* Judge panels: one judgements row per member of ``metadata["panel"]``; a judge-scored
  score without it (logs from before panels) is a one-member panel (role ``grader``).
* Criterion names come from the score's ``criterion_names`` metadata; logs written
  before it existed fall back to the bundled rubric with the same hash.
* What cannot be read is reported, never swallowed: each such case adds a line to
  the log's warnings (``LogWarnings``), which ``polaris ingest`` prints.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from polaris_bench.metrics.length import bucket as length_bucket
from polaris_bench.metrics.length import bucket_2k as length_bucket_2k
from polaris_bench.store.benchmarks import benchmark_of
from polaris_bench.store.names import model_label
from polaris_bench.store.scrub import scrub, scrub_text, scrub_url

LENGTH_SCORER = "length_adherence"  # the scorer whose value holds the length columns
SEGMENTS_SCORER = "story_segments"  # the scorer whose metadata holds the windows of a story
LONG_TEXT = 2000  # metadata strings longer than this are not copied into the store
# Sample metadata keys that carry whole stories (story_elo puts both in every sample).
STORY_KEYS = frozenset({"story", "story_x", "story_y", "stories", "human_story", "reference_story"})


# -- warnings ---------------------------------------------------------------------------


class LogWarnings:
    """What could not be read from one log: each distinct message once, with the
    number of samples it concerns."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def add(self, message: str) -> None:
        self._counts[message] = self._counts.get(message, 0) + 1

    def lines(self) -> list[str]:
        return [m if n == 1 else f"{m} ({n} samples)" for m, n in self._counts.items()]


# -- small helpers --------------------------------------------------------------------


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    return None


def _int(v: Any) -> int | None:
    f = _num(v)
    return None if f is None else int(round(f))


def _bool(v: Any) -> bool | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes")
    f = _num(v)
    return None if f is None else bool(f)


def _ts(value: Any, what: str, warnings: LogWarnings) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            warnings.add(f"{what}: {str(value)[:40]!r} is not an ISO timestamp; stored as NULL")
            return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def dump(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, default=_json_default, ensure_ascii=False, allow_nan=False)


def _json_default(o: Any) -> Any:
    if hasattr(o, "model_dump"):
        return o.model_dump(exclude_none=True)
    return str(o)


def _clean_json(value: Any) -> Any:
    """JSON-safe (no NaN) with long strings left out."""
    if isinstance(value, Mapping):
        return {str(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_json(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, str) and len(value) > LONG_TEXT:
        return f"[{len(value)} characters not stored]"
    if hasattr(value, "model_dump"):
        return _clean_json(value.model_dump(exclude_none=True))
    return value


def _model_dump(obj: Any) -> Any:
    if obj is None:
        return None
    if hasattr(obj, "model_dump"):
        return obj.model_dump(exclude_none=True)
    return obj


# -- column buffers -----------------------------------------------------------------------

SAMPLE_COLS = (
    "run_id", "sample_id", "epoch", "prompt_id", "target_words", "bucket", "bucket_2k", "genre",
    "words", "length_ratio", "length_score", "length_penalty", "self_repetition", "blank", "truncated",
    "stop_reason", "error", "limit_hit", "total_time", "working_time", "input_tokens", "output_tokens", "metadata",
    "input_sha256",
)
SR_COLS = (
    "run_id", "sample_id", "epoch", "scorer", "scored", "unscored_reason", "judge_model", "rubric",
    "rubric_sha256", "template_sha256", "judge_mode", "attempts", "label", "explanation", "metadata",
    "panel_aggregate",
)
SCORE_COLS = ("run_id", "sample_id", "epoch", "scorer", "key", "value", "value_text")
CRIT_COLS = ("run_id", "sample_id", "epoch", "scorer", "criterion_id", "name", "score", "justification", "quotes")
PAIR_COLS = (
    "run_id", "sample_id", "epoch", "source_sample_id", "source_epoch", "prompt_id", "model_x", "model_y",
    "score_x", "plus_diff_xy", "plus_diff_yx", "verdict_xy", "verdict_yx", "flipped", "judge_model",
    "rubric_sha256", "unscored_reason",
)
JUDGEMENT_COLS = ("run_id", "sample_id", "epoch", "scorer", "member", "role", "judge_model", "scored", "attempts",
                  "unscored_reason")
JUDGEMENT_SCORE_COLS = ("run_id", "sample_id", "epoch", "scorer", "member", "key", "value")
JUDGEMENT_CRIT_COLS = ("run_id", "sample_id", "epoch", "scorer", "member", "criterion_id", "score")
RATING_COLS = ("run_id", "model", "method", "rating", "rd", "ci_low", "ci_high")
WINDOW_COLS = ("run_id", "sample_id", "epoch", "idx", "first_word", "last_word", "words", "quality", "value",
               "self_repetition", "overlap_prior", "cliche_rate", "unscored_reason", "panel", "criteria",
               "attempts")
USAGE_COLS = ("run_id", "sample_id", "epoch", "role", "model", "calls", "input_tokens", "output_tokens",
              "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "total_tokens", "batch", "reported_cost")
RUN_SCORER_COLS = ("run_id", "scorer", "key", "n")

_LENGTH_FIELDS = ("words", "length_ratio", "length_score", "length_penalty", "self_repetition")
_SR_META_SKIP = frozenset(
    {"criteria", "criterion_names", "evidence", "judge_model", "rubric", "rubric_sha256", "template_sha256",
     "judge_mode", "attempts", "label", "unscored_reason", "xy", "yx", "model_x", "model_y", "panel",
     "panel_aggregate", "segments"}  # segments: the story_windows table
)

_TYPES = {
    "epoch": pa.int32(), "target_words": pa.int32(), "attempts": pa.int32(), "source_epoch": pa.int32(),
    "input_tokens": pa.int64(), "output_tokens": pa.int64(), "n": pa.int32(), "member": pa.int32(),
    "value": pa.float64(), "score": pa.float64(), "rating": pa.float64(), "rd": pa.float64(),
    "ci_low": pa.float64(), "ci_high": pa.float64(), "score_x": pa.float64(), "plus_diff_xy": pa.float64(),
    "plus_diff_yx": pa.float64(), "words": pa.float64(), "length_ratio": pa.float64(),
    "length_score": pa.float64(), "length_penalty": pa.float64(), "self_repetition": pa.float64(),
    "total_time": pa.float64(), "working_time": pa.float64(),
    "blank": pa.bool_(), "truncated": pa.bool_(), "scored": pa.bool_(), "flipped": pa.bool_(),
    "quotes": pa.list_(pa.string()),
    "idx": pa.int32(), "first_word": pa.int64(), "last_word": pa.int64(), "quality": pa.float64(),
    "overlap_prior": pa.float64(), "cliche_rate": pa.float64(),
    "calls": pa.int32(), "cache_read_tokens": pa.int64(), "cache_write_tokens": pa.int64(),
    "reasoning_tokens": pa.int64(), "total_tokens": pa.int64(), "batch": pa.bool_(), "reported_cost": pa.float64(),
}


class Columns:
    """Column-wise row buffer, turned into one Arrow table per table per log."""

    def __init__(self, cols: Sequence[str], types: Mapping[str, pa.DataType] | None = None) -> None:
        self.cols = cols
        self.types = {**_TYPES, **(types or {})}  # a table's own types over the shared ones
        self.data: dict[str, list[Any]] = {c: [] for c in cols}

    def add(self, *values: Any) -> None:
        for c, v in zip(self.cols, values, strict=True):
            self.data[c].append(v)

    def __len__(self) -> int:
        return len(self.data[self.cols[0]])

    def table(self) -> pa.Table:
        arrays = {}
        for c in self.cols:
            try:
                arrays[c] = pa.array(self.data[c], type=self.types.get(c, pa.string()))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise TypeError(f"column {c!r}: {exc}") from exc
        return pa.table(arrays)


@dataclass
class RunRows:
    run: dict[str, Any] = field(default_factory=dict)
    samples: Columns = field(default_factory=lambda: Columns(SAMPLE_COLS))
    scorer_results: Columns = field(default_factory=lambda: Columns(SR_COLS))
    scores: Columns = field(default_factory=lambda: Columns(SCORE_COLS))
    criteria: Columns = field(default_factory=lambda: Columns(CRIT_COLS))
    pairwise: Columns = field(default_factory=lambda: Columns(PAIR_COLS))
    ratings: Columns = field(default_factory=lambda: Columns(RATING_COLS))
    run_scorers: Columns = field(default_factory=lambda: Columns(RUN_SCORER_COLS))
    judgements: Columns = field(default_factory=lambda: Columns(JUDGEMENT_COLS))
    judgement_scores: Columns = field(default_factory=lambda: Columns(JUDGEMENT_SCORE_COLS))
    judgement_criteria: Columns = field(default_factory=lambda: Columns(JUDGEMENT_CRIT_COLS))
    story_windows: Columns = field(default_factory=lambda: Columns(WINDOW_COLS, {"value": pa.string()}))
    usage: Columns = field(default_factory=lambda: Columns(USAGE_COLS))
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, Columns]:
        return {"samples": self.samples, "scorer_results": self.scorer_results, "scores": self.scores,
                "criteria": self.criteria, "pairwise": self.pairwise, "ratings": self.ratings,
                "run_scorers": self.run_scorers, "judgements": self.judgements,
                "judgement_scores": self.judgement_scores, "judgement_criteria": self.judgement_criteria,
                "story_windows": self.story_windows, "usage": self.usage}


@dataclass
class _Log:
    """What every per-table function needs to know about the log being read."""

    run_id: str
    grader_model: str | None
    warnings: LogWarnings
    names: _CriterionNames
    key_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    judge_models: set[str] = field(default_factory=set)
    rubric_shas: set[str] = field(default_factory=set)
    template_shas: set[str] = field(default_factory=set)
    judge_modes: set[str] = field(default_factory=set)
    has_length_scorer: bool = False
    inputs: dict[str, str] = field(default_factory=dict)  # sample id -> sha256 of its input
    usage: _UsageRoles | None = None


# -- criterion names ----------------------------------------------------------------------


class _CriterionNames:
    """Names for a score's criteria: from its ``criterion_names`` metadata; for older
    logs, from the bundled rubric whose hash matches (reported either way)."""

    def __init__(self, warnings: LogWarnings) -> None:
        self.warnings = warnings
        self.bundled: dict[tuple[str, str], tuple[dict[str, str], str]] = {}
        self.reported: set[tuple[str, str, str]] = set()

    def __call__(self, scorer: str, smeta: Mapping[str, Any]) -> dict[str, str]:
        logged = smeta.get("criterion_names")
        if isinstance(logged, Mapping) and logged:
            return {str(k): str(v) for k, v in logged.items()}
        rubric, sha = smeta.get("rubric"), smeta.get("rubric_sha256")
        names, why = self._bundled(rubric, sha)
        key = (scorer, str(rubric), str(sha))
        if key not in self.reported:
            self.reported.add(key)
            if names:
                self.warnings.add(
                    f"{scorer}: criterion names are not in the log (written before polaris-bench logged them); "
                    f"taken from the bundled rubric {rubric!r} with the same hash"
                )
            else:
                self.warnings.add(f"{scorer}: criterion names are not in the log and {why}; names stored as NULL")
        return names

    def _bundled(self, rubric: Any, sha: Any) -> tuple[dict[str, str], str]:
        if not isinstance(rubric, str) or not isinstance(sha, str):
            return {}, "the score names no rubric and hash"
        key = (rubric, sha)
        if key not in self.bundled:
            from polaris_bench.judging.rubric import RubricError, load_rubric

            try:
                loaded = load_rubric(rubric)
            except (RubricError, OSError) as exc:
                self.bundled[key] = ({}, f"rubric {rubric!r} cannot be loaded ({scrub_text(str(exc))[:200]})")
            else:
                if loaded.sha256 == sha:
                    self.bundled[key] = ({c.id: c.name for c in loaded.criteria}, "")
                else:
                    why = (f"the bundled rubric {rubric!r} has another hash ({loaded.sha256[:12]}, "
                           f"the log's is {sha[:12]}: a custom or changed rubric)")
                    self.bundled[key] = ({}, why)
        return self.bundled[key]


# -- per table ----------------------------------------------------------------------------


def _prompt_id(sid: str, meta: Mapping[str, Any]) -> str:
    pid = meta.get("prompt_id")
    if pid is not None:
        return str(pid)
    base = str(meta.get("sample_id") or sid).split("|", 1)[0]
    return base.split("@", 1)[0]


def _length_value(ctx: _Log, scores: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The value and metadata of the ``length_adherence`` score (empty without one)."""
    la = scores.get(LENGTH_SCORER)
    if la is None:
        return {}, {}
    ctx.has_length_scorer = True
    if not isinstance(la.value, Mapping):
        ctx.warnings.add(f"{LENGTH_SCORER}: the value is not a mapping of length metrics; length columns NULL")
        return {}, {}
    return la.value, la.metadata or {}


def _sample_row(ctx: _Log, rows: RunRows, sample: Any, sid: str, epoch: int, meta: Mapping[str, Any]) -> None:
    lvalue, lmeta = _length_value(ctx, sample.scores or {})
    target = _int(meta.get("target_words"))
    if target is None:
        target = _int(lvalue.get("target_words"))
    bkt = meta.get("bucket") or lmeta.get("bucket") or length_bucket(target)
    bkt2 = meta.get("bucket_2k") or lmeta.get("bucket_2k") or length_bucket_2k(target)
    in_tok = out_tok = None
    if sample.model_usage:
        in_tok = sum(u.input_tokens or 0 for u in sample.model_usage.values())
        out_tok = sum(u.output_tokens or 0 for u in sample.model_usage.values())
    output = sample.output
    rows.samples.add(
        ctx.run_id, sid, epoch, _prompt_id(sid, meta), target, bkt, bkt2,
        meta.get("genre") if isinstance(meta.get("genre"), str) else None,
        *(_num(lvalue.get(k)) for k in _LENGTH_FIELDS),
        _bool(lvalue.get("blank")), _bool(lvalue.get("truncated")),
        output.choices[0].stop_reason if output is not None and output.choices else None,
        scrub_text(sample.error.message) if sample.error is not None else None,
        (f"{sample.limit.type}" if getattr(sample, "limit", None) is not None else None),
        _num(sample.total_time), _num(sample.working_time), in_tok, out_tok,
        dump(_clean_json({k: v for k, v in meta.items() if k not in STORY_KEYS})),
        _input_sha(ctx, sid, sample.input),
    )


def _scorer_rows(ctx: _Log, rows: RunRows, sid: str, epoch: int, scorer_name: str, score: Any) -> tuple[bool, str | None, str | None]:
    """scorer_results (one row) and scores (one row per key). Returns (scored, the
    unscored reason, the judge model)."""
    value = score.value
    smeta = score.metadata or {}
    nan_scalar = isinstance(value, float) and math.isnan(value)
    reason = smeta.get("unscored_reason") or (score.reason if nan_scalar else None)
    if isinstance(value, dict):
        items: Any = value.items()
    elif nan_scalar:
        items = ()
    else:
        items = (("value", value),)
    for key, v in items:
        num = _num(v)
        text = None
        if num is None and v is not None and not isinstance(v, float):
            text = v if isinstance(v, str) else dump(_clean_json(v))
        rows.scores.add(ctx.run_id, sid, epoch, scorer_name, str(key), num, text)
        ctx.key_counts[(scorer_name, str(key))] = ctx.key_counts.get((scorer_name, str(key)), 0) + 1
    scored = not nan_scalar and not smeta.get("unscored_reason")
    if not scored and reason is None:
        reason = score.reason or "unscored"
    jm = smeta.get("judge_model")
    if jm is None and ("rubric_sha256" in smeta or "rubric" in smeta):
        jm = ctx.grader_model
    if jm:
        ctx.judge_models.add(str(jm))
    for s_, bag in ((smeta.get("rubric_sha256"), ctx.rubric_shas), (smeta.get("template_sha256"), ctx.template_shas),
                    (smeta.get("judge_mode"), ctx.judge_modes)):
        if isinstance(s_, str):
            bag.add(s_)
    extra = {k: v for k, v in smeta.items() if k not in _SR_META_SKIP}
    rows.scorer_results.add(
        ctx.run_id, sid, epoch, scorer_name, scored, scrub_text(str(reason)) if reason else None,
        jm, smeta.get("rubric"), smeta.get("rubric_sha256"), smeta.get("template_sha256"),
        smeta.get("judge_mode"), _int(smeta.get("attempts")),
        smeta.get("label") if isinstance(smeta.get("label"), str) else None,
        score.explanation, dump(_clean_json(extra)) if extra else None,
        smeta.get("panel_aggregate") if isinstance(smeta.get("panel_aggregate"), str) else None,
    )
    return scored, (scrub_text(str(reason)) if reason else None), (str(jm) if jm else None)


def _evidence_of(ctx: _Log, scorer: str, ev: Any) -> tuple[str | None, list[str] | None]:
    if ev is None:
        return None, None
    if isinstance(ev, str):
        return ev, None
    if not isinstance(ev, Mapping):
        ctx.warnings.add(f"{scorer}: criterion evidence of type {type(ev).__name__} is not readable; left out")
        return None, None
    just = ev.get("justification")
    quotes = ev.get("quotes")
    if isinstance(quotes, str):
        quotes = [quotes]
    quotes = [str(q) for q in quotes] if isinstance(quotes, list) else None
    return (str(just) if just is not None else None), quotes


def _criterion_score(ctx: _Log, scorer: str, cid: str, v: Any) -> float | None:
    num = _num(v)
    if num is None and v is not None:
        ctx.warnings.add(f"{scorer}: criterion {cid!r} has a non-numeric score; stored as NULL")
    return num


def _criteria_rows(ctx: _Log, rows: RunRows, sid: str, epoch: int, scorer: str, smeta: Mapping[str, Any]) -> None:
    """criteria: ``{id: score}`` with ``evidence`` and ``criterion_names`` beside it
    (judge_story), or ``[{id, name, score, evidence}, ...]`` (WritingBench)."""
    crit = smeta.get("criteria")
    if crit is None:
        return
    if isinstance(crit, Mapping):
        evidence = smeta.get("evidence")
        evidence = evidence if isinstance(evidence, Mapping) else {}
        names = ctx.names(scorer, smeta)
        for cid, cscore in crit.items():
            just, quotes = _evidence_of(ctx, scorer, evidence.get(cid))
            rows.criteria.add(ctx.run_id, sid, epoch, scorer, str(cid), names.get(str(cid)),
                              _criterion_score(ctx, scorer, str(cid), cscore), just, quotes)
    elif isinstance(crit, list):
        for i, item in enumerate(crit, start=1):
            if not isinstance(item, Mapping):
                ctx.warnings.add(f"{scorer}: a criteria list entry is not a mapping; left out")
                continue
            cid = str(item.get("id") or f"c{i}")
            just, quotes = _evidence_of(ctx, scorer, item.get("evidence"))
            name = item.get("name")
            rows.criteria.add(ctx.run_id, sid, epoch, scorer, cid, str(name) if name is not None else None,
                              _criterion_score(ctx, scorer, cid, item.get("score")), just, quotes)
    else:
        ctx.warnings.add(f"{scorer}: 'criteria' metadata of type {type(crit).__name__} is not readable; left out")


def _members(ctx: _Log, scorer: str, score: Any, judge_model: str | None) -> list[Mapping[str, Any]]:
    """The panel entries of a judge-scored score: ``metadata["panel"]``, or for a log
    from before panels the score itself as a one-member panel (role ``grader``)."""
    smeta = score.metadata or {}
    panel = smeta.get("panel")
    if panel is None:
        if not judge_model:
            return []  # not judge-scored (length, LLM-free metrics)
        value = score.value
        nan_scalar = isinstance(value, float) and math.isnan(value)
        return [{"role": "grader", "model": judge_model,
                 "value": None if nan_scalar or smeta.get("unscored_reason") else value,
                 "criteria": smeta.get("criteria"), "attempts": smeta.get("attempts"),
                 "unscored_reason": smeta.get("unscored_reason") or (score.reason if nan_scalar else None)}]
    if not isinstance(panel, list):
        ctx.warnings.add(f"{scorer}: 'panel' metadata of type {type(panel).__name__} is not a list of members; "
                         "no member judgements stored")
        return []
    out = []
    for i, entry in enumerate(panel):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("model"), str):
            ctx.warnings.add(f"{scorer}: panel member {i} is not a mapping with a 'model' string; left out")
            continue
        out.append(entry)
    return out


def _judgement_rows(ctx: _Log, rows: RunRows, sid: str, epoch: int, scorer: str, score: Any,
                    judge_model: str | None) -> None:
    """judgements (one row per panel member), judgement_scores (its numeric keys) and
    judgement_criteria (its criterion scores)."""
    for i, entry in enumerate(_members(ctx, scorer, score, judge_model)):
        value = entry.get("value")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = {"value": value}
        if value is not None and not isinstance(value, Mapping):
            ctx.warnings.add(f"{scorer}: panel member {i}'s value of type {type(value).__name__} is not a score "
                             "mapping; stored as unscored")
            value = None
        reason = entry.get("unscored_reason")
        scored = value is not None and not reason
        if not scored and not reason:
            reason = "no value"
        rows.judgements.add(ctx.run_id, sid, epoch, scorer, i, str(entry.get("role") or f"member{i}"),
                            str(entry["model"]), scored, _int(entry.get("attempts")),
                            scrub_text(str(reason)) if reason else None)
        for key, v in (value or {}).items():
            num = _num(v)
            if num is not None:
                rows.judgement_scores.add(ctx.run_id, sid, epoch, scorer, i, str(key), num)
        crit = entry.get("criteria")
        if crit is None:
            continue
        if not isinstance(crit, Mapping):
            ctx.warnings.add(f"{scorer}: panel member {i}'s criteria of type {type(crit).__name__} are not a "
                             "mapping; left out")
            continue
        for cid, cscore in crit.items():
            rows.judgement_criteria.add(ctx.run_id, sid, epoch, scorer, i, str(cid),
                                        _criterion_score(ctx, scorer, str(cid), cscore))


def _pairwise_rows(ctx: _Log, rows: RunRows, sid: str, epoch: int, scorer: str, score: Any,
                   meta: Mapping[str, Any], outcome: tuple[bool, str | None, str | None]) -> None:
    """story_elo: one pairwise row, and each order's margins as criteria."""
    smeta = score.metadata or {}
    value = score.value if isinstance(score.value, dict) else {}
    model_x = smeta.get("model_x") or meta.get("model_x")
    model_y = smeta.get("model_y") or meta.get("model_y")
    if not (model_x and model_y and ("xy" in smeta or "score_x" in value)):
        return
    scored, reason, jm = outcome
    blocks = {}
    for order in ("xy", "yx"):
        block = smeta.get(order)
        if block is not None and not isinstance(block, Mapping):
            ctx.warnings.add(f"{scorer}: the {order!r} verdict is not a mapping; left out")
        blocks[order] = block if isinstance(block, Mapping) else {}
    rows.pairwise.add(
        ctx.run_id, sid, epoch, str(meta.get("sample_id") or sid), _int(meta.get("epoch")),
        _prompt_id(sid, meta), str(model_x), str(model_y), _num(value.get("score_x")),
        _num(value.get("plus_diff_xy")), _num(value.get("plus_diff_yx")), blocks["xy"].get("verdict"),
        blocks["yx"].get("verdict"), _bool(value.get("flipped")), jm, smeta.get("rubric_sha256"),
        reason if not scored else None,
    )
    for order, block in blocks.items():
        margins = block.get("margins")
        if margins is None:
            continue
        if not isinstance(margins, Mapping):
            ctx.warnings.add(f"{scorer}: the {order!r} margins are not a mapping; left out")
            continue
        evidence = block.get("evidence") if isinstance(block.get("evidence"), Mapping) else {}
        for cid, m in margins.items():
            just, quotes = _evidence_of(ctx, scorer, evidence.get(cid))
            rows.criteria.add(ctx.run_id, sid, epoch, scorer, f"{order}:{cid}", None,
                              _criterion_score(ctx, scorer, f"{order}:{cid}", m), just, quotes)


def _window_number(ctx: _Log, name: str, v: Any) -> float | None:
    num = _num(v)
    if num is None and v is not None and not (isinstance(v, float) and math.isnan(v)):
        ctx.warnings.add(f"{SEGMENTS_SCORER}: a window's {name!r} of type {type(v).__name__} is not a number; "
                         "stored as NULL")
    return num


def _window_rows(ctx: _Log, rows: RunRows, sid: str, epoch: int, score: Any) -> None:
    """story_windows: one row per entry of the ``segments`` metadata list of the
    ``story_segments`` score (index, first_word, last_word, words, value,
    self_repetition, overlap_prior, cliche_rate, unscored_reason, panel, criteria, attempts)."""
    segments = (score.metadata or {}).get("segments")
    if segments is None:
        ctx.warnings.add(f"{SEGMENTS_SCORER}: a score has no 'segments' metadata; no window rows stored")
        return
    if not isinstance(segments, list):
        ctx.warnings.add(f"{SEGMENTS_SCORER}: 'segments' metadata of type {type(segments).__name__} is not a list "
                         "of windows; no window rows stored")
        return
    for entry in segments:
        if not isinstance(entry, Mapping):
            ctx.warnings.add(f"{SEGMENTS_SCORER}: a 'segments' entry of type {type(entry).__name__} is not a "
                             "mapping; left out")
            continue
        idx, first, last = (_int(entry.get(k)) for k in ("index", "first_word", "last_word"))
        if idx is None or first is None or last is None or first < 0 or last < first:
            ctx.warnings.add(f"{SEGMENTS_SCORER}: a window entry without a usable index, first_word and last_word "
                             "(integers, 0 <= first_word <= last_word); left out")
            continue
        words = _int(entry.get("words"))
        if words is None:
            words = last - first + 1
        value = entry.get("value")
        reason = entry.get("unscored_reason")
        quality = None
        if value is not None and not isinstance(value, Mapping):
            ctx.warnings.add(f"{SEGMENTS_SCORER}: a window's value of type {type(value).__name__} is not a score "
                             "mapping; stored as unscored")
            value, reason = None, reason or "the window's value is not a score mapping"
        if isinstance(value, Mapping):
            if "quality" not in value:
                ctx.warnings.add(f"{SEGMENTS_SCORER}: a window's value has no 'quality' key; quality stored as NULL")
            quality = _window_number(ctx, "quality", value.get("quality"))
        if value is None and not reason:
            reason = "no value"
        panel = entry.get("panel")
        if panel is not None and not isinstance(panel, list):
            ctx.warnings.add(f"{SEGMENTS_SCORER}: a window's 'panel' of type {type(panel).__name__} is not a "
                             "list of members; left out")
            panel = None
        criteria = entry.get("criteria")
        if criteria is not None and not isinstance(criteria, Mapping):
            ctx.warnings.add(f"{SEGMENTS_SCORER}: a window's 'criteria' of type {type(criteria).__name__} is not a "
                             "mapping of criterion scores; left out")
            criteria = None
        rows.story_windows.add(
            ctx.run_id, sid, epoch, idx, first, last, words, quality,
            dump(_clean_json(value)) if value is not None else None,
            _window_number(ctx, "self_repetition", entry.get("self_repetition")),
            _window_number(ctx, "overlap_prior", entry.get("overlap_prior")),
            _window_number(ctx, "cliche_rate", entry.get("cliche_rate")),
            scrub_text(str(reason)) if reason else None,
            dump(_clean_json(panel)) if panel else None,
            dump(_clean_json(criteria)) if criteria else None,
            _int(entry.get("attempts")),
        )


_RATING_KINDS = {
    "glicko": ("glicko2", "rating"), "glicko_rd": ("glicko2", "rd"), "bt": ("bradley_terry", "rating"),
    "bt_low": ("bradley_terry", "ci_low"), "bt_high": ("bradley_terry", "ci_high"), "win_rate": ("win_rate", "rating"),
}


def _rating_rows(ctx: _Log, rows: RunRows, results: Any) -> None:
    """story_elo's ``pairwise_ratings`` metric: glicko:<m>, glicko_rd:<m>, bt:<m>,
    bt_low:<m>, bt_high:<m>, win_rate:<m>."""
    if results is None:
        return
    per: dict[tuple[str, str], dict[str, float | None]] = {}
    for es in results.scores or []:
        for name, m in (es.metrics or {}).items():
            label = m.name or name
            kind, sep, model = label.partition(":")
            if not sep or kind not in _RATING_KINDS:
                continue
            method, slot = _RATING_KINDS[kind]
            per.setdefault((model, method), {})[slot] = _num(m.value)
    for (model, method), v in sorted(per.items()):
        rows.ratings.add(ctx.run_id, model, method, v.get("rating"), v.get("rd"), v.get("ci_low"), v.get("ci_high"))


def _run_scorer_rows(ctx: _Log, rows: RunRows) -> None:
    for (scorer_name, key), n in sorted(ctx.key_counts.items()):
        rows.run_scorers.add(ctx.run_id, scorer_name, key, n)
    scored_names = {s for (s, _k) in ctx.key_counts}
    for scorer_name in sorted(set(rows.scorer_results.data["scorer"]) - scored_names):
        rows.run_scorers.add(ctx.run_id, scorer_name, "", 0)  # a scorer with no value at all (all unscored)


# -- usage -------------------------------------------------------------------------------

WRITER_ROLE = "writer"  # the eval's main model (it has no Inspect role)
OTHER_ROLE = "other"  # a model called by neither the main model nor a named role
_USAGE_FIELDS = ("input_tokens", "output_tokens", "input_tokens_cache_read", "input_tokens_cache_write",
                 "reasoning_tokens", "total_tokens")


def _usage_dict(u: Any) -> dict[str, float]:
    """A ModelUsage (or its dict) as numbers: absent token fields are 0; ``total_cost``
    only when Inspect computed one."""
    get = u.get if isinstance(u, Mapping) else (lambda k: getattr(u, k, None))
    out = {k: float(get(k) or 0) for k in _USAGE_FIELDS}
    if get("total_cost") is not None:
        out["total_cost"] = float(get("total_cost"))
    return out


@dataclass
class _UsageRoles:
    """Which model plays which role in this log, and whether it ran in batch mode."""

    main_model: str | None
    role_models: dict[str, str]
    batch: dict[str, bool]

    @classmethod
    def of(cls, ev: Any) -> _UsageRoles:
        roles = {r: str(cfg.model) for r, cfg in (ev.model_roles or {}).items()}
        batch = {r: bool(getattr(cfg.config, "batch", None)) for r, cfg in (ev.model_roles or {}).items()}
        batch[WRITER_ROLE] = bool(getattr(ev.model_generate_config, "batch", None))
        main = str(ev.model) if ev.model and ev.model != "none/none" else None
        return cls(main, roles, batch)

    def split(self, model_usage: Mapping[str, Any], role_usage: Mapping[str, Any]) -> dict[str, tuple[str, dict]]:
        """role -> (model, usage). Inspect reports usage per role for named roles only:
        the writer's is its model's usage less what named roles of the same model used."""
        out: dict[str, tuple[str, dict]] = {}
        left = {str(m): _usage_dict(u) for m, u in model_usage.items()}
        for role, u in role_usage.items():
            model = self.role_models.get(role, "")
            used = _usage_dict(u)
            out[role] = (model, used)
            if model in left:
                for k in _USAGE_FIELDS:
                    left[model][k] = max(0.0, left[model][k] - used[k])
                if "total_cost" in used and "total_cost" in left[model]:
                    left[model]["total_cost"] = max(0.0, left[model]["total_cost"] - used["total_cost"])
        for model, rest in left.items():
            if not any(rest[k] for k in _USAGE_FIELDS):
                continue
            role = WRITER_ROLE if model == self.main_model else OTHER_ROLE
            if role in out:  # two unattributed models: keep them apart by model string
                role = f"{OTHER_ROLE}:{model}"
            out[role] = (model, rest)
        return out

    def calls(self, events: Sequence[Any]) -> dict[str, int]:
        """Model calls per role among a sample's events (Inspect cache hits left out:
        they cost nothing)."""
        out: dict[str, int] = {}
        for e in events:
            if getattr(e, "event", None) != "model" or getattr(e, "cache", None) == "read":
                continue
            role = e.role or (WRITER_ROLE if str(e.model) == self.main_model else OTHER_ROLE)
            out[role] = out.get(role, 0) + 1
        return out


def _add_usage(ctx: _Log, rows: RunRows, sid: str | None, epoch: int | None, model_usage: Mapping[str, Any],
               role_usage: Mapping[str, Any], calls: Mapping[str, int] | None) -> None:
    assert ctx.usage is not None
    for role, (model, u) in sorted(ctx.usage.split(model_usage, role_usage).items()):
        rows.usage.add(
            ctx.run_id, sid, epoch, role, model or None,
            (calls.get(role, 0) if calls is not None else None),
            *(_int(u[k]) for k in _USAGE_FIELDS),
            ctx.usage.batch.get(role, False) if not role.startswith(OTHER_ROLE) else None,
            u.get("total_cost"),
        )


def _usage_rows(ctx: _Log, rows: RunRows, sample: Any, sid: str, epoch: int) -> dict[str, int] | None:
    """usage: one row per role of one sample. Returns the sample's calls per role
    (None when the log kept no events)."""
    calls = ctx.usage.calls(sample.events) if sample.events else None
    _add_usage(ctx, rows, sid, epoch, sample.model_usage or {}, getattr(sample, "role_usage", None) or {}, calls)
    return calls


def _input_sha(ctx: _Log, sid: str, value: Any) -> str:
    """sha256 of a sample's input (a string, or its messages' roles and texts)."""
    if sid not in ctx.inputs:
        if isinstance(value, str):
            text = value
        elif isinstance(value, list):
            text = json.dumps([[getattr(m, "role", ""), getattr(m, "text", str(m))] for m in value], ensure_ascii=False)
        else:
            ctx.warnings.add(f"a sample input of type {type(value).__name__} is not readable; hashed as its repr")
            text = repr(value)
        ctx.inputs[sid] = hashlib.sha256(text.encode()).hexdigest()
    return ctx.inputs[sid]


def dataset_identity(inputs: Mapping[str, str]) -> str | None:
    """A hash over the (sample id, input hash) pairs of a log: runs over different
    prompt files, or different subsets of one, get different hashes."""
    if not inputs:
        return None
    h = hashlib.sha256()
    for sid in sorted(inputs):
        h.update(f"{json.dumps(sid)}\t{inputs[sid]}\n".encode())
    return h.hexdigest()


def _run_row(ctx: _Log, log: Any, path: str, fp: str) -> dict[str, Any]:
    ev = log.eval
    task_meta = dict(ev.metadata or {})
    model_args = scrub(dict(ev.model_args or {}))
    roles = {
        role: scrub({"model": cfg.model, "args": dict(cfg.args or {}), "config": _model_dump(cfg.config) or {},
                     "base_url": cfg.base_url})
        for role, cfg in (ev.model_roles or {}).items()
    }
    packages = dict(ev.packages or {})
    stats = log.stats
    usage = {k: _model_dump(v) for k, v in ((stats.model_usage if stats else None) or {}).items()}
    role_usage = {k: _model_dump(v) for k, v in ((getattr(stats, "role_usage", None) if stats else None) or {}).items()}

    def total(field_: str) -> float | None:
        vals = [u.get(field_) for u in usage.values() if u.get(field_) is not None]
        return sum(vals) if vals else None

    rev = ev.revision
    label = model_label(ev.model, model_args)
    return {
        "run_id": ctx.run_id,
        "inspect_run_id": ev.run_id,
        "task_id": ev.task_id,
        "task": ev.task,
        "task_version": str(ev.task_version) if ev.task_version is not None else None,
        "task_file": ev.task_file,
        "benchmark": benchmark_of(ev.task, task_meta),
        "task_args": dump(_clean_json(scrub(dict(ev.task_args or {})))),
        "model": ev.model,
        "model_label": label,
        "display_name": None,  # set from the stored names when written (store.names)
        "model_args": dump(_clean_json(model_args)),
        "model_base_url": scrub_url(ev.model_base_url) if ev.model_base_url else None,
        "generate_config": dump(_clean_json(scrub(_model_dump(ev.model_generate_config) or {}))),
        "model_roles": dump(_clean_json(roles)),
        "judge_model": ctx.grader_model,
        "judge_models": sorted(ctx.judge_models),
        "rubric_sha256s": sorted(ctx.rubric_shas),
        "template_sha256s": sorted(ctx.template_shas),
        "judge_modes": sorted(ctx.judge_modes),
        "dataset_name": ev.dataset.name if ev.dataset is not None else None,
        "dataset_sha256": dataset_identity(ctx.inputs),
        "dataset_samples": len(ctx.inputs),
        "package_version": task_meta.get("polaris_bench_version")
        or packages.get("polaris_bench")
        or packages.get("polaris-bench"),
        "inspect_version": packages.get("inspect_ai"),
        "packages": dump(packages),
        "revision_commit": rev.commit if rev is not None else None,
        "revision_dirty": getattr(rev, "dirty", None) if rev is not None else None,
        "status": log.status,
        "error": scrub_text(log.error.message) if log.error is not None else None,
        "created": _ts(ev.created, "eval.created", ctx.warnings),
        "started_at": _ts(stats.started_at if stats else None, "stats.started_at", ctx.warnings),
        "completed_at": _ts(stats.completed_at if stats else None, "stats.completed_at", ctx.warnings),
        "epochs": ev.config.epochs if ev.config else None,
        "total_samples": log.results.total_samples if log.results else None,
        "completed_samples": log.results.completed_samples if log.results else None,
        "input_tokens": total("input_tokens"),
        "output_tokens": total("output_tokens"),
        "total_tokens": total("total_tokens"),
        "total_cost": total("total_cost"),
        "model_usage": dump(usage),
        "role_usage": dump(role_usage),
        "task_metadata": dump(_clean_json(scrub(task_meta))),
        "results": dump(_clean_json(_model_dump(log.results))) if log.results else None,
        "log_path": path,
        "log_fingerprint": fp,
        "superseded_by": None,
        "ingested_at": utcnow(),
    }


# -- the log ------------------------------------------------------------------------------


def build_rows(log: Any, path: str, fp: str) -> RunRows:
    """All rows of one log, and what could not be read from it."""
    warnings = LogWarnings()
    grader = (log.eval.model_roles or {}).get("grader")
    ctx = _Log(str(log.eval.eval_id), grader.model if grader is not None else None, warnings,
               _CriterionNames(warnings), usage=_UsageRoles.of(log.eval))
    rows = RunRows()
    run_calls: dict[str, int] | None = {}
    for sample in log.samples or []:
        sid = str(sample.id)
        epoch = int(sample.epoch or 1)
        meta = sample.metadata or {}
        _sample_row(ctx, rows, sample, sid, epoch, meta)
        calls = _usage_rows(ctx, rows, sample, sid, epoch)
        if calls is None or run_calls is None:
            run_calls = None
        else:
            for role, n in calls.items():
                run_calls[role] = run_calls.get(role, 0) + n
        for scorer_name, score in (sample.scores or {}).items():
            outcome = _scorer_rows(ctx, rows, sid, epoch, scorer_name, score)
            _criteria_rows(ctx, rows, sid, epoch, scorer_name, score.metadata or {})
            _judgement_rows(ctx, rows, sid, epoch, scorer_name, score, outcome[2])
            _pairwise_rows(ctx, rows, sid, epoch, scorer_name, score, meta, outcome)
            if scorer_name == SEGMENTS_SCORER:
                _window_rows(ctx, rows, sid, epoch, score)
    _rating_rows(ctx, rows, log.results)
    _run_scorer_rows(ctx, rows)
    if log.stats is not None:  # the run's totals, as Inspect counted them
        _add_usage(ctx, rows, None, None, log.stats.model_usage or {}, getattr(log.stats, "role_usage", None) or {},
                   run_calls)
    if log.samples and not ctx.has_length_scorer and not len(rows.pairwise):
        warnings.add(f"no {LENGTH_SCORER!r} scorer in this log: the length columns (words, length_ratio, "
                     "truncated, blank, ...) are NULL")
    rows.run = _run_row(ctx, log, path, fp)
    rows.warnings = warnings.lines()
    return rows
