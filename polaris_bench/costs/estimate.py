"""What a run will cost before it runs: calls, tokens and dollars per role.

The model of one ``length_gen`` run (the judge-scored sweep), from its ``-T`` options:

* writer: one call per sample (prompt x target). Input: the sample's prompt (with the
  length sentence) at ``tokens_per_word``. Output: the target's words at
  ``tokens_per_word`` (a writer that meets its target), capped by the sample's token
  budget (the solver's own ``max_tokens`` rule), plus the whole thinking allowance for
  a thinking writer. With ``-T generations=`` there are no writer calls.
* every judge role of ``-T judges=`` (a panel is one judgement per role per sample):
  input is the rendered judge prompt (``judging.prompt.render`` with the prompt, the
  length sentence removed as the judge does) at ``tokens_per_word`` plus the story (the
  target's words); output is ``judge_reply_share`` of the judge's reply budget (the
  judge's own ``max_tokens`` rule), whose full value is the ceiling. A judgement takes
  1 + f + f^2 + ... calls (up to ``-T judge_attempts``) at failure rate ``f``: each
  failed reply is retried with the same prompt.
* dollars: every role at its model's price (``costs.prices``), times the batch
  multiplier for a role run in batch mode; "no price" when the model has none.

``check`` compares an estimate with a finished log's recorded usage per role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from polaris_bench.costs.prices import NO_PRICE, PriceTable

DEFAULT_TOKENS_PER_WORD = 1.33  # ~0.75 English words per token (the usual BPE rule of thumb)
DEFAULT_FAILURE_RATE = 0.02  # share of judge replies that fail and are retried
DEFAULT_REPLY_SHARE = 0.25  # share of the judge's reply budget a reply uses
SUPPORTED_TASKS = ("length_gen",)
WRITER = "writer"


class EstimateError(ValueError):
    """Options an estimate cannot be made from (the message names the option)."""


@dataclass
class Assumptions:
    tokens_per_word: float = DEFAULT_TOKENS_PER_WORD
    failure_rate: float = DEFAULT_FAILURE_RATE
    judge_reply_share: float = DEFAULT_REPLY_SHARE

    def __post_init__(self) -> None:
        if not self.tokens_per_word > 0:
            raise EstimateError(f"--tokens-per-word must be positive, got {self.tokens_per_word}")
        if not 0 <= self.failure_rate < 1:
            raise EstimateError(f"--failure-rate must be in [0, 1), got {self.failure_rate}")
        if not 0 < self.judge_reply_share <= 1:
            raise EstimateError(f"--judge-reply-share must be in (0, 1], got {self.judge_reply_share}")


@dataclass
class RoleEstimate:
    role: str
    model: str | None
    batch: bool
    calls: float
    input_tokens: float
    output_tokens: float
    output_ceiling: float  # every reply at its full token budget
    input_ceiling: float  # every judge attempt spent
    cost_usd: float | None = None
    cost_ceiling_usd: float | None = None
    price: str = NO_PRICE

    @property
    def total_tokens(self) -> float:
        return self.input_tokens + self.output_tokens


@dataclass
class Estimate:
    task: str
    task_args: dict[str, Any]
    samples: int
    roles: list[RoleEstimate]
    assumptions: Assumptions
    judge_reply_budget: int = 0
    notes: list[str] = field(default_factory=list)

    def total(self, attr: str = "cost_usd") -> float | None:
        values = [getattr(r, attr) for r in self.roles]
        return None if any(v is None for v in values) else float(sum(values))

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "task_args": self.task_args, "samples": self.samples,
                "roles": [asdict(r) | {"total_tokens": r.total_tokens} for r in self.roles],
                "cost_usd": self.total(), "cost_ceiling_usd": self.total("cost_ceiling_usd"),
                "assumptions": asdict(self.assumptions), "judge_reply_budget": self.judge_reply_budget,
                "notes": self.notes}


def expected_calls(failure_rate: float, attempts: int) -> float:
    """Calls per judgement when each reply fails with ``failure_rate`` and a failure is
    retried, up to ``attempts`` calls."""
    return sum(failure_rate**k for k in range(attempts))


def _words(text: str) -> int:
    from polaris_bench.metrics.length import count_words

    return count_words(text)


def _arg(task_args: Mapping[str, Any], name: str, default: Any) -> Any:
    value = task_args.get(name)
    return default if value is None else value


def estimate_length_gen(task_args: Mapping[str, Any], writer: str | None, roles: Mapping[str, str],
                        prices: PriceTable, assumptions: Assumptions | None = None,
                        batch: Mapping[str, bool] | None = None) -> Estimate:
    """See the module docstring. ``roles``: model role -> model string (the judges);
    ``batch``: roles (``writer`` for the writer) run through a batch API."""
    import inspect as pyinspect

    from polaris_bench.benchmarks import task_args as targs
    from polaris_bench.benchmarks.length_gen import (
        PromptFileError,
        length_gen,
        parse_targets,
        select_prompts,
        sweep_samples,
    )
    from polaris_bench.benchmarks.solvers import (
        DEFAULT_THINKING_ALLOWANCE,
        MAX_TOKENS_CAP,
        max_tokens_for,
    )
    from polaris_bench.benchmarks.thinking import decide_thinking
    from polaris_bench.io import InputFileError
    from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS, _default_max_tokens
    from polaris_bench.judging.prompt import render
    from polaris_bench.judging.rubric import RubricError, load_rubric
    from polaris_bench.judging.segments import DEFAULT_SEGMENT_RUBRIC, DIGEST_WORDS
    from polaris_bench.metrics.length import strip_length_sentence
    from polaris_bench.metrics.windows import expected_window_count

    known = set(pyinspect.signature(length_gen).parameters)  # the task's own options
    unknown = sorted(set(task_args) - known)
    if unknown:
        raise EstimateError(f"-T {unknown[0]}: length_gen has no such option (it has {', '.join(sorted(known))})")
    batch = dict(batch or {})
    a = assumptions or Assumptions()
    try:
        wargs = targs.writer_args(task_args.get("max_tokens"), task_args.get("thinking"),
                                  _arg(task_args, "thinking_allowance", DEFAULT_THINKING_ALLOWANCE))
        jargs = targs.judge_args(_arg(task_args, "rubric", "story_quality"), _arg(task_args, "compact", False),
                                 _arg(task_args, "judge_attempts", DEFAULT_JUDGE_ATTEMPTS))
        panel = targs.panel_args(_arg(task_args, "judges", "grader"), _arg(task_args, "panel_aggregate", "mean"),
                                 _arg(task_args, "panel_min", 1))
        prompts_spec = task_args.get("prompts")
        try:
            chosen = select_prompts(None if prompts_spec is None else str(prompts_spec))
        except (PromptFileError, InputFileError, OSError) as exc:  # which file, and why
            raise EstimateError(f"-T prompts={prompts_spec}: {exc}") from exc
        targets = parse_targets(task_args.get("targets"))
    except targs.TaskArgumentError as exc:
        raise EstimateError(str(exc)) from exc
    try:
        rubric = load_rubric(jargs["rubric"])
    except (RubricError, OSError) as exc:
        raise EstimateError(f"-T rubric={jargs['rubric']}: {exc}") from exc
    judge_roles = targs.judge_roles(panel)
    missing = [r for r in judge_roles if r not in roles]
    if missing:
        raise EstimateError(f"--model-role {missing[0]}=MODEL is needed: -T judges= names the judge role(s) "
                            f"{', '.join(judge_roles)}")
    samples = sweep_samples(chosen, targets)
    generating = not task_args.get("generations")
    try:
        segmented = targs.segment_args(task_args.get("segments"), task_args.get("decay_margin"))
    except targs.TaskArgumentError as exc:
        raise EstimateError(str(exc)) from exc
    if generating and not writer:
        raise EstimateError("--model WRITER is needed (or -T generations= to judge existing stories)")
    est = Estimate("length_gen", {k: v for k, v in task_args.items() if v is not None}, len(samples), [], a)

    tpw = a.tokens_per_word
    if generating:
        thinking = decide_thinking(str(writer), wargs["thinking"], wargs["thinking_allowance"])
        w_in = w_out = w_ceiling = 0.0
        for s in samples:
            target = int(s.metadata["target_words"])
            budget = wargs["max_tokens"] or min(MAX_TOKENS_CAP, max_tokens_for(target, thinking.allowance))
            w_in += _words(str(s.input)) * tpw
            w_out += min(budget, target * tpw + thinking.allowance)
            w_ceiling += budget
        est.roles.append(RoleEstimate(WRITER, writer, batch.get(WRITER, False), len(samples), w_in, w_out, w_ceiling,
                                      w_in))
        if thinking.thinks:
            est.notes.append(f"the writer thinks ({thinking.reason}): its whole thinking allowance "
                             f"({thinking.allowance} tokens) is counted as output")

    judge_budget = est.judge_reply_budget = _default_max_tokens(rubric, jargs["compact"])
    per_judgement = expected_calls(a.failure_rate, jargs["max_attempts"])
    template_words = {}
    j_in = 0.0
    for s in samples:
        pid = s.metadata["prompt_id"]
        if pid not in template_words:  # the rendered prompt without the story, per prompt
            rendered = render(rubric, strip_length_sentence(str(s.metadata["prompt"])), "", compact=jargs["compact"])
            template_words[pid] = _words(rendered.text)
        j_in += (template_words[pid] + int(s.metadata["target_words"])) * tpw
    judgements = float(len(samples))
    j_out_budget = len(samples) * judge_budget  # reply budget of one attempt at every judgement
    if segmented:
        # every window is one more judgement: the segment rubric, a digest of the story so
        # far (at most DIGEST_WORDS) and the window's own words (a story as long as its target)
        size = segmented["segment_words"]
        seg_rubric = load_rubric(DEFAULT_SEGMENT_RUBRIC)
        seg_budget = _default_max_tokens(seg_rubric, jargs["compact"])
        windows = 0
        for s in samples:
            target = int(s.metadata["target_words"])
            n = expected_window_count(target, size)
            seg_prompt = render(seg_rubric, strip_length_sentence(str(s.metadata["prompt"])), "",
                                compact=jargs["compact"], context="")
            j_in += (n * _words(seg_prompt.text) + target + (n - 1) * DIGEST_WORDS) * tpw
            windows += n
        judgements += windows
        j_out_budget += windows * seg_budget
        est.notes.append(f"-T segments={size}: about {windows} windows, each judged once more by every judge")
    for role in judge_roles:
        est.roles.append(RoleEstimate(
            role, roles[role], batch.get(role, False), judgements * per_judgement, j_in * per_judgement,
            j_out_budget * per_judgement * a.judge_reply_share,
            j_out_budget * jargs["max_attempts"], j_in * jargs["max_attempts"]))
    for r in est.roles:
        price = prices.lookup(r.model)
        if price is not None:
            r.price = price.pattern
            r.cost_usd = price.cost(r.input_tokens, r.output_tokens, batch=r.batch)
            r.cost_ceiling_usd = price.cost(r.input_ceiling, r.output_ceiling, batch=r.batch)
    return est


def estimate(task: str, task_args: Mapping[str, Any], writer: str | None, roles: Mapping[str, str],
             prices: PriceTable, assumptions: Assumptions | None = None,
             batch: Mapping[str, bool] | None = None) -> Estimate:
    """The estimate for a task by name (or a ``tasks/<name>.py`` path)."""
    name = task.rsplit("/", 1)[-1].removesuffix(".py").split("@", 1)[0]
    if name not in SUPPORTED_TASKS:
        raise EstimateError(f"polaris estimate models {', '.join(SUPPORTED_TASKS)}; {task!r} is not modelled yet")
    return estimate_length_gen(task_args, writer, roles, prices, assumptions, batch)


# -- after the run ------------------------------------------------------------------------


def _rel(est: float, actual: float) -> float | None:
    return (est - actual) / actual if actual else None


def check(log_path: str, prices: PriceTable, assumptions: Assumptions | None = None) -> tuple[Estimate, list[dict[str, Any]]]:
    """The estimate for a finished log's task options and models, and per role the
    estimated and recorded calls and tokens with the relative error (estimate - actual)
    / actual."""
    from inspect_ai.log import read_eval_log

    from polaris_bench.store.rows import _UsageRoles

    try:
        log = read_eval_log(log_path)
    except Exception as exc:  # not a log, truncated, missing
        raise EstimateError(f"{log_path}: cannot be read as an Inspect log ({type(exc).__name__}: {exc})") from exc
    ev = log.eval
    roles = {r: str(cfg.model) for r, cfg in (ev.model_roles or {}).items()}
    split = _UsageRoles.of(ev)
    batch = dict(split.batch)
    est = estimate(ev.task, dict(ev.task_args or {}), str(ev.model) if ev.model else None, roles, prices,
                   assumptions, batch)
    usage = split.split(log.stats.model_usage if log.stats else {}, getattr(log.stats, "role_usage", None) or {})
    calls: dict[str, int] = {}
    for s in log.samples or []:
        for role, n in split.calls(s.events or []).items():
            calls[role] = calls.get(role, 0) + n
    rows = []
    for r in est.roles:
        _, u = usage.get(r.role, (r.model, {}))
        actual_in = u.get("input_tokens", 0) + u.get("input_tokens_cache_read", 0) + u.get("input_tokens_cache_write", 0)
        actual_out = u.get("output_tokens", 0)
        rows.append({
            "role": r.role, "model": r.model,
            "calls_est": r.calls, "calls": calls.get(r.role), "calls_err": _rel(r.calls, calls.get(r.role) or 0),
            "input_est": r.input_tokens, "input": actual_in, "input_err": _rel(r.input_tokens, actual_in),
            "output_est": r.output_tokens, "output": actual_out, "output_err": _rel(r.output_tokens, actual_out),
            "total_est": r.total_tokens, "total": actual_in + actual_out,
            "total_err": _rel(r.total_tokens, actual_in + actual_out),
            # what a judge reply used of its budget: --judge-reply-share for the next estimate
            "reply_share": (actual_out / calls[r.role] / est.judge_reply_budget
                            if r.role != WRITER and calls.get(r.role) and est.judge_reply_budget else None),
        })
    est_total = sum(r.total_tokens for r in est.roles)
    act_total = sum(x["total"] for x in rows)
    rows.append({"role": "all", "model": None, "total_est": est_total, "total": act_total,
                 "total_err": _rel(est_total, act_total)})
    return est, rows
