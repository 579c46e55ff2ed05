"""Registers the ``hfjson`` model provider with Inspect.

Import this module from the package's ``inspect_ai`` entry point. The provider's
heavy dependencies (torch, transformers, llguidance: the ``[local]`` extra) load only
when a ``hfjson/...`` model is created; without them it names the extra to install."""

from __future__ import annotations

from inspect_ai.model import ModelAPI, modelapi

from polaris_bench.extras import require_extra


@modelapi(name="hfjson")
def hfjson() -> type[ModelAPI]:
    require_extra("local", "the hfjson/ model provider")
    from polaris_bench.providers.hfjson import HFJsonAPI

    return HFJsonAPI
