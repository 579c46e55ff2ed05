"""Typed training configuration, loaded from one YAML file.

A recipe file has six sections::

    model:  what to train (a Hugging Face id / local dir, or a tiny model built at run time)
    data:   the training file (JSONL or parquet) and prompt filtering
    judge:  the Inspect model that judges stories, and how it is called
    reward: the composite reward's weights and shaping terms
    hri:    human-reference injection (on/off, ramp, thinking template)
    grpo:   keyword arguments for TRL's ``GRPOConfig``

Every section is a pydantic model that rejects unknown keys, and the ``grpo:`` keys are
checked against ``GRPOConfig``'s fields (``grpo_keys``), so a typo fails at load time,
before torch or a model is loaded, with one line naming the file and the key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS, DEFAULT_JUDGE_SEED


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
    # Columns of the training file that are neither read nor known metadata; any other
    # unknown column is an error (a misspelt `story` would silently turn HRI off).
    ignore_columns: list[str] = []


class JudgeSection(_Strict):
    """The judge is any Inspect model: ``openai/...``, ``google/...``, ``vllm/...``,
    or ``offline/judge`` for tests and smoke runs."""

    model: str
    model_args: dict[str, Any] = {}  # Inspect -M options (e.g. latency for offline/judge)
    base_url: str | None = None
    rubric: str = "story_quality"
    max_attempts: int = Field(DEFAULT_JUDGE_ATTEMPTS, ge=1)
    compact: bool = False
    seed: int = DEFAULT_JUDGE_SEED
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    # Judge calls of one step in flight at once (also Inspect's max_connections).
    concurrency: int = Field(64, ge=1)
    timeout_s: float | None = Field(None, gt=0)  # per judged story, all attempts


class ThinkingPenalty(_Strict):
    """Thinking tokens beyond ``cap_tokens`` cost ``per_token`` each (the paper: 3,072
    and 0.05). TRL rewards are per sequence, so the per-token costs are summed.

    The defaults are the authors' code: the closing ``</think>`` token is one of the
    thinking tokens, the sum has no bound, and a completion that never closes its think
    block has no thinking tokens (the code finds the thinking by its ``</think>``).
    ``max_penalty`` bounds the sum; ``count_unclosed: true`` charges every token of an
    unclosed block (from ``<think>`` to the end)."""

    enabled: bool = True
    cap_tokens: int = Field(3072, ge=0)
    per_token: float = 0.05
    max_penalty: float | None = Field(None, ge=0)
    count_close_tag: bool = True
    count_unclosed: bool = False


class OverlongPenalty(_Strict):
    """DAPO's soft overlong punishment: 0 up to ``max_length - buffer_tokens``, then a
    linear ramp to ``factor`` at ``max_length`` (default: GRPO's max_completion_length).

    ``apply_to: truncated`` (the default, the authors' code) charges it only to a
    completion that did not end with an end-of-sequence token, i.e. one cut off at the
    limit (in practice the full ``factor``); ``apply_to: all`` is DAPO's rule as
    published, which charges every completion by its length, finished or not."""

    enabled: bool = True
    buffer_tokens: int = Field(512, ge=0)
    factor: float = 1.0
    max_length: int | None = None
    apply_to: Literal["truncated", "all"] = "truncated"


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


def _suggest(key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _section_model(loc: tuple[Any, ...]) -> Any:
    """The pydantic model that owns the last key of ``loc`` (for suggestions)."""
    model: Any = PolarisTrainConfig
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        model = field.annotation
        # X | None: take X
        args = [a for a in getattr(model, "__args__", ()) if a is not type(None)]
        if args:
            model = args[0]
    return model


def _describe(err: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    where = ".".join(str(p) for p in loc) or "<top>"
    if err["type"] == "extra_forbidden":
        owner = _section_model(loc)
        known = getattr(owner, "model_fields", {}) if owner is not None else {}
        return f"{where}: unknown key{_suggest(str(loc[-1]), known)}"
    return f"{where}: {err['msg']}"


def check_grpo_keys(grpo: dict[str, Any], path: Path) -> None:
    """Every ``grpo:`` key must be a ``GRPOConfig`` field (without importing TRL)."""
    from polaris_bench.train.grpo_keys import grpo_config_fields

    if not grpo:
        return
    try:
        known = grpo_config_fields()
    except ModuleNotFoundError as exc:
        raise TrainConfigError(f"{path}: {exc}") from None
    unknown = [k for k in grpo if k not in known]
    if unknown:
        bad = ", ".join(f"grpo.{k}{_suggest(k, known)}" for k in unknown)
        raise TrainConfigError(f"{path}: unknown key {bad}: not a field of TRL's GRPOConfig")


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None) -> PolarisTrainConfig:
    """Load and validate a recipe; ``overrides`` maps dotted keys to values
    (``{"grpo.max_steps": 2}``). Every problem is one line naming the file and the key."""
    path = Path(path)
    if not path.exists():
        raise TrainConfigError(f"{path}: training config not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise TrainConfigError(f"{path}: not valid YAML: {detail}") from exc
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
        cfg = PolarisTrainConfig.model_validate(data | {"source_path": str(path)})
    except ValidationError as exc:
        problems = "; ".join(_describe(err) for err in exc.errors())
        raise TrainConfigError(f"{path}: invalid training config: {problems}") from None
    check_grpo_keys(cfg.grpo, path)
    return cfg
