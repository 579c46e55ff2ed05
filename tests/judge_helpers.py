"""Reply builders and scripted judges for the judge tests."""

from __future__ import annotations

import json

from inspect_ai.model import GenerateConfig, Model, ModelOutput, ModelUsage, get_model

from polaris_bench.judging.rubric import Rubric

STORY = (
    "The lantern swung over the harbor while Mara counted the boats. "
    "\u201cNobody comes back at this hour,\u201d said the ferryman, and he was wrong. "
    "She folded the letter twice and put it in the ledger.\n\n"
    "By morning the tide had taken the bridge, and the town woke to the sound of bells."
)


def reply_output(text: str) -> ModelOutput:
    out = ModelOutput.from_content(model="mockllm", content=text)
    out.usage = ModelUsage(input_tokens=10, output_tokens=10, total_tokens=20)
    return out


def scripted_model(replies: list[str | Exception], calls: list[GenerateConfig] | None = None) -> Model:
    """A mockllm whose successive replies are ``replies`` (an Exception is raised)."""
    queue = list(replies)

    def respond(input, tools, tool_choice, config):  # noqa: A002 - Inspect's signature
        if calls is not None:
            calls.append(config)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return reply_output(item)

    return get_model("mockllm/model", custom_outputs=respond, memoize=False)


def valid_reply(rubric: Rubric, scores: dict[str, int] | None = None, quote: str = "counted the boats", **top) -> str:
    """A well-formed full-mode reply; ``scores`` overrides per criterion (default: min)."""
    scores = scores or {}
    crit = {
        c.id: {"justification": "Because.", "quotes": [quote], "score": scores.get(c.id, c.min)}
        for c in rubric.criteria
    }
    body = {"criteria": crit}
    for key in rubric.reported:
        body[key] = top.get(key, "fair" if key == "label" else 0)
    return json.dumps(body)
