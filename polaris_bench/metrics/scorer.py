"""The scorers that need no LLM, so they run on every benchmark: ``length_adherence``
(every length metric of a story) and ``cliche_index`` (hits per 1,000 words of a
cliché list, see ``metrics.cliche``); and the metric set shared by the scorers (mean,
stderr, mean per bucket).

Standard errors are clustered by prompt (``prompt_stderr``), as the store's bootstrap
intervals are: several samples of one prompt (targets, epochs, seeds) are not
independent evidence. Every loader puts ``prompt_id`` in the sample metadata."""

from __future__ import annotations

import math

from inspect_ai.model import ModelOutput
from inspect_ai.scorer import (
    Metric,
    Score,
    Scorer,
    Target,
    grouped,
    mean,
    scorer,
    stderr,
)
from inspect_ai.solver import TaskState

from polaris_bench.metrics.cliche import load_lexicon, per_thousand_words
from polaris_bench.metrics.length import (
    TargetRule,
    WordCountMethod,
    count_words,
    measure,
    parse_target,
)
from polaris_bench.story import prompt_text, story_text

LENGTH_KEYS = (
    "words",
    "target_words",
    "length_ratio",
    "length_score",
    "length_penalty",
    "self_repetition",
    "blank",
    "truncated",
)

CLICHE_KEYS = ("cliche_rate", "cliche_hits")
TOP_CLICHES = 10  # the most frequent entries kept in a score's metadata

CLUSTER_KEY = "prompt_id"


def prompt_stderr() -> Metric:
    """Inspect's standard error of the mean, clustered by the sample's prompt."""
    return stderr(cluster=CLUSTER_KEY)


def _key_metrics(keys: list[str], group_key: str | None) -> list[dict[str, list[Metric]]]:
    metrics: list[dict[str, list[Metric]]] = []
    for key in keys:
        ms: list[Metric] = [mean(), prompt_stderr()]
        if group_key:
            # shown as grouped_<bucket> under the key: short enough for the terminal table
            ms.append(grouped(mean(), group_key, all=False))
        metrics.append({key: ms})
    return metrics


def target_of(state: TaskState, rule: TargetRule = "project") -> int | None:
    """The requested length: the loader's ``target_words``, else parsed from the prompt.
    ``rule="authors"`` always parses the prompt with the POLARIS code's regex (to
    reproduce their numbers; "3,000 words long" then has no target)."""
    if rule == "authors":
        return parse_target(prompt_text(state), rule)
    target = state.metadata.get("target_words")
    if target is not None:
        return int(target)
    return parse_target(prompt_text(state))


# Providers whose ``usage.output_tokens`` is not the sample's own count: Inspect's
# ``hf/`` generates in batches and gives every sample of a batch the batch's padded
# length (and no ``max_tokens`` stop reason), so a 100-word story batched with one
# that ran to the limit reports the whole budget.
BATCH_USAGE_PROVIDERS: frozenset[str] = frozenset({"hf"})


def was_truncated(
    output: ModelOutput | None,
    budget: int | None,
    *,
    provider: str | None = None,
    own_tokens: int | None = None,
) -> bool:
    """The writer stopped at its token limit: the provider says so (stop reason
    ``max_tokens``), or the sample's own output tokens reached the budget.

    ``own_tokens`` is the writer solver's count for the sample (the usage, or a
    recount with the writer's tokenizer where usage is per batch). Without it, the
    usage counts only for a ``provider`` that reports usage per sample."""
    if output is None:
        return False
    if output.stop_reason == "max_tokens":
        return True
    if not budget:
        return False
    if own_tokens is None:
        if provider in BATCH_USAGE_PROVIDERS or not output.usage:
            return False
        own_tokens = output.usage.output_tokens
    return own_tokens >= budget


@scorer(metrics=_key_metrics(list(LENGTH_KEYS), "bucket"))
def length_adherence(method: WordCountMethod = "paper", target_rule: TargetRule = "project") -> Scorer:
    """Length metrics without an LLM. Keys that need a target are NaN (no value) when
    the sample has none: never an invented target. ``target_rule="authors"`` reads the
    target as the POLARIS code does (see ``parse_target``)."""
    if target_rule not in ("project", "authors"):
        raise ValueError(f"length_adherence: target_rule must be 'project' or 'authors', not {target_rule!r}")

    async def score(state: TaskState, target: Target) -> Score:
        # as written (thinking removed, not stripped): blank detection must see padding
        story = story_text(state, strip=False)
        wanted = target_of(state, target_rule)
        truncated = was_truncated(
            state.output,
            state.metadata.get("max_tokens"),
            provider=str(state.model).split("/", 1)[0],
            own_tokens=state.metadata.get("output_tokens"),
        )
        report = measure(story, wanted, truncated=truncated, method=method)
        values = report.as_dict()
        # NaN, Inspect's "no value" sentinel, where a key needs a target the sample
        # lacks: metrics skip it (None would be averaged as 0) and the store keeps NULL.
        value = {k: math.nan if values[k] is None else values[k] for k in LENGTH_KEYS}
        return Score(
            value=value,
            answer=f"{report.words} words" + (f" / {wanted}" if wanted else ""),
            metadata={"bucket": report.bucket, "bucket_2k": report.bucket_2k, "method": method},
        )

    return score


@scorer(metrics=_key_metrics(list(CLICHE_KEYS), "bucket"))
def cliche_index(cliche_list: str | None = None) -> Scorer:
    """The cliché index without an LLM: ``cliche_rate`` (hits per 1,000 words, the
    paper's word rule; NaN for a story of no words) and ``cliche_hits``. ``cliche_list``
    is a file in the bundled list's format (default: the bundled list); a file that is
    missing, empty or not text raises ``ClicheListError`` when the scorer is made."""
    lexicon = load_lexicon(cliche_list)

    async def score(state: TaskState, target: Target) -> Score:
        story = story_text(state)
        hits = lexicon.hits(story)
        total = sum(hits.values())
        words = count_words(story)
        top = [[phrase, n] for phrase, n in sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CLICHES]]
        return Score(
            value={"cliche_rate": per_thousand_words(total, words), "cliche_hits": total},
            answer=f"{total} cliché hits in {words} words",
            metadata={
                "top_cliches": top,
                "cliche_list": lexicon.source,
                "cliche_list_sha256": lexicon.sha256,
            },
        )

    return score
