"""A tiny random-weight model and a tokenizer trained at run time, for smoke runs and
tests on a CPU.

The model has the Qwen3.5 text architecture (``Qwen3_5ForCausalLM``: gated-delta-net
linear attention layers with a full attention layer) shrunk to a few layers, or Qwen3
(``architecture: qwen3``). Its weights are random; it writes noise, which is all a
smoke run needs. The tokenizer is a byte-level BPE trained with ``tokenizers`` on the
training texts, with a ChatML chat template that renders thinking the Qwen way
(``<think>`` ... ``</think>`` before the answer, ``enable_thinking`` switch), so the
HRI reference row and thinking penalties are exercised as with the real model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable

from polaris_bench.train.config import TinyModelConfig

log = logging.getLogger(__name__)

PAD = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

# ChatML with Qwen-style thinking, written for this project. An assistant turn with
# `reasoning_content` renders it in think tags; `enable_thinking=false` pre-fills an
# empty think block in the generation prompt.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['role'] == 'assistant' and message.get('reasoning_content') -%}"
    "{{- '<think>\\n' + message['reasoning_content'] + '\\n</think>\\n\\n' -}}"
    "{%- endif -%}"
    "{{- message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}"
    "{{- '<think>\\n\\n</think>\\n\\n' -}}"
    "{%- endif -%}"
    "{%- endif -%}"
)

_SEED_TEXT = (
    "Once upon a time a lighthouse keeper wrote letters to the sea. Every evening the fog "
    "came in, and every morning the harbor was quiet again. Write a story about a river, a "
    "market, a winter train, an orchard, a sister who keeps secrets. Your story should be "
    "approximately 800 words long. She opened the door; he said nothing. \"Why?\" she asked."
)


def build_tokenizer(texts: Iterable[str], vocab_size: int = 1024):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on ``texts``."""
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [_SEED_TEXT, *[t for t in texts if t]]
    tok.train_from_iterator(corpus, trainer=trainer)
    # Think tags are single tokens but not "special": decoding keeps them in the text,
    # as Qwen's tokenizers do, so the reward can find and strip the thinking.
    tok.add_tokens([AddedToken(THINK_OPEN, special=False), AddedToken(THINK_CLOSE, special=False)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=PAD,
        bos_token=None,
        unk_token=None,
        padding_side="left",
        truncation_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(tokenizer: Any, cfg: TinyModelConfig = TinyModelConfig()):
    """A random-weight causal LM sized by ``cfg`` for ``tokenizer``."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    torch.manual_seed(cfg.seed)
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        head_dim=cfg.head_dim,
        max_position_embeddings=cfg.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    arch = cfg.architecture
    if arch == "qwen3_5":
        try:
            from transformers import Qwen3_5TextConfig
        except ImportError:  # a transformers without Qwen3.5: the Qwen3 architecture instead
            log.warning("this transformers has no Qwen3.5; the tiny model uses the Qwen3 architecture")
            arch = "qwen3"
    if arch == "qwen3_5":
        # Three linear-attention layers to one full-attention layer, as in Qwen3.5,
        # ending on a full-attention layer.
        layers = [
            "full_attention" if (i + 1) % 4 == 0 or i == cfg.num_hidden_layers - 1 else "linear_attention"
            for i in range(cfg.num_hidden_layers)
        ]
        config = Qwen3_5TextConfig(
            **common,
            layer_types=layers,
            linear_key_head_dim=cfg.head_dim,
            linear_value_head_dim=cfg.head_dim,
            linear_num_key_heads=max(1, cfg.num_key_value_heads),
            linear_num_value_heads=cfg.num_attention_heads,
        )
    else:
        from transformers import Qwen3Config

        config = Qwen3Config(**common)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    return model


def build_tiny(texts: Iterable[str], cfg: TinyModelConfig, save_dir: str | Path | None = None):
    """Tokenizer and model; when ``save_dir`` holds a saved pair it is reused (a resumed
    run gets exactly the tokenizer it started with), else the new pair is saved there."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if cfg.cpu_threads is not None and not torch.cuda.is_available():
        torch.set_num_threads(cfg.cpu_threads)
    if save_dir is not None and (Path(save_dir) / "config.json").exists():
        tokenizer = AutoTokenizer.from_pretrained(save_dir)
        model = AutoModelForCausalLM.from_pretrained(save_dir)
        return tokenizer, model
    tokenizer = build_tokenizer(texts, cfg.vocab_size)
    model = build_model(tokenizer, cfg)
    if save_dir is not None:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        tokenizer.save_pretrained(save_dir)
        model.save_pretrained(save_dir)
    return tokenizer, model
