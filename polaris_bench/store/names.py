"""What a model is called in the store and in reports.

* ``model_label``: the model plus the -M args that change its output; unique, it keeps
  runs of different models apart (``offline/writer-a [length_bias=0.7]``).
* ``display_name``: the short name reports show. Derived from the label: a local model
  given as a file-system path (``hf//home/me/.cache/.../smollm2``) is shown by its
  folder name (``hf/smollm2``; a Hugging Face cache snapshot by its repo,
  ``hf/HuggingFaceTB/SmolLM2-135M-Instruct``). ``polaris ingest --name MODEL=DISPLAY``
  sets one by hand (kept in the ``model_names`` table and applied to later runs too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import duckdb

from polaris_bench.store.scrub import REDACTED

# Model args that change how a model runs, not which model it is.
RUNTIME_ARGS = frozenset(
    {
        "device", "gpu_memory_utilization", "tensor_parallel_size", "pipeline_parallel_size",
        "max_connections", "port", "host", "timeout", "max_retries", "batch_size", "server_args",
        "latency", "fail", "malformed",
    }
)

_HF_CACHE_REPO = re.compile(r"models--([^/\\]+)--([^/\\]+)")
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")


class ModelNameError(ValueError):
    """A ``--name`` option that cannot be used."""


def args_suffix(model_args: Mapping[str, Any] | None) -> str:
    args = {k: v for k, v in (model_args or {}).items() if k not in RUNTIME_ARGS and v != REDACTED}
    if not args:
        return ""
    return " [" + ", ".join(f"{k}={args[k]}" for k in sorted(args)) + "]"


def model_label(model: str, model_args: Mapping[str, Any] | None) -> str:
    """The model plus any -M args that change its output (``offline/writer-a
    [length_bias=0.7]``)."""
    return model + args_suffix(model_args)


def short_judge(label: str) -> str:
    """A judge label (``judge_label``: models joined by "+", then " · mode ...") with each
    model shortened by ``short_model``, for tables a person reads; the machine formats
    keep the full label."""
    models, sep, rest = label.partition(" · ")
    return "+".join(short_model(m) for m in models.split("+")) + sep + rest


def short_model(model: str) -> str:
    """``provider/<folder name>`` for a model given as a local path; else unchanged."""
    provider, sep, rest = model.partition("/")
    if not sep or not (rest.startswith(("/", "~", "./", "../")) or _WINDOWS_PATH.match(rest)):
        return model
    hub = _HF_CACHE_REPO.search(rest)
    if hub:
        return f"{provider}/{hub.group(1)}/{hub.group(2)}"
    path = PureWindowsPath(rest) if _WINDOWS_PATH.match(rest) else PurePosixPath(rest)
    name = path.name or path.parent.name
    return f"{provider}/{name}" if name else model


def display_name(model: str, label: str, names: Mapping[str, str] | None = None) -> str:
    """The name reports show for a run of ``model`` whose label is ``label``: a name set
    for the label, else one set for the model (plus the label's args), else derived."""
    names = names or {}
    suffix = label[len(model):] if label.startswith(model) else ""
    if label in names:
        return names[label]
    if model in names:
        return names[model] + suffix
    return short_model(model) + suffix


def parse_name(option: str) -> tuple[str, str]:
    """``MODEL=DISPLAY`` (split at the last ``=``: a label may hold ``=``)."""
    model, sep, display = option.rpartition("=")
    model, display = model.strip(), display.strip()
    if not sep or not model or not display:
        raise ModelNameError(f"--name {option!r}: expected MODEL=DISPLAY (the model string or label, then its name)")
    return model, display


def stored_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("SELECT model, display_name FROM model_names").fetchall())


def set_names(con: duckdb.DuckDBPyConnection, names: Mapping[str, str]) -> dict[str, int]:
    """Record display names (model string or label -> name) and apply them to the runs
    already stored. Returns, per given model, how many runs it names now."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for model, display in names.items():
        con.execute("INSERT OR REPLACE INTO model_names VALUES (?, ?, ?)", [model, display, now])
    refresh_display_names(con)
    return {
        m: int(con.execute("SELECT count(*) FROM runs WHERE model = ? OR model_label = ?", [m, m]).fetchone()[0])
        for m in names
    }


def refresh_display_names(con: duckdb.DuckDBPyConnection, run_ids: list[str] | None = None) -> None:
    """Recompute ``runs.display_name`` (all runs, or ``run_ids``) from the names set."""
    names = stored_names(con)
    rows = con.execute("SELECT run_id, model, model_label FROM runs").fetchall()
    wanted = None if run_ids is None else set(run_ids)
    for run_id, model, label in rows:
        if wanted is not None and run_id not in wanted:
            continue
        con.execute("UPDATE runs SET display_name = ? WHERE run_id = ?",
                    [display_name(model or "", label or model or "", names), run_id])
