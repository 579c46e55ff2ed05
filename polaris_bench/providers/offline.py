"""Offline test doubles, registered with Inspect as the ``offline`` provider.

They are not models: they exist so that tasks, scorers, the store and the trainer can
be exercised end to end without a network or a GPU.

* ``offline/writer`` (or ``offline/writer-<anything>``): writes deterministic prose of
  about the requested length (read from "... N words long." or "N words" in the
  prompt; 300 words when none is stated). The text depends on the model name, so
  ``writer-a`` and ``writer-b`` behave as two different models. ``-M length_bias=0.7``
  writes 70% of the requested length; ``-M length_spread=0.3`` scatters each story's
  length around that (log-normal, sd 0.3 in log length, drawn per writer and prompt, as
  real models scatter); ``-M think=true`` prefixes a ``<think>`` block.
  Stops at ``max_tokens`` (1 token ~ 0.75 words) with stop reason ``max_tokens``.
  ``-M degrade=<strength in [0, 1]>`` (default 0) makes the text decay with position:
  at the fraction x of the story, a sentence repeats one of the last 12 word for word
  with probability ``degrade * x / 2``, a sentence carries stock phrases from the
  bundled cliché list (``metrics.cliche``) with probability ``degrade * x`` (two of them
  with ``(degrade * x)**2``), and a paragraph is followed by an echo of one of the last
  three paragraphs with probability ``degrade * x / 4``; so self-repetition and the
  cliché rate grow towards the end, and the fair judge, reading a window's opening,
  scores late windows lower. The story still has exactly the words asked; ``degrade=0`` writes the same
  text as before the option existed.
* ``offline/judge``: answers any ``response_schema`` with a valid JSON instance,
  quoting the story (the text inside ``<story>`` tags, else the whole prompt) for
  every string array. ``-M latency=0.5`` sleeps per call, ``-M malformed=0.2`` makes
  that share of replies malformed, ``-M fail=0.1`` makes that share of calls raise.
  Its rubric scores come from ``judge_behaviour``: a FAIR judge by default (quality read
  from the story's opening, so padding, injected passages and a cut ending change
  nothing; pairwise margins are quality differences, so order does not matter), with
  seed noise ``-M noise=<sd>`` (default 0.5 points) and known biases on request:
  ``-M prefer_first=<p>`` (pairwise: Story A wins a share p of criteria),
  ``-M length_reward=<points per 1,000 words>``, ``-M obey=true`` (an instruction to
  the judge inside the story earns top scores). See ``judge_behaviour`` for details.
* ``offline/judge-<name>``: the same, but its scores lean on a story's own latent
  quality per criterion (shared by every name) plus noise of its own (``<name>``
  and the seed), so ``judge-a``, ``judge-b`` and ``judge-c`` agree as real judges
  do: correlated with one another, never identical. Given any of the options above
  (noise, prefer_first, length_reward, obey), a named judge scores by
  ``judge_behaviour`` instead, with its noise keyed by its name.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from polaris_bench.metrics.cliche import load_lexicon
from polaris_bench.metrics.length import count_words, parse_target
from polaris_bench.providers.judge_behaviour import (
    JudgeBehaviour,
    fill_scores,
    rubric_scores,
)

WORDS_PER_TOKEN = 0.75
_ANY_TARGET = re.compile(r"(\d[\d,]*)(?:\s*-\s*\d[\d,]*)?\s+words", re.IGNORECASE)
_STORY = re.compile(r"<story>\n?(.*?)\n?</story>", re.DOTALL)

_VOCAB = {
    "nouns": "lantern harbor letter orchard engine sister river signal winter ledger kitchen "
    "bridge window garden station archive compass violin meadow tower ferry market dust "
    "photograph mountain corridor clock ember tide".split(),
    "verbs": "carried folded watched remembered opened crossed mended counted followed "
    "whispered gathered answered buried lifted noticed waited traced kept".split(),
    "adjs": "quiet narrow salt-stained amber restless borrowed patient crooked silver "
    "distant unfinished warm brittle careful".split(),
    "names": "Mara Tobias Inez Oren Lucia Pell Hana Corwin Adaeze Sven".split(),
}


class _LeaningRandom(random.Random):
    """A named judge's randomness: each numeric choice (a score), the k-th of the
    reply, sits near the story's own latent quality for that k (shared by all names),
    moved by this judge's noise (sd ``NAMED_JUDGE_NOISE`` of the scale)."""

    NAMED_JUDGE_NOISE = 0.2

    def __init__(self, seed: int, story: str) -> None:
        super().__init__(seed)
        self._story = story
        self._k = 0

    def _lean(self, n: int) -> int:
        latent = _rng("story-latent", self._story, self._k).random()
        self._k += 1
        pos = min(max(latent + self.gauss(0.0, self.NAMED_JUDGE_NOISE), 0.0), 1.0)
        return round(pos * (n - 1))

    def choice(self, seq: Any) -> Any:
        if len(seq) > 1 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seq):
            return sorted(seq)[self._lean(len(seq))]
        return super().choice(seq)

    def randint(self, a: int, b: int) -> int:
        return a + self._lean(b - a + 1)


def _judge_rng(model_name: str, story: str, seed: int | None) -> random.Random:
    base = _rng(model_name, story, seed)
    if model_name == "judge":
        return base
    return _LeaningRandom(base.getrandbits(64), story)


class OfflineError(RuntimeError):
    """A simulated provider failure (``-M fail=``)."""


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _tokens(text: str) -> int:
    """One token per ``WORDS_PER_TOKEN`` whitespace-separated words, the writer's own
    rule: like a real tokenizer, the same story costs the same tokens written and read."""
    return max(1, math.ceil(len(text.split()) / WORDS_PER_TOKEN))


def _usage(prompt: str, completion: str, output_tokens: int | None = None) -> ModelUsage:
    """Tokens by ``_tokens``; a writer passes the token count its own stopping rule
    used, so that usage and ``max_tokens`` agree (a story that stopped on its own never
    reports a full budget)."""
    inp = _tokens(prompt)
    out = output_tokens if output_tokens is not None else _tokens(completion)
    return ModelUsage(input_tokens=inp, output_tokens=out, total_tokens=inp + out)


def _prompt_text(messages: list[ChatMessage]) -> str:
    return "\n\n".join(m.text for m in messages)


def requested_words(prompt: str, default: int = 300) -> int:
    target = parse_target(prompt)
    if target is not None:
        return target
    match = _ANY_TARGET.search(prompt)
    return int(match.group(1).replace(",", "")) if match else default


_POOL = [w.replace("-", "") for kind in ("nouns", "verbs", "adjs") for w in _VOCAB[kind]]


def write_story(model_name: str, prompt: str, words: int, degrade: float = 0.0) -> str:
    """Deterministic prose of exactly ``words`` \\w+ words, in paragraphs; ``degrade``
    (0-1) makes it decay with position (see the module docstring)."""
    rng = _rng(model_name, prompt)
    decay = _Decay(_rng(model_name, prompt, "degrade"), degrade) if degrade > 0 else None
    name = rng.choice(_VOCAB["names"])
    paragraphs: list[str] = []
    sentences: list[str] = []
    count = 0
    while count < words:
        n = min(words - count, rng.randint(8, 15))
        sentence = " ".join([name, *rng.choices(_POOL, k=n - 1)]) + "."
        if decay is not None:
            sentence = _fit(decay.sentence(sentence, name, count / words), words - count)
            n = count_words(sentence)
        sentences.append(sentence)
        count += n
        if len(sentences) >= rng.randint(4, 7):
            paragraphs.append(" ".join(sentences))
            sentences = []
            if decay is not None and count < words and (echo := decay.echo(paragraphs, count / words)):
                echo = _fit(echo, words - count)
                paragraphs.append(echo)
                count += count_words(echo)
    if sentences:
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


RECENT_SENTENCES, RECENT_PARAGRAPHS = 12, 3  # what a degrading writer loops back to


class _Decay:
    """The ``degrade`` option's choices, from a random stream of their own (so the
    undegraded text is unchanged): repeats, stock phrases and paragraph echoes, each
    more likely the later in the story."""

    def __init__(self, rng: random.Random, strength: float) -> None:
        self.rng = rng
        self.strength = strength
        self.written: list[str] = []
        self.phrases = load_lexicon().entries

    def sentence(self, fresh: str, name: str, position: float) -> str:
        p = self.strength * position
        if self.written and self.rng.random() < p / 2:
            return self.rng.choice(self.written[-RECENT_SENTENCES:])  # a loop: said lately, word for word
        sentence = fresh
        for _ in range(2):
            if self.rng.random() >= p:
                break
            words = sentence[len(name) + 1 : -1].split()
            cut = self.rng.randint(0, len(words))
            sentence = " ".join([name, *words[:cut], self.rng.choice(self.phrases), *words[cut:]]) + "."
            p = p * p  # a second stock phrase is rarer
        self.written.append(sentence)
        return sentence

    def echo(self, paragraphs: list[str], position: float) -> str | None:
        if paragraphs and self.rng.random() < self.strength * position / 4:
            return self.rng.choice(paragraphs[-RECENT_PARAGRAPHS:])
        return None


def _fit(text: str, budget: int) -> str:
    """``text`` cut to its first ``budget`` words (the paper's rule), ending a sentence."""
    if count_words(text) <= budget:
        return text
    ends = [m.end() for m in re.finditer(r"\w+", text)]
    return text[: ends[budget - 1]] + "."


def _quotes(story: str, rng: random.Random, k: int) -> list[str]:
    words = story.split()
    if not words:
        return []
    quotes = []
    for _ in range(k):
        start = rng.randrange(max(1, len(words) - 6))
        quotes.append(" ".join(words[start : start + 6]))
    return quotes


def instance_for(schema: dict[str, Any], rng: random.Random, story: str, key: str = "") -> Any:
    """A value valid under ``schema`` (the subset of JSON Schema Inspect's
    ``JSONSchema`` expresses), quoting ``story`` for string arrays."""
    if schema.get("enum"):
        return rng.choice(schema["enum"])
    if schema.get("anyOf"):
        return instance_for(schema["anyOf"][0], rng, story, key)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: instance_for(sub, rng, story, name) for name, sub in props.items()}
    if kind == "array":
        item = schema.get("items") or {"type": "string"}
        cap = schema.get("maxItems", 2)
        if item.get("type") == "string":
            return _quotes(story, rng, min(1, cap))
        return [instance_for(item, rng, story, key) for _ in range(min(1, cap))]
    if kind == "integer":
        lo, hi = int(schema.get("minimum", 0)), int(schema.get("maximum", 10))
        return rng.randint(lo, hi)
    if kind == "number":
        lo, hi = float(schema.get("minimum", 0)), float(schema.get("maximum", 100))
        return round(rng.uniform(lo, hi), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return f"Offline judge note on {key or 'this item'}."


@modelapi(name="offline")
class OfflineModel(ModelAPI):
    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),
        latency: float = 0.0,
        malformed: float = 0.0,
        fail: float = 0.0,
        length_bias: float = 1.0,
        length_spread: float = 0.0,
        think: bool = False,
        noise: float | None = None,
        prefer_first: float | None = None,
        length_reward: float = 0.0,
        obey: bool = False,
        degrade: float = 0.0,
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        if model_args:
            raise ValueError(f"offline provider: unknown -M option(s) {sorted(model_args)}")
        if not (model_name.startswith("writer") or model_name.startswith("judge")):
            raise ValueError(f"offline provider has 'writer[-name]' and 'judge[-name]', not {model_name!r}")
        for opt, value in (("malformed", malformed), ("fail", fail)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"offline provider: -M {opt} must be a share in [0, 1]")
        try:
            self.degrade = float(degrade)
        except (TypeError, ValueError):
            self.degrade = math.nan
        if not 0.0 <= self.degrade <= 1.0:
            raise ValueError(f"offline provider: -M degrade must be a strength in [0, 1], not {degrade!r}")
        if self.degrade and not model_name.startswith("writer"):
            raise ValueError("offline provider: -M degrade is a writer option")
        self.latency = float(latency)
        self.malformed = float(malformed)
        self.fail = float(fail)
        self.length_bias = float(length_bias)
        self.length_spread = float(length_spread)
        if self.length_spread < 0:
            raise ValueError(f"offline provider: -M length_spread must be >= 0 (sd of log length), got {length_spread!r}")
        self.think = str(think).lower() in ("1", "true", "yes")
        options = {"prefer_first": prefer_first, "length_reward": length_reward, "obey": obey}
        if noise is not None:
            options["noise"] = noise
        # offline/judge always scores by judge_behaviour; a named judge only when asked
        self.shaped = model_name == "judge" or noise is not None or prefer_first is not None \
            or float(length_reward) != 0.0 or str(obey).lower() in ("1", "true", "yes")
        try:
            self.behaviour = JudgeBehaviour.from_options(**options)
        except ValueError as exc:
            raise ValueError(f"offline provider: -M {exc}") from exc

    def _noise_key(self, seed: int | None) -> object:
        return seed if self.model_name == "judge" else f"{self.model_name}|{seed}"

    def max_connections(self) -> int:
        return 64

    def connection_key(self) -> str:
        return f"offline/{self.model_name}"

    async def count_text_tokens(self, text: str) -> int:  # no tiktoken download
        return max(1, len(text) // 4)

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        prompt = _prompt_text(input)
        if self.model_name.startswith("writer"):
            return self._write(prompt, config)
        return self._judge(prompt, config)

    def _write(self, prompt: str, config: GenerateConfig) -> ModelOutput:
        name_factor = 0.9 + 0.2 * _rng(self.model_name).random()  # each writer its own habit
        # per writer and prompt, so each story's length is reproducible
        scatter = math.exp(self.length_spread * _rng(self.model_name, prompt, "length").gauss(0.0, 1.0))
        words = max(1, round(requested_words(prompt) * self.length_bias * name_factor * scatter))
        stop = "stop"
        if config.max_tokens is not None and words > config.max_tokens * WORDS_PER_TOKEN:
            words, stop = int(config.max_tokens * WORDS_PER_TOKEN), "max_tokens"
        text = write_story(self.model_name, prompt, words, self.degrade)
        tokens = math.ceil(words / WORDS_PER_TOKEN)
        if self.think:
            thought = "<think>Plan: a quiet story about memory.</think>\n"
            text = thought + text
            tokens += math.ceil(len(thought.split()) / WORDS_PER_TOKEN)
        output = ModelOutput.from_content(model=self.model_name, content=text, stop_reason=stop)
        output.usage = _usage(prompt, text, output_tokens=tokens)
        return output

    def _judge(self, prompt: str, config: GenerateConfig) -> ModelOutput:
        match = _STORY.search(prompt)
        story = match.group(1) if match else prompt
        rng = _judge_rng(self.model_name, story, config.seed)
        if rng.random() < self.fail:
            raise OfflineError("offline judge: simulated provider failure")
        if config.response_schema is None:
            text = "The offline judge needs a response schema to answer with JSON."
        else:
            schema = config.response_schema.json_schema.model_dump(exclude_none=True)
            reply = instance_for(schema, rng, story)
            if isinstance(reply, dict) and self.shaped:
                fill_scores(reply, schema, rubric_scores(prompt, story, schema, self._noise_key(config.seed), self.behaviour))
            text = json.dumps(reply)
            if rng.random() < self.malformed:
                text = "Here is my assessment: " + text[: len(text) // 2]
        output = ModelOutput.from_content(model=self.model_name, content=text)
        output.usage = _usage(prompt, text)
        return output
