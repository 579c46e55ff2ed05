"""Render a rubric into a judge prompt and a JSON schema for the judge's reply.

Two output modes share one envelope, ``{"criteria": {<id>: ...}, <reported totals>}``:

* full: each criterion is ``{"justification": str, "quotes": [str], "score": int}``;
* compact: each criterion is a bare integer (scores only, about a tenth of the
  output tokens; for cheap judging and for very small local judges).

A rubric may name a template file of the user's (``prompt_template``); it may use the
placeholders ``{{prompt}}``, ``{{story}}``, ``{{rubric}}``, ``{{output_format}}`` and
``{{context}}``, and must contain ``{{story}}``.

``context``: a passage judged as part of a longer story (a window,
``polaris_bench.judging.segments``) comes with a digest of the story before it. The
built-in template then has a ``<story_so_far>`` block before ``<story>``; a user's
template must place ``{{context}}`` itself. Without a context, the built-in template
is unchanged (and so is its hash).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polaris_bench.judging.rubric import Rubric, RubricError

PLACEHOLDERS = ("{{prompt}}", "{{story}}", "{{rubric}}", "{{output_format}}", "{{context}}")
_FILLED = re.compile(r"\{\{(prompt|context|story)\}\}")

_BUILTIN_TEMPLATE = """{{rubric}}

<writing_prompt>
{{prompt}}
</writing_prompt>

<story>
{{story}}
</story>

{{output_format}}"""

# A window of a longer story: what came before, as a digest, then the passage judged.
_BUILTIN_CONTEXT_TEMPLATE = """{{rubric}}

<writing_prompt>
{{prompt}}
</writing_prompt>

<story_so_far>
{{context}}
</story_so_far>

<story>
{{story}}
</story>

{{output_format}}"""


@dataclass(frozen=True)
class RenderedPrompt:
    text: str
    template_sha256: str  # hash of the template with placeholders, before filling


def describe_rubric(rubric: Rubric) -> str:
    lines = [rubric.instructions.strip(), "", "Dimensions:"]
    for c in rubric.criteria:
        kind = {"positive": "strength", "negative": "problem", "bonus": "bonus", "penalty": "penalty"}[c.polarity]
        lines.append(f"- {c.id} ({kind}, integer {c.min}-{c.max}): {c.name}. {c.description}".rstrip())
    return "\n".join(lines)


def output_format(rubric: Rubric, compact: bool) -> str:
    ids = ", ".join(c.id for c in rubric.criteria)
    if compact:
        body = (
            'Reply with one JSON object and nothing else: {"criteria": {<id>: <integer score>, ...}} '
            f"with every dimension id ({ids})."
        )
    else:
        body = (
            'Reply with one JSON object and nothing else: {"criteria": {<id>: {"justification": '
            '<1-3 sentences>, "quotes": [<exact quotations from the story>], "score": <integer>}, ...}'
            f"}} with every dimension id ({ids})."
        )
        body += " " + evidence_rules_text(rubric)
    if rubric.reported:
        body += " Also include " + ", ".join(f'"{key}"' for key in rubric.reported) + " at the top level."
    if rubric.labels:
        body += " Labels: " + ", ".join(lab.name for lab in rubric.labels) + "."
    return body


def evidence_rules_text(rubric: Rubric) -> str:
    """The rubric's quote rules in words, exactly as the parser applies them."""
    ev = rubric.evidence
    text = (
        f"Quotes: at most {ev.max_quotes} per dimension, each at most {ev.max_quote_words} words "
        "copied exactly from the story"
    )
    if ev.min_quotes:
        text += f"; at least {ev.min_quotes} per dimension, except a 0 on a scale that starts at 0"
    if ev.require_quote_when_flagged:
        text += "; a problem, bonus or penalty above its minimum always needs one"
    return text + "."


def load_template(rubric: Rubric, *, context: bool = False) -> str:
    if rubric.prompt_template is None:
        return _BUILTIN_CONTEXT_TEMPLATE if context else _BUILTIN_TEMPLATE
    path = Path(rubric.prompt_template)
    template = path.read_text(encoding="utf-8")
    if "{{story}}" not in template:
        raise RubricError(f"{path}: a judge prompt template must contain the placeholder {{{{story}}}}")
    if context and "{{context}}" not in template:
        raise RubricError(
            f"{path}: judging a window of a story needs the placeholder {{{{context}}}} (the story so far) "
            "in the judge prompt template"
        )
    return template


def render(
    rubric: Rubric, prompt: str, story: str, *, compact: bool = False, context: str | None = None
) -> RenderedPrompt:
    """The judge prompt; ``context`` (the story so far, for a window) selects the
    template with a ``<story_so_far>`` block."""
    template = load_template(rubric, context=context is not None)
    fixed = template.replace("{{rubric}}", describe_rubric(rubric)).replace(
        "{{output_format}}", output_format(rubric, compact)
    )
    digest = hashlib.sha256(fixed.encode()).hexdigest()
    # One pass over the placeholders: text inside the prompt, the context or the story
    # cannot inject a placeholder that is filled afterwards.
    values = {"prompt": prompt, "story": story, "context": context or ""}
    text = _FILLED.sub(lambda m: values[m.group(1)], fixed)
    return RenderedPrompt(text=text, template_sha256=digest)


def score_schema(low: int, high: int) -> dict[str, Any]:
    """An integer in [low, high], stated so that every provider passes the range on.

    Inspect's ``openai-api``, ``vllm`` and ``anthropic`` providers strip ``minimum`` and
    ``maximum`` before sending a schema (some servers reject them), so those alone
    leave a constrained decoder free to answer 9 on a 0-8 scale. An ``enum`` of the
    allowed integers survives every provider and is enforced by constrained decoders
    (vLLM, llguidance, OpenAI, Anthropic); ``minimum``/``maximum`` stay for providers
    that keep them and for readers of the schema."""
    return {"type": "integer", "enum": list(range(low, high + 1)), "minimum": low, "maximum": high}


def response_json_schema(rubric: Rubric, *, compact: bool = False) -> dict[str, Any]:
    """The JSON schema of a valid reply (ranges included, all keys required).

    ``minItems``/``maxItems`` on quotes are stated for readers and for local use, but
    Inspect's ``JSONSchema`` has no array-size fields, so no provider receives them
    (Anthropic would reject ``maxItems`` anyway); the parser enforces the quote
    counts and the word limit, which JSON Schema cannot express."""
    ev = rubric.evidence
    criteria: dict[str, Any] = {}
    for c in rubric.criteria:
        score = score_schema(c.min, c.max)
        if compact:
            criteria[c.id] = score
            continue
        props: dict[str, Any] = {}
        if ev.justification:
            props["justification"] = {"type": "string"}
        props["quotes"] = {
            "type": "array",
            "items": {"type": "string"},
            "minItems": ev.min_quotes if c.min != 0 else 0,  # a 0 at the bottom may have none
            "maxItems": ev.max_quotes,
        }
        props["score"] = score
        criteria[c.id] = {
            "type": "object",
            "properties": props,
            "required": list(props),
            "additionalProperties": False,
        }
    top: dict[str, Any] = {
        "criteria": {
            "type": "object",
            "properties": criteria,
            "required": [c.id for c in rubric.criteria],
            "additionalProperties": False,
        }
    }
    for key in rubric.reported:
        if key == "label":
            top[key] = {"type": "string", "enum": [lab.name for lab in rubric.labels]} if rubric.labels else {"type": "string"}
        else:  # totals and overall are sums of integer scores
            top[key] = {"type": "integer"}
    return {"type": "object", "properties": top, "required": list(top), "additionalProperties": False}
