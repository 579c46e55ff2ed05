"""The price table: USD per million tokens per model string, and dollars from tokens.

The table ships in the package (``polaris_bench/data/prices.yaml``, its layout is
documented there) and a user's file replaces it (``--prices FILE``). A file is checked
as a whole when it is read: an unknown key, a missing or negative price, a model listed
twice, a batch multiplier outside (0, 1] are each one error naming the file and line.

Dollars come from Inspect's own cost formula (``compute_model_cost`` over a
``ModelCost``), times the entry's ``batch`` multiplier for a role run in batch mode.
A model with no entry has no price: callers show its tokens and "no price", never 0.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

PRICE_KEYS = ("input", "output", "cached_input", "cache_write", "batch")
REQUIRED = ("input", "output")
TOP_KEYS = ("as_of", "models")
NO_PRICE = "no price"


class PriceError(ValueError):
    """A price file that cannot be used (the message names the file and line)."""


@dataclass(frozen=True)
class Price:
    """One model's prices (USD per million tokens) and where they were written."""

    pattern: str
    input: float
    output: float
    cached_input: float
    cache_write: float
    batch: float = 1.0
    line: int = 0

    def cost(self, input_tokens: float, output_tokens: float, cache_read: float = 0, cache_write: float = 0,
             batch: bool = False) -> float:
        """Dollars for these tokens (Inspect's formula; ``input_tokens`` excludes cache
        reads and writes, as Inspect's usage does)."""
        from inspect_ai.model import ModelCost, ModelUsage
        from inspect_ai.model._model import compute_model_cost

        usage = ModelUsage(input_tokens=int(input_tokens or 0), output_tokens=int(output_tokens or 0),
                           input_tokens_cache_read=int(cache_read or 0), input_tokens_cache_write=int(cache_write or 0))
        rates = ModelCost(input=self.input, output=self.output, input_cache_read=self.cached_input,
                          input_cache_write=self.cache_write)
        return compute_model_cost(rates, usage) * (self.batch if batch else 1.0)


@dataclass
class PriceTable:
    source: str
    as_of: str | None
    prices: dict[str, Price] = field(default_factory=dict)

    def lookup(self, model: str | None) -> Price | None:
        """The entry for a model string: the exact key, else the one pattern that
        matches it; None when nothing matches. Two matching patterns are an error."""
        if not model:
            return None
        if model in self.prices:
            return self.prices[model]
        hits = [p for key, p in self.prices.items() if _is_pattern(key) and fnmatch.fnmatchcase(model, key)]
        if len(hits) > 1:
            where = ", ".join(f"{p.pattern!r} (line {p.line})" for p in hits)
            raise PriceError(f"{self.source}: model {model!r} is matched by {len(hits)} entries: {where}; "
                             "make the patterns disjoint or add an exact entry")
        return hits[0] if hits else None


def _is_pattern(key: str) -> bool:
    return any(c in key for c in "*?[")


class _LineLoader(yaml.SafeLoader):
    """Safe YAML whose mappings refuse duplicate keys and remember each key's line."""


class _Lined(dict):
    lines: dict[Any, int]


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Lined:
    out = _Lined()
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in out.lines:
            raise PriceError(f"{loader.name} line {line}: {key!r} appears twice (first at line {out.lines[key]})")
        out.lines[key] = line
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PriceError(f"{where}: {key} must be a number, got {value!r}")
    if value < 0:
        raise PriceError(f"{where}: {key} must not be negative, got {value}")
    return float(value)


def parse_prices(text: str, source: str) -> PriceTable:
    """A price table from YAML text; ``source`` names the file in every error."""
    loader = _LineLoader(text)
    loader.name = source
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise PriceError(f"{source}{at}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from exc
    finally:
        loader.dispose()
    if not isinstance(data, _Lined):
        raise PriceError(f"{source}: expected a mapping with 'models:' (USD per million tokens per model string)")
    for key in data:
        if key not in TOP_KEYS:
            raise PriceError(f"{source} line {data.lines[key]}: unknown key {key!r} (expected one of {', '.join(TOP_KEYS)})")
    models = data.get("models")
    if not isinstance(models, _Lined):
        line = data.lines.get("models")
        raise PriceError(f"{source}{f' line {line}' if line else ''}: 'models' must be a mapping of model string -> prices")
    table = PriceTable(source, str(data["as_of"]) if data.get("as_of") is not None else None)
    for model, entry in models.items():
        line = models.lines[model]
        where = f"{source} line {line}: {model}"
        if not isinstance(model, str) or "/" not in model:
            raise PriceError(f"{source} line {line}: {model!r} is not an Inspect model string (provider/model)")
        if not isinstance(entry, _Lined):
            raise PriceError(f"{where}: expected a mapping of {', '.join(PRICE_KEYS)}")
        for key in entry:
            if key not in PRICE_KEYS:
                raise PriceError(f"{source} line {entry.lines[key]}: {model}: unknown key {key!r} "
                                 f"(expected {', '.join(PRICE_KEYS)})")
        for key in REQUIRED:
            if key not in entry:
                raise PriceError(f"{where}: the {key!r} price is missing")
        values = {k: _number(entry[k], f"{source} line {entry.lines[k]}: {model}", k) for k in entry}
        batch = values.get("batch", 1.0)
        if not 0 < batch <= 1:
            raise PriceError(f"{source} line {entry.lines['batch']}: {model}: batch is a multiplier in (0, 1], "
                             f"got {batch}")
        table.prices[model] = Price(model, values["input"], values["output"],
                                    values.get("cached_input", values["input"]),
                                    values.get("cache_write", values["input"]), batch, line)
    return table


def bundled_prices_path() -> Path:
    return Path(str(resources.files("polaris_bench.data").joinpath("prices.yaml")))


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The user's price file, or the bundled one when ``path`` is None."""
    p = Path(path).expanduser() if path is not None else bundled_prices_path()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PriceError(f"{p}: cannot read the price file ({exc.strerror or exc})") from exc
    return parse_prices(text, str(p))


def dollars(price: Price | None, usage: Mapping[str, Any], batch: bool = False) -> float | None:
    """Dollars for one usage record (keys as in the store's ``usage`` table); None
    without a price."""
    if price is None:
        return None
    return price.cost(usage.get("input_tokens") or 0, usage.get("output_tokens") or 0,
                      usage.get("cache_read_tokens") or 0, usage.get("cache_write_tokens") or 0, batch)
