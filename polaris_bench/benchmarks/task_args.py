"""Checks that run when a task is created, before any story is written: the ``-T``
values and the model roles the task needs.

A bad value raises ``TaskArgumentError``, one line naming the argument and the value.
It is an Inspect ``PrerequisiteError``, which ``inspect eval`` prints without a
traceback and exits non-zero on (and a ``ValueError`` for Python callers).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from inspect_ai._util.error import PrerequisiteError


def _shown(value: Any) -> str:
    if value is None:
        return "(not given)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(_shown(v) for v in value)
    return str(value)


class TaskArgumentError(PrerequisiteError, ValueError):
    """``-T <argument>=<value>: <problem>``."""

    def __init__(self, argument: str, value: Any, problem: str) -> None:
        self.argument = argument
        self.value = value
        self.problem = problem
        message = f"-T {argument}={_shown(value)}: {problem}"
        super().__init__(message)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


def positive_int(argument: str, value: Any, *, minimum: int = 1, optional: bool = False) -> int | None:
    """An integer >= ``minimum`` (a digit string from the command line is accepted);
    ``None`` passes only when ``optional``."""
    if value is None:
        if optional:
            return None
        raise TaskArgumentError(argument, value, f"expected an integer >= {minimum}")
    number: Any = value
    if isinstance(number, str) and number.strip().lstrip("-").isdigit():
        number = int(number.strip())
    if isinstance(number, bool) or not isinstance(number, int):
        raise TaskArgumentError(argument, value, f"expected an integer >= {minimum}")
    if number < minimum:
        raise TaskArgumentError(argument, value, f"must be at least {minimum}")
    return number


def flag(argument: str, value: Any, *, optional: bool = False) -> bool | None:
    """``true`` or ``false`` (``None`` too when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    allowed = "true, false or leave it out" if optional else "true or false"
    raise TaskArgumentError(argument, value, f"expected {allowed}")


def number_in(argument: str, value: Any, low: float, high: float | None = None, *, optional: bool = False) -> float | None:
    """A number in [low, high] (no upper bound when ``high`` is None)."""
    if value is None and optional:
        return None
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or math.isnan(number):
        raise TaskArgumentError(argument, value, "expected a number")
    if number < low or (high is not None and number > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise TaskArgumentError(argument, value, f"must be {bound}")
    return number


def choice(argument: str, value: Any, allowed: Collection[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise TaskArgumentError(argument, value, f"expected one of {', '.join(allowed)}")
    return value


def text(argument: str, value: Any, *, optional: bool = False) -> str | None:
    """A non-empty string (a path, a name, a comma list)."""
    if value is None and optional:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise TaskArgumentError(argument, value, "expected a non-empty string")
    return value


def word_counts(argument: str, value: Any) -> list[int]:
    """Comma-separated positive word counts (``1000,3000``), one integer, or a list."""
    problem = "expected positive word counts separated by commas, e.g. 1000,3000"
    if isinstance(value, bool) or value is None:
        raise TaskArgumentError(argument, value, problem)
    if isinstance(value, int):
        items: list[Any] = [value]
    elif isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise TaskArgumentError(argument, value, problem)
    counts: list[int] = []
    for item in items:
        if isinstance(item, str) and item.isdigit():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
            raise TaskArgumentError(argument, value, problem)
        counts.append(item)
    if not counts:
        raise TaskArgumentError(argument, value, problem)
    return counts


def writer_args(max_tokens: Any, thinking: Any, thinking_allowance: Any) -> dict[str, Any]:
    """The writer solver's arguments, checked (``story_solver(**...)``)."""
    return {
        "max_tokens": positive_int("max_tokens", max_tokens, optional=True),
        "thinking": flag("thinking", thinking, optional=True),
        "thinking_allowance": positive_int("thinking_allowance", thinking_allowance, minimum=0),
    }


def judge_args(rubric: Any, compact: Any, judge_attempts: Any, partial_replies: Any = None) -> dict[str, Any]:
    """The rubric scorers' arguments, checked (``<scorer>(**...)``); ``partial_replies``
    only for the scorers that take it."""
    checked = {
        "rubric": text("rubric", rubric),
        "compact": flag("compact", compact),
        "max_attempts": positive_int("judge_attempts", judge_attempts),
    }
    if partial_replies is not None:
        checked["partial_replies"] = flag("partial_replies", partial_replies)
    return checked


def panel_args(judges: Any, panel_aggregate: Any, panel_min: Any) -> dict[str, Any]:
    """The judge panel's arguments, checked (``<scorer>(**...)``): ``judges`` is a comma
    list of model roles (Inspect hands ``a,b`` over as a list)."""
    from polaris_bench.judging.panel import AGGREGATES

    problem = "expected model role names separated by commas, e.g. grader,grader_b,grader_c"
    if isinstance(judges, str):
        roles = [r.strip() for r in judges.split(",")]
    elif isinstance(judges, (list, tuple)) and all(isinstance(r, str) for r in judges):
        roles = [r.strip() for r in judges]
    else:
        raise TaskArgumentError("judges", judges, problem)
    if not roles or any(not r or any(ch.isspace() or ch in "=," for ch in r) for r in roles):
        raise TaskArgumentError("judges", judges, problem)
    repeated = sorted({r for r in roles if roles.count(r) > 1})
    if repeated:
        raise TaskArgumentError("judges", judges, f"role {', '.join(repeated)} named twice")
    minimum = positive_int("panel_min", panel_min)
    if minimum > len(roles):  # type: ignore[operator]
        raise TaskArgumentError("panel_min", panel_min, f"must be at most the number of judges ({len(roles)})")
    return {
        "judges": ",".join(roles),
        "panel_aggregate": choice("panel_aggregate", panel_aggregate, AGGREGATES),
        "panel_min": minimum,
    }


def judge_roles(panel: dict[str, Any]) -> tuple[str, ...]:
    """The roles a checked ``panel_args`` names."""
    return tuple(panel["judges"].split(","))


# -- model roles --------------------------------------------------------------------


def require_roles(*roles: str) -> None:
    """Fail task creation when ``inspect eval`` runs it without a role it needs (the
    judge is the ``grader`` role; a judge panel needs every role of ``-T judges=``),
    before any writer call.

    Roles are known only when Inspect creates the task inside an eval; a task object
    made beforehand in Python (``eval(length_gen(), model_roles=...)``) is checked by
    the ``check_roles`` solver step instead."""
    from inspect_ai.model import model_roles
    from inspect_ai.model._model import active_model

    if active_model() is None:  # not created by an eval: roles unknown yet
        return
    missing = [r for r in roles if r not in model_roles()]
    if missing:
        raise PrerequisiteError(missing_roles_message(missing))


def missing_roles_message(missing: list[str]) -> str:
    needed = " ".join(f"--model-role {r}=<model>" for r in missing)
    return (
        f"model role {', '.join(repr(r) for r in missing)} not given: add {needed} "
        "(the grader is the judge; there is no fallback to the writer)"
    )


def cliche_list(value: Any) -> str | None:
    """``-T cliche_list=<file>``: a cliché list in the bundled list's format (None: the
    bundled list). The file is read now, so a missing, empty or non-text file fails the
    task before any story is written."""
    from polaris_bench.metrics.cliche import ClicheListError, load_lexicon

    path = text("cliche_list", value, optional=True)
    if path is None:
        return None
    try:
        load_lexicon(path)
    except ClicheListError as exc:
        raise TaskArgumentError("cliche_list", value, exc.problem) from exc
    return path


# -- quality along the story ----------------------------------------------------------


def segment_args(segments: Any, decay_margin: Any) -> dict[str, Any] | None:
    """``-T segments=<words>`` (window size, an integer >= the minimum) and
    ``-T decay_margin=<points>``, checked; ``None`` when segments are off. A
    ``decay_margin`` without ``segments`` is an error, not silently ignored."""
    from polaris_bench.judging.segments import DEFAULT_DECAY_MARGIN, MIN_SEGMENT_WORDS

    if segments is None:
        if decay_margin is not None:
            raise TaskArgumentError("decay_margin", decay_margin, "only applies with -T segments=<words>")
        return None
    problem = f"expected a window size in words, an integer >= {MIN_SEGMENT_WORDS} (e.g. 2000)"
    number: Any = segments
    if isinstance(number, str) and number.strip().lstrip("-").isdigit():
        number = int(number.strip())
    if isinstance(number, bool) or not isinstance(number, int) or number < MIN_SEGMENT_WORDS:
        raise TaskArgumentError("segments", segments, problem)
    margin = number_in("decay_margin", DEFAULT_DECAY_MARGIN if decay_margin is None else decay_margin, 0, 100)
    return {"segment_words": number, "decay_margin": margin}
