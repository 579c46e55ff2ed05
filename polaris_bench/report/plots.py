"""Curves as PNGs (matplotlib), one line per model with 95% CI bands over prompts:
``plot_curves``: quality and length ratio against the requested length;
``plot_position``: window quality and self-repetition against the position in the story."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def plot_curves(frame: pd.DataFrame, out: str | Path, title: str | None = None) -> Path:
    """Two panels (quality, length ratio) against the requested length; one line per
    model (and judge setup, and dataset) with its 95% CI band. Writes a PNG and returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax_q, ax_r) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    several_judges = frame["judge"].nunique() > 1 if not frame.empty else False
    if "dataset" not in frame:
        frame = frame.assign(dataset="")
    several_datasets = frame["dataset"].nunique() > 1 if not frame.empty else False
    for (model, judge, dataset), g in frame.groupby(["model", "judge", "dataset"], sort=True):
        g = g.sort_values("target")
        extra = [x for x, shown in ((judge, several_judges), (dataset, several_datasets)) if shown]
        label = f"{model} ({', '.join(extra)})" if extra else model
        x = g["target"].to_numpy(float)
        (line,) = ax_q.plot(x, g["quality"], marker="o", label=label)
        ax_q.fill_between(x, g["quality_low"].astype(float), g["quality_high"].astype(float), alpha=0.18,
                          color=line.get_color(), linewidth=0)
        ax_r.plot(x, g["length_ratio"], marker="o", color=line.get_color(), label=label)
        ax_r.fill_between(x, g["ratio_low"].astype(float), g["ratio_high"].astype(float), alpha=0.18,
                          color=line.get_color(), linewidth=0)
    ax_r.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    bench = frame["benchmark"].iloc[0] if not frame.empty else ""
    ax_q.set_title(title or f"{bench}: quality vs requested length")
    ax_q.set_ylabel("score (95% CI over prompts)")
    ax_r.set_title("length ratio (words / target) vs requested length")
    ax_r.set_ylabel("length ratio")
    for ax in (ax_q, ax_r):
        ax.set_xlabel("requested length (words)")
        ax.grid(alpha=0.3)
    if not frame.empty:
        ax_q.legend(fontsize="small")
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def _label(frame: pd.DataFrame, keys: tuple, columns: tuple[str, ...]) -> str:
    """A line's label: the model, plus whatever tells apart lines that share it."""
    model, *rest = keys
    extra = [str(v) for col, v in zip(columns[1:], rest, strict=True) if frame[col].nunique() > 1]
    return f"{model} ({', '.join(extra)})" if extra else str(model)


def plot_position(frame: pd.DataFrame, out: str | Path, title: str | None = None) -> Path:
    """Two panels against the position in the story (window midpoint, words): the
    windows' judged quality and their self-repetition; one line per model (and judge
    setup, dataset and window size) with its 95% CI band. Writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax_q, ax_r) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    frame = frame.assign(size=frame["segment_words"].map(lambda w: "? words" if pd.isna(w) else f"{int(w)}-word windows"))
    columns = ("model", "judge", "dataset", "size")
    for keys, g in frame.groupby(list(columns), sort=True):
        g = g.sort_values("position")
        label = _label(frame, keys, columns)
        x = g["position"].to_numpy(float)
        (line,) = ax_q.plot(x, g["quality"].astype(float), marker="o", label=label)
        ax_q.fill_between(x, g["quality_low"].astype(float), g["quality_high"].astype(float), alpha=0.18,
                          color=line.get_color(), linewidth=0)
        ax_r.plot(x, g["self_repetition"].astype(float), marker="o", color=line.get_color(), label=label)
        ax_r.fill_between(x, g["self_repetition_low"].astype(float), g["self_repetition_high"].astype(float),
                          alpha=0.18, color=line.get_color(), linewidth=0)
    bench = frame["benchmark"].iloc[0] if not frame.empty else ""
    ax_q.set_title(title or f"{bench}: window quality along the story")
    ax_q.set_ylabel("window quality, 0-100 (95% CI over prompts)")
    ax_r.set_title("self-repetition within each window")
    ax_r.set_ylabel("self-repetition (paper's formula)")
    for ax in (ax_q, ax_r):
        ax.set_xlabel("position in the story (window midpoint, words)")
        ax.grid(alpha=0.3)
    if not frame.empty:
        ax_q.legend(fontsize="small")
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
