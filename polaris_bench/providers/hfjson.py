"""``hfjson/<path>``: an Inspect provider for local Hugging Face causal LMs whose replies
follow ``GenerateConfig.response_schema``.

Inspect's built-in ``hf/`` provider ignores ``response_schema``; this one compiles the
schema with llguidance and masks every decoding step (see ``constrained.py``), so a
reply that finishes within ``max_tokens`` always validates. Without a schema it
generates freely. It reports exact token usage from the model's own tokenizer, so
Inspect never needs tiktoken.

Model args (``-M`` on the CLI, ``model_args`` in Python):

* ``device``: ``cpu`` (default when no GPU), ``cuda``, ``cuda:1``, ``mps``
* ``dtype``: ``auto`` (as saved; default), ``float32``, ``bfloat16``, ``float16``
* ``threads``: torch CPU threads (default: torch's choice, one per core)
* ``tokenizer_path``: when the tokenizer is not next to the weights
* ``chat_template``: a Jinja template that replaces the tokenizer's own
* ``fast_forward``: append grammar-forced tokens without sampling (default true)
* ``max_string_length`` / ``max_array_items``: add ``maxLength`` / ``maxItems`` to
  strings / arrays of the response schema that have none (default: off), so a small
  model cannot spend its whole budget in one string
* ``trust_remote_code``: default false

Generation honours ``max_tokens``, ``temperature`` (unset or 0: greedy), ``top_p``,
``top_k``, ``seed`` and ``stop_seqs``. Requests run one at a time (``max_connections``
is 1): on a CPU one sequence already uses every core.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import anyio
import torch
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
)
from inspect_ai.tool import ToolChoice, ToolInfo
from transformers import AutoModelForCausalLM, AutoTokenizer

from polaris_bench.providers.constrained import (
    DecodeResult,
    ForwardSpec,
    SamplingParams,
    SchemaConstraint,
    TokenizerIndex,
    decode,
    eos_token_ids,
    schema_from_response_schema,
    tighten_schema,
)

DEFAULT_MAX_TOKENS = 1024


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _resolve_dtype(value: Any) -> Any:
    if value is None or value == "auto":
        return "auto"
    if isinstance(value, torch.dtype):
        return value
    dtype = getattr(torch, str(value), None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown dtype {value!r}; use auto, float32, bfloat16 or float16")
    return dtype


def _default_device() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class HFJsonAPI(ModelAPI):
    """Local Hugging Face causal LM with JSON-schema-constrained decoding."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),
        **model_args: Any,
    ) -> None:
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        args = dict(model_args)
        device = str(args.pop("device", None) or _default_device())
        dtype = _resolve_dtype(args.pop("dtype", None))
        threads = args.pop("threads", None)
        tokenizer_path = args.pop("tokenizer_path", None) or model_name
        self.chat_template: str | None = args.pop("chat_template", None)
        self.fast_forward = _as_bool(args.pop("fast_forward", None), True)
        max_string = args.pop("max_string_length", None)
        max_items = args.pop("max_array_items", None)
        self.max_string_length = int(max_string) if max_string is not None else None
        self.max_array_items = int(max_items) if max_items is not None else None
        trust_remote_code = _as_bool(args.pop("trust_remote_code", None), False)
        if threads is not None:
            torch.set_num_threads(int(threads))

        self.tokenizer: Any = AutoTokenizer.from_pretrained(tokenizer_path, trust_remote_code=trust_remote_code)
        model: Any = AutoModelForCausalLM.from_pretrained(
            model_name, dtype=dtype, trust_remote_code=trust_remote_code, **args
        )
        self.model: Any = model.to(device).eval()
        self.device = device
        self.eos_ids = eos_token_ids(self.model, self.tokenizer)
        self.forward_spec = ForwardSpec.of(self.model)
        self.context_length: int | None = getattr(self.model.config, "max_position_embeddings", None)
        self._index: TokenizerIndex | None = None
        self._constraints: dict[str, SchemaConstraint] = {}
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- Inspect hooks

    def max_tokens(self) -> int | None:
        return DEFAULT_MAX_TOKENS

    def max_connections(self) -> int:
        return 1

    def connection_key(self) -> str:
        return f"hfjson:{self.model_name}"

    def collapse_user_messages(self) -> bool:
        return True

    async def count_text_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    async def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def close(self) -> None:
        self.model = None
        self._constraints.clear()

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        if tools:
            raise NotImplementedError("the hfjson provider does not support tools")
        prompt_ids = self.encode_chat(input)
        max_new = config.max_tokens or DEFAULT_MAX_TOKENS
        if self.context_length:
            room = self.context_length - len(prompt_ids)
            if room <= 0:
                return self._output(
                    "", len(prompt_ids), 0, "model_length",
                    error=f"prompt of {len(prompt_ids)} tokens exceeds the context of {self.context_length}",
                )
            max_new = min(max_new, room)
        params = SamplingParams(
            max_new_tokens=max_new,
            temperature=config.temperature,
            top_p=config.top_p,
            top_k=config.top_k,
            seed=config.seed,
            stop=tuple(config.stop_seqs or ()),
            fast_forward=self.fast_forward,
        )
        result = await anyio.to_thread.run_sync(self._decode, prompt_ids, params, config.response_schema)
        return self._output(
            result.text, result.input_tokens, result.output_tokens, result.stop_reason,
            seconds=result.seconds,
            metadata={
                "prefill_seconds": round(result.prefill_seconds, 3),
                "forward_passes": result.forward_passes,
                "forced_tokens": result.forced_tokens,
                "constrained": config.response_schema is not None,
                "complete": result.complete,
            },
        )

    # --------------------------------------------------------------------- helpers

    def encode_chat(self, messages: list[ChatMessage]) -> list[int]:
        """Prompt token ids: the chat template when there is one (it carries its own
        special tokens), else ``role: content`` lines."""
        chat = [{"role": m.role, "content": m.text} for m in messages]
        template = self.chat_template or self.tokenizer.chat_template
        if template:
            text = self.tokenizer.apply_chat_template(
                chat, chat_template=template, add_generation_prompt=True, tokenize=False
            )
            return list(self.tokenizer.encode(text, add_special_tokens=False))
        text = "".join(f"{m['role']}: {m['content']}\n" for m in chat) + "assistant: "
        return list(self.tokenizer.encode(text))

    def constraint_for(self, response_schema: Any) -> SchemaConstraint:
        """Compiled grammar for a schema, cached by the schema's JSON text."""
        schema = tighten_schema(
            schema_from_response_schema(response_schema), self.max_string_length, self.max_array_items
        )
        key = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
        if key not in self._constraints:
            if self._index is None:
                vocab = getattr(self.model.config, "vocab_size", None)
                self._index = TokenizerIndex(self.tokenizer, self.eos_ids, vocab)
            self._constraints[key] = self._index.constraint(schema)
        return self._constraints[key]

    def _decode(self, prompt_ids: list[int], params: SamplingParams, response_schema: Any) -> DecodeResult:
        """Runs in a worker thread; one decode at a time per model."""
        with self._lock:
            constraint = self.constraint_for(response_schema) if response_schema is not None else None
            return decode(
                self.model, self.tokenizer, prompt_ids, params, constraint,
                eos_ids=self.eos_ids, forward_spec=self.forward_spec,
            )

    def _output(
        self,
        text: str,
        input_tokens: int,
        output_tokens: int,
        stop_reason: Any,
        *,
        seconds: float | None = None,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ModelOutput:
        return ModelOutput(
            model=self.model_name,
            choices=[
                ChatCompletionChoice(
                    message=ChatMessageAssistant(content=text, model=self.model_name, source="generate"),
                    stop_reason=stop_reason,
                )
            ],
            usage=ModelUsage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                total_tokens=input_tokens + output_tokens,
            ),
            time=seconds,
            error=error,
            metadata=metadata,
        )
