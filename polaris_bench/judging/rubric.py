"""Rubrics as data: load and validate a rubric file, derive its JSON schema, aggregate.

A rubric file (YAML) names the criteria a judge scores (id, range, polarity), the
evidence rules, how the criterion scores aggregate into the benchmark's own numbers,
the labels, and the judge instructions. ``load_rubric("story_quality")`` finds a
bundled rubric (``rubrics/`` in a checkout, ``polaris_bench.rubrics`` in a wheel);
``load_rubric("path/to/file.yaml")`` reads a user's file.
"""

from __future__ import annotations

import hashlib
import math
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from polaris_bench.paths import resolve_user_path

Polarity = Literal["positive", "negative", "bonus", "penalty"]


class RubricError(ValueError):
    """A rubric file that cannot be used; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Criterion(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    name: str
    polarity: Polarity = "positive"
    min: int
    max: int
    description: str = ""
    # Longform-style reshaping: score -> (score/max)**power * max after inversion.
    power: float = 1.0
    weight: float = 1.0
    invert: bool = False  # for weighted_mean: use (max - score) (EQ-Bench negatives)

    @model_validator(mode="after")
    def _check_range(self) -> "Criterion":
        if self.min > self.max:
            raise ValueError(f"criterion {self.id}: min {self.min} > max {self.max}")
        if self.weight < 0:
            raise ValueError(f"criterion {self.id}: negative weight")
        return self


class EvidenceRules(_Strict):
    """What a full-mode reply must back each score with; the parser enforces every
    field (``polaris_bench.judging.parse``; compact replies carry no evidence)."""

    justification: bool = True
    # Quotes per criterion. A 0 at the bottom of a 0-based scale (strength or problem
    # absent) may come with none; every other score needs at least min_quotes.
    min_quotes: Annotated[int, Field(ge=0)] = 1
    max_quotes: Annotated[int, Field(ge=0)] = 2
    max_quote_words: Annotated[int, Field(ge=1)] = 12  # words per quote
    # At least one quote where a negative, bonus or penalty is above its minimum,
    # even when min_quotes is 0.
    require_quote_when_flagged: bool = True

    @model_validator(mode="after")
    def _check_counts(self) -> "EvidenceRules":
        if self.min_quotes > self.max_quotes:
            raise ValueError(f"min_quotes {self.min_quotes} > max_quotes {self.max_quotes}")
        if self.require_quote_when_flagged and self.max_quotes < 1:
            raise ValueError("require_quote_when_flagged needs max_quotes >= 1")
        return self


class Label(_Strict):
    name: str
    min: float  # the label applies from this overall score upwards


class PolarisAggregation(_Strict):
    """POLARIS SQ: overall = P - N + bonus' - penalty', gated, capped, clamped."""

    kind: Literal["polaris_sq"]
    bonus_gate_ratio: float = 0.5  # bonus' = 0 if N > ratio * P
    penalty_cap: int = 3  # penalty' = min(penalty, cap) if P > cap_ratio * N
    penalty_cap_ratio: float = 1.5
    clamp: tuple[float, float] = (-159.0, 108.0)
    reward_scale: float = 100.0  # reward = overall / scale


class WeightedMeanAggregation(_Strict):
    """EQ-Bench / LongBench-Write style: score = (weighted mean - offset) * scale, after
    each criterion's inversion and power reshaping."""

    kind: Literal["weighted_mean"]
    offset: float = 0.0
    scale: float = 1.0
    name: str = "score"


Aggregation = Annotated[PolarisAggregation | WeightedMeanAggregation, Field(discriminator="kind")]

ReportedKey = Literal["positive_total", "negative_total", "bonus_total", "penalty_total", "overall", "label"]


class TotalsFormula(_Strict):
    """A second overall score, as a paper's published table computes it: a signed sum
    of the totals the judge reports (``<polarity>_total``), optionally capped. POLARIS's
    published SQ table: ``min(100, positive_total - negative_total + bonus_total)``.

    The value is taken from the judge's reported totals when all of them are integers
    (as the authors' evaluation does); otherwise (a judge that reported none, e.g. a
    rubric without ``reported``) from the dimension sums, and the source says so. The
    value from the dimensions is always recorded as ``<name>_recomputed`` and
    ``totals_mismatch`` is 1 where a reported total differs from its dimension sum."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")] = "published_overall"
    description: str = ""
    terms: Annotated[dict[Polarity, float], Field(min_length=1)]
    min: float | None = None
    max: float | None = None

    def bounded(self, value: float) -> float:
        if self.max is not None:
            value = min(self.max, value)
        if self.min is not None:
            value = max(self.min, value)
        return value


class Rubric(_Strict):
    id: str
    version: int = 1
    title: str
    description: str = ""
    instructions: str  # the judge's preamble, in this project's words
    criteria: list[Criterion]
    evidence: EvidenceRules = EvidenceRules()
    aggregation: Aggregation
    labels: list[Label] = []
    # Totals the judge is asked to report; recorded, and used only by ``published``.
    reported: list[ReportedKey] = []
    # A second overall from the reported totals (the published table's formula).
    published: TotalsFormula | None = None
    # A user's own judge prompt (e.g. the paper's official one); relative to the file.
    prompt_template: str | None = None
    source_path: str | None = Field(default=None, exclude=True)
    source_sha256: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _check(self) -> "Rubric":
        if not self.criteria:
            raise ValueError("a rubric needs at least one criterion")
        ids = [c.id for c in self.criteria]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate criterion id(s): {', '.join(dupes)}")
        labels = [lab.min for lab in self.labels]
        if labels != sorted(labels):
            raise ValueError("labels must be listed by increasing min")
        if isinstance(self.aggregation, PolarisAggregation):
            for c in self.criteria:
                if c.invert or c.power != 1.0:
                    raise ValueError(f"criterion {c.id}: invert/power only apply to weighted_mean")
        if self.published is not None:
            polarities = {c.polarity for c in self.criteria}
            for pol in self.published.terms:
                if pol not in polarities:
                    raise ValueError(f"published.terms: no criterion has polarity {pol!r}")
                if f"{pol}_total" not in self.reported:
                    raise ValueError(
                        f"published.terms uses {pol}_total, which the judge is not asked to report "
                        f"(add it to 'reported')"
                    )
        return self

    # -- derived -------------------------------------------------------------------

    @cached_property
    def by_id(self) -> dict[str, Criterion]:
        return {c.id: c for c in self.criteria}

    @property
    def sha256(self) -> str:
        """Hash of the rubric file's bytes, or of its canonical dump when built in code."""
        if self.source_sha256:
            return self.source_sha256
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def with_criteria(self, criteria: list[Criterion], **changes: Any) -> "Rubric":
        """A copy with other criteria (WritingBench's per-query criteria)."""
        data = self.model_dump()
        data.update(criteria=[c.model_dump() for c in criteria], **changes)
        return Rubric.model_validate(data | {"source_sha256": self.source_sha256})

    # -- aggregation ---------------------------------------------------------------

    def aggregate(self, scores: dict[str, int], *, partial: bool = False) -> dict[str, float]:
        """The rubric's numbers from complete, validated criterion scores.

        ``partial`` (the POLARIS evaluation code's handling of incomplete replies): a
        weighted mean averages the criteria returned; the SQ sums, which a missing
        criterion would silently lower, are NaN (no value)."""
        missing = [c.id for c in self.criteria if c.id not in scores]
        if missing and not partial:
            raise ValueError(f"cannot aggregate: missing criteria {missing}")
        agg = self.aggregation
        if isinstance(agg, PolarisAggregation):
            if missing:
                keys = ("overall", "reward", "positive_total", "negative_total", "bonus", "penalty")
                return dict.fromkeys(keys, math.nan)
            return _aggregate_polaris(self, agg, scores)
        return _aggregate_weighted(self, agg, scores)

    def published_scores(self, scores: dict[str, int], reported: dict[str, Any]) -> tuple[dict[str, float], str]:
        """The ``published`` formula's numbers and where its value came from
        (``"reported"`` totals or ``"dimensions"``); empty without a formula."""
        formula = self.published
        if formula is None:
            return {}, ""
        complete = all(c.id in scores for c in self.criteria)
        sums = {
            pol: float(sum(scores.get(c.id, 0) for c in self.criteria if c.polarity == pol)) for pol in formula.terms
        }
        recomputed = (
            formula.bounded(sum(coef * sums[pol] for pol, coef in formula.terms.items())) if complete else math.nan
        )
        totals = {pol: _integral(reported.get(f"{pol}_total")) for pol in formula.terms}
        out = {f"{formula.name}_recomputed": recomputed}
        if any(v is None for v in totals.values()):
            # nothing usable reported: the dimension sums stand in, and no mismatch is defined
            out |= {formula.name: recomputed, "totals_mismatch": math.nan}
            return out, "dimensions"
        value = formula.bounded(sum(coef * totals[pol] for pol, coef in formula.terms.items()))
        mismatch = float(any(totals[pol] != sums[pol] for pol in formula.terms)) if complete else math.nan
        out |= {formula.name: value, "totals_mismatch": mismatch}
        return out, "reported"

    def label_for(self, overall: float) -> str | None:
        chosen = None
        for lab in self.labels:
            if overall >= lab.min:
                chosen = lab.name
        return chosen


def _integral(value: Any) -> float | None:
    """A reported total as a number if it is an integer (or an integral float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return float(value)


def _aggregate_polaris(rubric: Rubric, agg: PolarisAggregation, s: dict[str, int]) -> dict[str, float]:
    def total(pol: str) -> int:
        return sum(s[c.id] for c in rubric.criteria if c.polarity == pol)

    pos, neg, bonus, penalty = total("positive"), total("negative"), total("bonus"), total("penalty")
    bonus_used = 0 if neg > agg.bonus_gate_ratio * pos else bonus
    penalty_used = min(penalty, agg.penalty_cap) if pos > agg.penalty_cap_ratio * neg else penalty
    raw = pos - neg + bonus_used - penalty_used
    overall = max(agg.clamp[0], min(agg.clamp[1], float(raw)))
    return {
        "overall": overall,
        "reward": overall / agg.reward_scale,
        "positive_total": float(pos),
        "negative_total": float(neg),
        "bonus": float(bonus_used),
        "penalty": float(penalty_used),
    }


def _aggregate_weighted(rubric: Rubric, agg: WeightedMeanAggregation, s: dict[str, int]) -> dict[str, float]:
    num = den = 0.0
    for c in rubric.criteria:
        if c.id not in s:  # partial: the criteria returned
            continue
        value = float(s[c.id])
        if c.invert:
            value = c.max - value
        if c.power != 1.0:
            value = (max(0.0, value) / c.max) ** c.power * c.max
        num += c.weight * value
        den += c.weight
    mean = num / den if den else math.nan
    return {agg.name: (mean - agg.offset) * agg.scale, "criteria_mean": mean}


# -- loading -----------------------------------------------------------------------


def bundled_rubrics() -> list[str]:
    return sorted(p.stem for p in _bundled_dir().iterdir() if p.suffix == ".yaml")


def _bundled_dir() -> Path:
    """``rubrics/`` of the source checkout this module runs from, else the installed
    package ``polaris_bench.rubrics``. The checkout comes first: an editable install
    elsewhere on the path would otherwise map the package to another checkout's files."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "rubrics" / "__init__.py").is_file():
        return root / "rubrics"
    return Path(str(resources.files("polaris_bench.rubrics")))


def resolve_rubric_path(name_or_path: str | Path) -> Path:
    path = resolve_user_path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise RubricError(f"{path}: rubric file not found")
        return path
    bundled = _bundled_dir() / f"{name_or_path}.yaml"
    if not bundled.exists():
        raise RubricError(
            f"no rubric named {name_or_path!r}; bundled rubrics: {', '.join(bundled_rubrics())}"
        )
    return bundled


def load_rubric(name_or_path: str | Path) -> Rubric:
    """Load and validate a rubric; raises RubricError naming the file and the problem."""
    path = resolve_rubric_path(name_or_path)
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise RubricError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RubricError(f"{path}: a rubric file must be a mapping at the top level")
    try:
        rubric = Rubric.model_validate(
            data | {"source_path": str(path), "source_sha256": hashlib.sha256(raw).hexdigest()}
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}" for err in exc.errors()
        )
        raise RubricError(f"{path}: invalid rubric: {problems}") from exc
    if rubric.prompt_template is not None:
        template = Path(rubric.prompt_template)
        if not template.is_absolute():
            template = path.parent / template
        if not template.exists():
            raise RubricError(f"{path}: prompt_template {rubric.prompt_template!r} not found at {template}")
        rubric = rubric.model_copy(update={"prompt_template": str(template)})
    return rubric
