"""Decoding for any Hugging Face causal LM, optionally constrained to a JSON schema.

The constraint comes from llguidance: the schema is compiled into a grammar over the
model's tokenizer, and before each step a bitmask says which tokens keep the output a
valid prefix of some document that validates against the schema. Masked tokens get
``-inf`` logits, so whatever is sampled stays valid, and once the document is complete
the grammar allows only end-of-sequence.

Tokens the grammar forces (keys, quotes, ``": "``) are "fast-forwarded": they are
appended without sampling and fed to the model together in one forward pass. For a
flat object of scores most of the reply is forced, so this saves most forward passes.

The decoding loop keeps the model's KV cache between steps (``past_key_values``), runs
one sequence at a time and is meant for CPU or a single GPU.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import llguidance
import llguidance.hf
import numpy as np
import torch

# Compact JSON: no free whitespace (a small model may otherwise emit newlines forever),
# the usual separators. A schema can still override these through "x-guidance".
JSON_OPTIONS: dict[str, Any] = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
}


class SchemaError(ValueError):
    """The JSON schema cannot be compiled into a grammar."""


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 512
    temperature: float | None = None  # None or 0: greedy
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    stop: Sequence[str] = ()
    fast_forward: bool = True


@dataclass
class DecodeResult:
    text: str
    token_ids: list[int]
    input_tokens: int
    output_tokens: int
    stop_reason: str  # "stop" (EOS, grammar complete or stop string) or "max_tokens"
    forward_passes: int
    forced_tokens: int
    seconds: float
    prefill_seconds: float  # the first forward pass (the whole prompt)
    complete: bool  # for a constrained decode: the output is a complete document
    extra: dict[str, Any] = field(default_factory=dict)


def compile_schema(schema: dict[str, Any] | str, options: dict[str, Any] | None = None) -> str:
    """The llguidance grammar for a JSON schema (raises SchemaError if it is invalid)."""
    opts = dict(JSON_OPTIONS, **(options or {}))
    try:
        grammar = llguidance.LLMatcher.grammar_from_json_schema(schema, defaults=opts)  # type: ignore[arg-type]
    except ValueError as exc:
        raise SchemaError(f"not a JSON schema: {exc}") from exc
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    if is_error:
        raise SchemaError(f"unsupported JSON schema: {messages[0] if messages else 'unknown error'}")
    return grammar


# keywords whose values are JSON data, not schemas; and those mapping names to schemas
_VALUE_KEYS = frozenset({"enum", "const", "default", "examples", "required"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


def tighten_schema(
    schema: Any, max_string_length: int | None = None, max_array_items: int | None = None
) -> Any:
    """A copy of ``schema`` with ``maxLength`` on unbounded strings and ``maxItems`` on
    unbounded arrays. Only narrows it, so a reply that validates against the copy
    validates against the original; keeps a small model from spending its whole token
    budget inside one string."""
    if isinstance(schema, list):
        return [tighten_schema(item, max_string_length, max_array_items) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _VALUE_KEYS:
            out[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: tighten_schema(sub, max_string_length, max_array_items) for name, sub in value.items()}
        else:
            out[key] = tighten_schema(value, max_string_length, max_array_items)
    types = out.get("type")
    type_set = {t for t in types if isinstance(t, str)} if isinstance(types, list) else {str(types)}
    free_string = not any(k in out for k in ("maxLength", "enum", "const", "pattern", "format"))
    if max_string_length is not None and "string" in type_set and free_string:
        out["maxLength"] = max(max_string_length, int(out.get("minLength", 0)))
    if max_array_items is not None and "array" in type_set and "maxItems" not in out:
        out["maxItems"] = max(max_array_items, int(out.get("minItems", 0)))
    return out


def eos_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """End-of-sequence ids: the model's generation config, else the tokenizer's."""
    ids: list[int] = []
    gen_cfg = getattr(model, "generation_config", None)
    raw = getattr(gen_cfg, "eos_token_id", None) if gen_cfg is not None else None
    if raw is None:
        raw = tokenizer.eos_token_id
    if isinstance(raw, int):
        ids = [raw]
    elif raw is not None:
        ids = [int(i) for i in raw]
    return ids


class SchemaConstraint:
    """A compiled JSON-schema grammar for one tokenizer; makes a fresh matcher per reply.

    Building the llguidance tokenizer costs about a second, so keep one per model
    (``TokenizerIndex``) and compile grammars against it."""

    def __init__(self, index: TokenizerIndex, grammar: str) -> None:
        self.index = index
        self.grammar = grammar

    def matcher(self) -> llguidance.LLMatcher:
        m = llguidance.LLMatcher(self.index.ll_tokenizer, self.grammar, log_level=0)
        if m.is_error():
            raise SchemaError(f"grammar rejected: {m.get_error()}")
        return m


class TokenizerIndex:
    """llguidance's view of a Hugging Face tokenizer (built once per model)."""

    def __init__(self, tokenizer: Any, eos_ids: Sequence[int], vocab_size: int | None = None) -> None:
        n_vocab = max(vocab_size or 0, len(tokenizer))
        self.ll_tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=n_vocab, eos_token=list(eos_ids) or None)
        self.vocab_size = self.ll_tokenizer.vocab_size
        self.words = (self.vocab_size + 31) // 32

    def constraint(self, schema: dict[str, Any] | str, options: dict[str, Any] | None = None) -> SchemaConstraint:
        return SchemaConstraint(self, compile_schema(schema, options))


@dataclass(frozen=True)
class ForwardSpec:
    """How this model's ``forward`` takes the KV cache (``cache`` in transformers 5.x,
    ``past_key_values`` before) and whether it can skip logits of the prompt."""

    cache_arg: str
    logits_to_keep: bool

    @classmethod
    def of(cls, model: Any) -> ForwardSpec:
        params = inspect.signature(model.forward).parameters
        cache_arg = "cache" if "cache" in params else "past_key_values"
        return cls(cache_arg=cache_arg, logits_to_keep="logits_to_keep" in params)


def _returned_cache(result: Any) -> Any:
    cache = getattr(result, "cache", None)
    return cache if cache is not None else getattr(result, "past_key_values", None)


def allowed_mask(matcher: llguidance.LLMatcher, words: int, width: int) -> torch.Tensor:
    """Bool tensor [width]: tokens the grammar allows next."""
    bits = np.empty(words, dtype=np.int32)
    matcher.unsafe_compute_mask_ptr(bits.ctypes.data, bits.nbytes)
    allowed = np.unpackbits(bits.view(np.uint8), bitorder="little").astype(bool)
    if allowed.size >= width:
        allowed = allowed[:width]
    else:  # logits wider than the tokenizer: padded vocabulary rows are never allowed
        allowed = np.concatenate([allowed, np.zeros(width - allowed.size, dtype=bool)])
    return torch.from_numpy(allowed)


def _sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None) -> int:
    """One token from a [vocab] float tensor (already masked)."""
    if not params.temperature:
        return int(torch.argmax(logits).item())
    logits = logits.float() / params.temperature
    if params.top_k:
        kth = torch.topk(logits, min(params.top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if params.top_p is not None and 0 < params.top_p < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < params.top_p
        sorted_probs = torch.where(keep, sorted_probs, torch.zeros_like(sorted_probs))
        probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
    return int(torch.multinomial(probs, 1, generator=generator).item())


def _hit_stop(text: str, stop: Sequence[str]) -> int | None:
    """Index where the earliest stop string starts, if any."""
    hits = [i for s in stop if s and (i := text.find(s)) >= 0]
    return min(hits) if hits else None


@torch.inference_mode()
def decode(
    model: Any,
    tokenizer: Any,
    input_ids: Sequence[int],
    params: SamplingParams,
    constraint: SchemaConstraint | None = None,
    eos_ids: Sequence[int] | None = None,
    forward_spec: ForwardSpec | None = None,
) -> DecodeResult:
    """Generate a reply to ``input_ids`` (one prompt), constrained when ``constraint`` is set."""
    start = time.perf_counter()
    eos = set(eos_ids if eos_ids is not None else eos_token_ids(model, tokenizer))
    fwd = forward_spec or ForwardSpec.of(model)
    device = next(model.parameters()).device
    generator: torch.Generator | None = None
    if params.temperature and params.seed is not None:
        generator = torch.Generator(device="cpu").manual_seed(params.seed)
    matcher = constraint.matcher() if constraint is not None else None

    prompt = list(input_ids)
    out_ids: list[int] = []
    feed = prompt
    past: Any = None
    passes = forced = 0
    prefill_seconds = 0.0
    stop_reason = "max_tokens"
    while len(out_ids) < params.max_new_tokens:
        seen = len(prompt) + len(out_ids)
        kwargs: dict[str, Any] = {fwd.cache_arg: past}
        if fwd.logits_to_keep:
            kwargs["logits_to_keep"] = 1
        result = model(
            input_ids=torch.tensor([feed], device=device),
            attention_mask=torch.ones((1, seen), dtype=torch.long, device=device),
            use_cache=True,
            **kwargs,
        )
        passes += 1
        if passes == 1:
            prefill_seconds = time.perf_counter() - start
        past = _returned_cache(result)
        logits = result.logits[0, -1, :].float().cpu()
        if matcher is not None:
            mask = allowed_mask(matcher, constraint.index.words, logits.numel())  # type: ignore[union-attr]
            logits = logits.masked_fill(~mask, float("-inf"))
        token = _sample(logits, params, generator)
        if token in eos:
            stop_reason = "stop"
            break
        step = [token]
        if matcher is not None:
            if not matcher.consume_token(token):
                raise RuntimeError(f"grammar rejected token {token}: {matcher.get_error()}")
            if params.fast_forward and not matcher.is_stopped():
                room = params.max_new_tokens - len(out_ids) - 1
                ff = matcher.compute_ff_tokens()[: max(room, 0)]
                if ff and matcher.consume_tokens(ff):
                    step += ff
                    forced += len(ff)
        out_ids += step
        if params.stop:
            text = tokenizer.decode(out_ids, skip_special_tokens=True)
            if _hit_stop(text, params.stop) is not None:
                stop_reason = "stop"
                break
        if matcher is not None and matcher.is_stopped():
            stop_reason = "stop"
            break
        feed = step

    text = tokenizer.decode(out_ids, skip_special_tokens=True)
    if params.stop:
        cut = _hit_stop(text, params.stop)
        if cut is not None:
            text = text[:cut]
    complete = matcher.is_accepting() if matcher is not None else stop_reason == "stop"
    return DecodeResult(
        text=text,
        token_ids=out_ids,
        input_tokens=len(prompt),
        output_tokens=len(out_ids),
        stop_reason=stop_reason,
        forward_passes=passes,
        forced_tokens=forced,
        seconds=time.perf_counter() - start,
        prefill_seconds=prefill_seconds,
        complete=complete,
    )


def schema_from_response_schema(response_schema: Any) -> dict[str, Any]:
    """An Inspect ``ResponseSchema`` (or a plain dict / JSON string) as a JSON-schema dict."""
    if isinstance(response_schema, str):
        loaded = json.loads(response_schema)
        if not isinstance(loaded, dict):
            raise SchemaError("the JSON schema must be an object")
        return loaded
    if isinstance(response_schema, dict):
        return response_schema
    json_schema = getattr(response_schema, "json_schema", response_schema)
    if hasattr(json_schema, "model_dump"):
        return json_schema.model_dump(exclude_none=True, by_alias=True)  # type: ignore[no-any-return]
    raise SchemaError(f"cannot read a JSON schema from {type(response_schema).__name__}")
