"""Judge panels: every story judged by several judges at once, one aggregate score.

Members are Inspect model role names (``-T judges=grader,grader_b,grader_c``, default
``grader``), bound with ``--model-role grader_b=anthropic/...``. Each member judges
through the one judging path (``judge_story``; a checklist or a pair is several
``judge_story`` calls per member), and all members run concurrently
(``asyncio.gather``), so a panel costs the slowest member's time, not the sum.

Aggregation (``-T panel_aggregate=``), applied per value key over the members that
succeeded (a member's missing or NaN value for a key is left out of that key):

* ``mean``;
* ``median`` (the mean of the two middle values for an even count);
* ``trimmed``: the highest and the lowest member dropped when there are 3 or more,
  then the mean; with 1 or 2 members it equals the mean.

A member that fails after its retries is left out of the sample's aggregate and
counted (``panel_failed``). The sample is unscored (``Score.unscored``, with every
failed member's reason) only when fewer than ``-T panel_min=`` members (default 1)
succeeded.

Metadata contract (``Score.metadata`` of every judge-scored scorer, single-judge runs
included):

* ``panel``: a list, one entry per member in the order of ``judges``::

      {"role": "<role name>",
       "model": "<model string, str(get_model(role=...))>",
       "value": <that member's score dict, the same keys as the Score value> | null,
       "criteria": <that member's criterion scores {id: int}> | null,
       "attempts": <int, judge calls this member made>,
       "unscored_reason": <str> | null}

  (null ``value``/``criteria`` and a reason when the member failed). A scorer may add
  per-member detail beside these keys: ``evidence`` (panels of two or more; a
  one-member panel keeps it at the top level), and for ``story_elo`` the member's
  ``xy``/``yx`` order records (verdicts, margins, flips). story_elo's criterion ids
  are ``xy:<criterion>`` and ``yx:<criterion>`` (the signed margins of each order).
* ``panel_aggregate`` (``"mean"|"median"|"trimmed"``), ``panel_min``, ``panel_size``,
  ``panel_failed`` (ints).
* The Score value holds the panel aggregate under the scorer's usual keys
  (``overall``, ``reward``, ``published_overall``, ``eqbench_longform``, ``eqbench``,
  ``score``, ``S``, ``score_x``, ...).
* The other top-level keys keep their meaning: for a one-member panel they are
  exactly what a single judge records (``judge_model``, ``criteria``, ``evidence``,
  ...); for several members ``judge_model`` is the members' model strings joined
  with ``+`` in role order, ``criteria`` the per-criterion panel aggregate,
  ``attempts`` the judge calls of all members, and the per-member detail is in
  ``panel``.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from inspect_ai.model import Model, get_model

Aggregate = Literal["mean", "median", "trimmed"]
AGGREGATES: tuple[str, ...] = ("mean", "median", "trimmed")
DEFAULT_JUDGES: tuple[str, ...] = ("grader",)


@dataclass(frozen=True)
class Panel:
    """Which roles judge and how their scores combine."""

    judges: tuple[str, ...] = DEFAULT_JUDGES
    aggregate: str = "mean"
    min_ok: int = 1

    def __post_init__(self) -> None:
        if not self.judges:
            raise ValueError("a panel needs at least one judge role")
        if len(set(self.judges)) != len(self.judges):
            raise ValueError(f"a judge role appears twice in {list(self.judges)}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"panel aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        if not 1 <= self.min_ok <= len(self.judges):
            raise ValueError(f"panel_min must be between 1 and {len(self.judges)}, got {self.min_ok}")


def aggregate(values: Sequence[float | int | None], how: str) -> float:
    """The panel value of one key: NaN and None are left out; NaN when nothing is left."""
    present = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not present:
        return math.nan
    if how == "mean":
        return statistics.fmean(present)
    if how == "median":
        return float(statistics.median(present))
    if how == "trimmed":
        kept = sorted(present)[1:-1] if len(present) >= 3 else present
        return statistics.fmean(kept)
    raise ValueError(f"unknown panel aggregate {how!r}; expected one of {AGGREGATES}")


def aggregate_dicts(dicts: Sequence[Mapping[str, Any]], how: str) -> dict[str, float]:
    """Per key over ``dicts`` (keys in first-seen order)."""
    keys: list[str] = []
    for d in dicts:
        keys.extend(k for k in d if k not in keys)
    return {k: aggregate([d.get(k) for d in dicts], how) for k in keys}


@dataclass
class MemberResult:
    """One member's judgement of one sample, as the panel entry records it."""

    value: dict[str, float] | None
    criteria: dict[str, Any] | None
    attempts: int
    unscored_reason: str | None
    details: dict[str, Any] = field(default_factory=dict)  # extra entry keys (evidence, xy, yx)
    source: Any = None  # what the scorer judged with (a Judgement, checklist rows, a pair)

    @property
    def ok(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Member:
    role: str
    model: Model


def panel_members(panel: Panel, grader: Model | str | None = None) -> list[Member]:
    """The panel's models from their roles; an explicit ``grader`` (a Python caller's
    model) is a one-member panel under the role ``grader``."""
    if grader is not None:
        return [Member("grader", grader if isinstance(grader, Model) else get_model(grader))]
    return [Member(role, get_model(role=role, required=True)) for role in panel.judges]


@dataclass
class PanelResult:
    panel: Panel
    members: list[Member]
    results: list[MemberResult]

    @property
    def ok_results(self) -> list[MemberResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.ok)

    @property
    def scored(self) -> bool:
        return len(self.ok_results) >= min(self.panel.min_ok, len(self.results))

    @property
    def single(self) -> bool:
        return len(self.results) == 1

    @property
    def judge_model(self) -> str:
        return "+".join(str(m.model) for m in self.members)

    def value(self) -> dict[str, float]:
        """The aggregate of the members that succeeded."""
        return aggregate_dicts([r.value for r in self.ok_results if r.value is not None], self.panel.aggregate)

    def criteria(self) -> dict[str, float]:
        """The per-criterion aggregate of the members that succeeded."""
        return aggregate_dicts([r.criteria for r in self.ok_results if r.criteria], self.panel.aggregate)

    @property
    def unscored_reason(self) -> str | None:
        if self.scored:
            return None
        reasons = "; ".join(
            f"{m.role} ({m.model}): {r.unscored_reason}" for m, r in zip(self.members, self.results) if not r.ok
        )
        if self.single:
            return self.results[0].unscored_reason or "not judged"
        ok = len(self.ok_results)
        return f"{ok} of {len(self.results)} judges scored (panel_min {self.panel.min_ok}): {reasons}"

    def member_errors(self) -> list[str]:
        return [f"{m.role}: {r.unscored_reason}" for m, r in zip(self.members, self.results) if not r.ok]

    def metadata(self) -> dict[str, Any]:
        """The contract's keys (see the module docstring)."""
        entries = []
        for m, r in zip(self.members, self.results):
            entry: dict[str, Any] = {
                "role": m.role,
                "model": str(m.model),
                "value": r.value,
                "criteria": r.criteria,
                "attempts": r.attempts,
                "unscored_reason": r.unscored_reason,
            }
            entry.update(r.details)
            entries.append(entry)
        return {
            "judge_model": self.judge_model,
            "panel": entries,
            "panel_aggregate": self.panel.aggregate,
            "panel_min": self.panel.min_ok,
            "panel_size": len(self.results),
            "panel_failed": self.failed,
        }


async def judge_with_panel(
    panel: Panel,
    members: Sequence[Member],
    judge_one: Callable[[Model], Awaitable[MemberResult]],
) -> PanelResult:
    """Every member judges at once; the result keeps the members' order."""
    results = await asyncio.gather(*(judge_one(m.model) for m in members))
    return PanelResult(panel=panel, members=list(members), results=list(results))
