"""Registers the ``hfjson`` model provider with Inspect.

Import this module from the package's ``inspect_ai`` entry point. The provider's
heavy dependencies (torch, transformers, llguidance) load only when a ``hfjson/...``
model is created."""

from __future__ import annotations

from inspect_ai.model import ModelAPI, modelapi


@modelapi(name="hfjson")
def hfjson() -> type[ModelAPI]:
    from polaris_bench.providers.hfjson import HFJsonAPI

    return HFJsonAPI
