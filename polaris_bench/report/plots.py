"""Length curves as a PNG: quality and length ratio against the requested length, one
line per model, with CI bands (matplotlib)."""

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
