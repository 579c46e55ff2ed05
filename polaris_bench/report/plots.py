"""Curves (matplotlib), one line per model with 95% CI bands over prompts:
``curves_figure``: quality and length ratio against the requested length;
``position_figure``: window quality and self-repetition against the position in the
story. ``plot_curves`` / ``plot_position`` write them as PNGs (``polaris plot``); the
HTML report inlines the same figures as SVG (``svg_text``). ``plot_training``: a
training run's checkpoint evaluations over optimizer steps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure


def curves_figure(frame: pd.DataFrame, title: str | None = None) -> Figure:
    """Two panels (quality, length ratio) against the requested length; one line per
    model (and judge setup, and dataset) with its 95% CI band."""
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    ax_q, ax_r = fig.subplots(1, 2)
    several_judges = frame["judge"].nunique() > 1 if not frame.empty else False
    if "dataset" not in frame:
        frame = frame.assign(dataset="")
    several_datasets = frame["dataset"].nunique() > 1 if not frame.empty else False
    for (model, judge, dataset), g in frame.groupby(["model", "judge", "dataset"], sort=True):
        g = g.sort_values("target")
        extra = [x for x, shown in ((judge, several_judges), (dataset, several_datasets)) if shown]
        label = f"{model} ({', '.join(extra)})" if extra else model
        x = g["target"].to_numpy(float)
        color = _band(ax_q, x, g, "quality", "quality_low", "quality_high", label)
        _band(ax_r, x, g, "length_ratio", "ratio_low", "ratio_high", label, color)
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
    return fig


def plot_curves(frame: pd.DataFrame, out: str | Path, title: str | None = None) -> Path:
    """``curves_figure`` as a PNG at ``out``; returns its path."""
    return _png(curves_figure(frame, title), out)


def _label(frame: pd.DataFrame, keys: tuple, columns: tuple[str, ...]) -> str:
    """A line's label: the model, plus whatever tells apart lines that share it."""
    model, *rest = keys
    extra = [str(v) for col, v in zip(columns[1:], rest, strict=True) if frame[col].nunique() > 1]
    return f"{model} ({', '.join(extra)})" if extra else str(model)


def position_figure(frame: pd.DataFrame, title: str | None = None) -> Figure:
    """Two panels against the position in the story (window midpoint, words): the
    windows' judged quality and their self-repetition; one line per model (and judge
    setup, dataset and window size) with its 95% CI band."""
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    ax_q, ax_r = fig.subplots(1, 2)
    frame = frame.assign(size=frame["segment_words"].map(lambda w: "? words" if pd.isna(w) else f"{int(w)}-word windows"))
    columns = ("model", "judge", "dataset", "size")
    for keys, g in frame.groupby(list(columns), sort=True):
        g = g.sort_values("position")
        label = _label(frame, keys, columns)
        x = g["position"].to_numpy(float)
        color = _band(ax_q, x, g, "quality", "quality_low", "quality_high", label)
        _band(ax_r, x, g, "self_repetition", "self_repetition_low", "self_repetition_high", label, color)
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
    return fig


def plot_position(frame: pd.DataFrame, out: str | Path, title: str | None = None) -> Path:
    """``position_figure`` as a PNG at ``out``; returns its path."""
    return _png(position_figure(frame, title), out)


def _band(ax, x, g: pd.DataFrame, value: str, low: str, high: str, label: str, color: str | None = None) -> str:
    """One line with its 95% CI band; returns its colour (the second panel reuses it)."""
    (line,) = ax.plot(x, g[value].astype(float), marker="o", label=label, color=color)
    ax.fill_between(x, g[low].astype(float), g[high].astype(float), alpha=0.18, color=line.get_color(), linewidth=0)
    return line.get_color()


def _png(fig: Figure, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out


def svg_text(fig: Figure) -> str:
    """A figure as an inline ``<svg>`` element: text kept as text (no embedded font
    files), no metadata block, no XML prolog; refers to nothing outside the page."""
    import io

    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "polaris-report"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def plot_training(evals: pd.DataFrame, judges: pd.DataFrame, out: str | Path, title: str | None = None) -> Path:
    """A training run's checkpoint evaluations over optimizer steps (``store.training``):
    the training reward; each judge's mean SQ on the same evaluation stories (the
    training judge, every held-out judge, the held-out mean); length ratio;
    self-repetition and, when scored, the cliché rate. Steps with an alarm are marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    has_cliche = "cliche_rate" in evals and evals["cliche_rate"].notna().any()
    n = 5 if has_cliche else 4
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.2), constrained_layout=True)
    ax_r, ax_j, ax_l, ax_p = axes[:4]
    steps = evals["step"].to_numpy(float)
    reward = evals[evals["train_reward"].notna()]
    ax_r.plot(reward["step"], reward["train_reward"], marker="o", color="black")
    ax_r.set_title("training reward (steps since the previous evaluation)")
    for (role, model, held_out), g in judges.groupby(["role", "judge_model", "held_out"], sort=True):
        style = {"linestyle": "--"} if held_out else {"linewidth": 2.5}
        label = f"{model} ({'held-out' if held_out else 'training judge'})"
        ax_j.plot(g["step"], g["score"], marker="o", label=label, **style)
    ax_j.plot(steps, evals["heldout_score"], marker="s", color="grey", label="held-out mean")
    ax_j.set_title("judges' SQ on the same stories (0-100)")
    ax_j.legend(fontsize="x-small")
    ax_l.plot(steps, evals["length_ratio"], marker="o")
    ax_l.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax_l.set_title("length ratio (words / requested)")
    ax_p.plot(steps, evals["self_repetition"], marker="o")
    ax_p.set_title("self-repetition")
    if has_cliche:
        axes[4].plot(steps, evals["cliche_rate"], marker="o")
        axes[4].set_title("cliché rate (per 1,000 words)")
    alarmed = [(int(r.step), list(r.alarms)) for r in evals.itertuples() if r.alarms is not None and len(r.alarms)]
    for ax in axes:
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
        for step, _ in alarmed:
            ax.axvline(step, color="red", alpha=0.5, linewidth=2)
    if alarmed:
        kinds = sorted({a.split(":", 1)[0] for _, msgs in alarmed for a in msgs})
        ax_j.text(0.01, 0.01, f"alarms (red): {', '.join(kinds)}", transform=ax_j.transAxes, color="red",
                  fontsize="small")
    fig.suptitle(title or "checkpoint evaluations")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
