"""Typed training configuration, loaded from one YAML file.

A recipe file has six sections (and an optional seventh, ``eval:``)::

    model:  what to train (a Hugging Face id / local dir, or a tiny model built at run time)
    data:   the training file (JSONL or parquet) and prompt filtering
    judge:  the Inspect model that judges stories, and how it is called
    reward: the composite reward's weights and shaping terms
    hri:    human-reference injection (on/off, ramp, thinking template)
    grpo:   keyword arguments for TRL's ``GRPOConfig``
    eval:   checkpoint evaluation during training: held-out prompts and judges, alarms

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
from polaris_bench.paths import DEFAULT_DB


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
    def _one_source(self) -> ModelSection:
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
    def _format(self) -> HRISection:
        if "{story}" not in self.think_format or "{reasoning}" not in self.think_format:
            raise ValueError("hri.think_format must contain {reasoning} and {story}")
        return self


class HeldOutJudge(_Strict):
    """A held-out judge: any Inspect model, with its ``-M`` arguments."""

    model: str = Field(description="Inspect model string, e.g. google/gemini-3-flash-preview or offline/judge-a.")
    model_args: dict[str, Any] = Field({}, description="Inspect -M arguments for this judge.")
    base_url: str | None = Field(None, description="Base URL of the judge's API (e.g. a local vLLM server).")


class AlarmSection(_Strict):
    """When the trainer raises an alarm (a WARNING, ``alarm/*`` metrics, and the
    ``alarms`` column of the store's ``training_evals``)."""

    consecutive: int = Field(
        2, ge=1,
        description="K: alarm when the training judge's score rose and the held-out panel's did not "
        "(fell or stayed) over K consecutive evaluations.",
    )
    min_rise: float = Field(
        0.0, ge=0,
        description="How much (SQ points, 0-100) the training judge's mean must rise between two "
        "evaluations to count as rising.",
    )
    length_ratio_band: tuple[float, float] = Field(
        (0.5, 1.5),
        description="Alarm when the evaluation's mean length ratio (words / requested) leaves [low, high].",
    )
    repetition_max: float = Field(
        0.3, ge=0,
        description="Alarm when the evaluation's mean self-repetition (paper metric, 0-1) exceeds this.",
    )

    @model_validator(mode="after")
    def _band(self) -> AlarmSection:
        low, high = self.length_ratio_band
        if not 0 <= low < high:
            raise ValueError(f"eval.alarm.length_ratio_band must be [low, high] with 0 <= low < high, got {list(self.length_ratio_band)}")
        return self


class EvalSection(_Strict):
    """Checkpoint evaluation during training: every ``every_steps`` optimizer steps and at
    the last step, the current policy writes for held-out prompts through the
    ``length_gen`` Inspect task; the held-out judges and the training judge judge every
    story (one panel), and the log is ingested into the results store with the run id
    and step."""

    every_steps: int = Field(
        ..., ge=1,
        description="Evaluate the policy every N optimizer steps (a checkpoint is saved at each of these steps), "
        "and at the last step.",
    )
    at_start: bool = Field(True, description="Also evaluate the initial policy (step 0), the baseline of the alarms.")
    judges: list[HeldOutJudge] = Field(
        ..., min_length=1,
        description="Held-out judges (model strings or {model, model_args, base_url}); each must differ from the "
        "training judge and from one another.",
    )
    prompts: str = Field(
        "8",
        description="length_gen -T prompts: N (the first N embedded prompts), comma-separated ids, or a JSONL file.",
    )
    targets: list[int] | None = Field(
        None,
        description="Requested lengths in words; default: the median and the longest training target, "
        "and 1.5 x the longest (beyond the training length).",
    )
    max_tokens: int | None = Field(
        None, ge=1, description="length_gen -T max_tokens: a fixed generation limit (default: sized from each target)."
    )
    model_args: dict[str, Any] = Field(
        {}, description="Inspect hf provider -M arguments for the policy (e.g. {device: cuda:0, torch_dtype: bfloat16})."
    )
    generate: dict[str, Any] = Field(
        {}, description="Inspect GenerateConfig fields for the policy's writing (e.g. {temperature: 1.0, top_p: 0.95})."
    )
    probe: bool = Field(True, description="Call every judge once at start (a short reply); one that fails stops the run.")
    db: str | None = Field(
        None, description="Results store for the evaluations (default: the recipe's top-level store)."
    )
    log_dir: str = Field("eval_logs", description="Inspect logs of the evaluations, relative to the output dir.")
    alarm: AlarmSection = AlarmSection()

    @model_validator(mode="before")
    @classmethod
    def _judge_strings(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("judges"), list):
            data = dict(data)
            data["judges"] = [{"model": j} if isinstance(j, str) else j for j in data["judges"]]
        if isinstance(data, dict) and isinstance(data.get("prompts"), int):
            data = dict(data) | {"prompts": str(data["prompts"])}
        return data

    @model_validator(mode="after")
    def _distinct(self) -> EvalSection:
        names = [j.model for j in self.judges]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"judges names {', '.join(twice)} more than once")
        if self.targets is not None and (not self.targets or any(t <= 0 for t in self.targets)):
            raise ValueError(f"targets must be positive word counts, got {self.targets}")
        return self


class PolarisTrainConfig(_Strict):
    model: ModelSection
    data: DataSection
    judge: JudgeSection
    reward: RewardSection = RewardSection()
    hri: HRISection = HRISection()
    grpo: dict[str, Any] = {}
    eval: EvalSection | None = None
    # The results store: the training judge's audit is looked up there at start, and
    # checkpoint evaluations are ingested there.
    store: str = str(DEFAULT_DB)
    # An unaudited training judge, or one whose audit is flagged for injection or
    # padding, stops the run instead of a warning (--require-audit).
    require_audit: bool = False
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

    @model_validator(mode="after")
    def _held_out(self) -> PolarisTrainConfig:
        if self.eval is not None:
            same = [j.model for j in self.eval.judges if j.model == self.judge.model]
            if same:
                raise ValueError(
                    f"eval.judges includes the training judge {same[0]!r}: held-out judges must be other models "
                    "(the training judge is always added to the panel)"
                )
        return self


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
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if loc else msg


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
    if cfg.eval is not None:
        check_eval_prompts(cfg, path)
    return cfg


def check_eval_prompts(cfg: PolarisTrainConfig, path: Path) -> None:
    """``eval.prompts`` must name prompts that exist (a file is resolved like every
    other path of the recipe and kept absolute, so Inspect finds it from any folder),
    and ``eval.generate`` must hold Inspect ``GenerateConfig`` fields."""
    from inspect_ai.model import GenerateConfig

    from polaris_bench.benchmarks.length_gen import PromptFileError, select_prompts

    assert cfg.eval is not None
    unknown = [k for k in cfg.eval.generate if k not in GenerateConfig.model_fields]
    if unknown:
        bad = ", ".join(f"eval.generate.{k}{_suggest(k, GenerateConfig.model_fields)}" for k in unknown)
        raise TrainConfigError(f"{path}: unknown key {bad}: not a field of Inspect's GenerateConfig")
    spec = cfg.eval.prompts.strip()
    if spec.endswith((".jsonl", ".json")) or "/" in spec:
        spec = str(cfg.resolve(spec).resolve())
        cfg.eval.prompts = spec
    try:
        select_prompts(spec)
    except PromptFileError as exc:  # a bad spec names itself "-T prompts"; a bad file, the file
        problem = exc.problem if str(exc.path or "").startswith("-T") else str(exc)
        raise TrainConfigError(f"{path}: eval.prompts: {problem}") from None
