"""Typed training configuration, loaded from one YAML file.

A recipe file has six sections::

    model:  what to train (a Hugging Face id / local dir, or a tiny model built at run time)
    data:   the training file (JSONL or parquet) and prompt filtering
    judge:  the Inspect model that judges stories, and how it is called
    reward: the composite reward's weights and shaping terms
    hri:    human-reference injection (on/off, ramp, thinking template)
    grpo:   keyword arguments for TRL's ``GRPOConfig`` (validated by TRL itself)

Every section is a pydantic model that rejects unknown keys, so a typo fails at load
time with the file name and the key, not halfway through a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class TrainConfigError(ValueError):
    """A recipe file that cannot be used; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TinyModelConfig(_Strict):
    """A few-layer model with random weights and a tokenizer trained at run time on the
    training texts: for smoke runs and tests, not for learning anything."""

    architecture: Literal["qwen3_5", "qwen3"] = "qwen3_5"
    vocab_size: int = Field(1024, ge=300)
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 16
    max_position_embeddings: int = 4096
    seed: int = 0
    # Torch CPU threads: one is fastest for a model this small, and it does not fight
    # other processes for the cores. None leaves torch's default.
    cpu_threads: int | None = 1


class ModelSection(_Strict):
    name_or_path: str | None = None
    tiny: TinyModelConfig | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    trust_remote_code: bool = False
    # Passed to the chat template (e.g. {enable_thinking: true} for Qwen3.5).
    chat_template_kwargs: dict[str, Any] = {}

    @model_validator(mode="after")
    def _one_source(self) -> "ModelSection":
        if (self.name_or_path is None) == (self.tiny is None):
            raise ValueError("set exactly one of model.name_or_path and model.tiny")
        return self


class DataSection(_Strict):
    train: str
    # Prompts longer than this many tokens (after the chat template) are dropped, as
    # the paper's filter_overlong_prompts does. None keeps every prompt.
    max_prompt_tokens: int | None = None
    limit: int | None = Field(None, ge=1)  # use only the first N rows


class JudgeSection(_Strict):
    """The judge is any Inspect model: ``openai/...``, ``google/...``, ``vllm/...``,
    or ``offline/judge`` for tests and smoke runs."""

    model: str
    model_args: dict[str, Any] = {}  # Inspect -M options (e.g. latency for offline/judge)
    base_url: str | None = None
    rubric: str = "story_quality"
    max_attempts: int = Field(3, ge=1)
    compact: bool = False
    seed: int = 1234
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    # Judge calls of one step in flight at once (also Inspect's max_connections).
    concurrency: int = Field(64, ge=1)
    timeout_s: float | None = Field(None, gt=0)  # per judged story, all attempts


class ThinkingPenalty(_Strict):
    """Thinking tokens beyond ``cap_tokens`` cost ``per_token`` each (the paper: 3,072
    and 0.05). TRL rewards are per sequence, so the per-token costs are summed;
    ``max_penalty`` bounds the sum (None: unbounded)."""

    enabled: bool = True
    cap_tokens: int = 3072
    per_token: float = 0.05
    max_penalty: float | None = 1.0


class OverlongPenalty(_Strict):
    """DAPO's soft overlong punishment: 0 up to ``max_length - buffer_tokens``, then a
    linear ramp to ``factor`` at ``max_length`` (default: GRPO's max_completion_length)."""

    enabled: bool = True
    buffer_tokens: int = 512
    factor: float = 1.0
    max_length: int | None = None


class RewardSection(_Strict):
    """R = w_sq*SQ - w_rep*self_rep - w_len*length_pen - w_blank*blank, clipped to
    [-clip, clip]; then minus the thinking and overlong shaping terms."""

    sq_weight: float = 1.0
    self_rep_weight: float = 1.5
    length_weight: float = 0.8
    blank_weight: float = 1.0
    clip: float = 2.0
    word_count: Literal["paper", "longwriter"] = "paper"
    thinking: ThinkingPenalty = ThinkingPenalty()
    overlong: OverlongPenalty = OverlongPenalty()


class HRISection(_Strict):
    """Human-reference injection: the last of the G slots of every group whose prompt
    has a reference story is that story, teacher-forced."""

    enabled: bool = True
    peak_weight: float = Field(0.4, ge=0)
    warmup_steps: int = Field(15, ge=0)  # weight ramps 0 -> peak over these steps
    eps: float = Field(1e-4, gt=0)  # (r_ref - mean) / (std + eps)
    use_reasoning: bool = True  # put the row's reasoning in think tags before the story
    # Used when the chat template cannot render the reference as an assistant turn.
    think_format: str = "<think>\n{reasoning}\n</think>\n\n{story}"

    @model_validator(mode="after")
    def _format(self) -> "HRISection":
        if "{story}" not in self.think_format or "{reasoning}" not in self.think_format:
            raise ValueError("hri.think_format must contain {reasoning} and {story}")
        return self


class PolarisTrainConfig(_Strict):
    model: ModelSection
    data: DataSection
    judge: JudgeSection
    reward: RewardSection = RewardSection()
    hri: HRISection = HRISection()
    grpo: dict[str, Any] = {}
    # "auto": resume from the newest checkpoint in grpo.output_dir if there is one;
    # a path: resume from that checkpoint; None: start fresh.
    resume: str | None = "auto"
    # Written into the output dir next to TRL's checkpoints.
    metrics_file: str = "metrics.jsonl"
    hri_rows_file: str = "hri_rows.jsonl"
    source_path: str | None = Field(default=None, exclude=True)

    @property
    def output_dir(self) -> Path:
        return Path(self.grpo.get("output_dir", "outputs/polaris"))

    def resolve(self, path: str) -> Path:
        """A path from the file, relative to the directory the command runs in, or to
        the recipe's directory when it exists only there."""
        p = Path(path)
        if p.is_absolute() or p.exists() or self.source_path is None:
            return p
        beside = Path(self.source_path).parent / p
        return beside if beside.exists() else p


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None) -> PolarisTrainConfig:
    """Load and validate a recipe; ``overrides`` maps dotted keys to values
    (``{"grpo.max_steps": 2}``)."""
    path = Path(path)
    if not path.exists():
        raise TrainConfigError(f"{path}: training config not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise TrainConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise TrainConfigError(f"{path}: a training config must be a mapping at the top level")
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise TrainConfigError(f"override {dotted!r}: {key!r} is not a section")
        node[leaf] = value
    try:
        return PolarisTrainConfig.model_validate(data | {"source_path": str(path)})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}" for err in exc.errors()
        )
        raise TrainConfigError(f"{path}: invalid training config: {problems}") from exc
