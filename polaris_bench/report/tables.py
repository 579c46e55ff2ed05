"""Rendering results as tables: rich tables in the terminal, CSV, JSON and Markdown."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any, Literal

from rich.markup import escape

from polaris_bench.store.costs import NO_USAGE
from polaris_bench.store.names import short_judge

Format = Literal["table", "csv", "json", "markdown"]
FORMATS = ("table", "csv", "json", "markdown")

LEADERBOARD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "model"),
    ("judge", "judge"),
    ("dataset", "dataset"),
    ("score_ci", "score [95% CI]"),
    ("sq_lc", "length-controlled [95% CI]"),
    ("length_ratio", "len ratio"),
    ("truncated", "truncated"),
    ("blank", "blank"),
    ("ID", "ID"),
    ("near", "near"),
    ("far", "far"),
    ("slope", "slope/2k"),
    ("decay_ci", "decay/1k words [95% CI]"),
    ("cliche_rate", "clichés/1k"),
    ("n", "n"),
    ("unscored", "unscored"),
    ("unscored_rate", "unscored rate (top reasons)"),
    ("cost", "cost (USD)"),
    ("judge_per_1k", "judge $/1k words"),
    ("source", "source"),
)
ELO_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "model"),
    ("judge", "judge"),
    ("elo_rd", "Glicko-2 (± RD)"),
    ("bt_ci", "Bradley-Terry [95% CI]"),
    ("win_rate", "win rate"),
    ("pairs", "pairs"),
    ("unscored", "unscored"),
    ("unscored_rate", "unscored rate (top reasons)"),
    ("source", "source"),
)
COMPARE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("benchmark", "benchmark"),
    ("judge", "judge"),
    ("bucket", "bucket"),
    ("n", "pairs"),
    ("mean_a", "A"),
    ("mean_b", "B"),
    ("diff_ci", "A - B [95% CI]"),
    ("p_wilcoxon", "p (Wilcoxon)"),
    ("p_ttest", "p (t-test)"),
    ("win_rate", "A win rate"),
)


# columns that wrap within this width, leaving the room to the others
NARROW = {"sq_lc": 17}


def _isnan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def fmt(v: Any, digits: int | None = None) -> str:
    if _isnan(v):
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if digits is None:
            digits = 3 if abs(v) < 1.5 else (2 if abs(v) < 10 else 1)
        return f"{v:.{digits}f}"
    return str(v)


def fmt_p(p: Any) -> str:
    if _isnan(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_share(v: Any) -> str:
    """A share of samples (0-1) as a percentage."""
    return "—" if _isnan(v) else f"{100 * v:.0f}%"


def _ci(v: Any, lo: Any, hi: Any, digits: int | None = None, status: str | None = None) -> str:
    if _isnan(v):
        return "—"
    if digits is None:
        digits = 3 if abs(v) < 1.5 else (2 if abs(v) < 10 else 1)
    if status:  # e.g. "n too small": no interval is shown rather than a misleading one
        return f"{fmt(v, digits)} ({status})"
    if _isnan(lo) or _isnan(hi):
        return fmt(v, digits)
    return f"{fmt(v, digits)} [{fmt(lo, digits)}, {fmt(hi, digits)}]"


def money(v: Any) -> str:
    """Dollars with enough digits for small runs; "—" when unknown."""
    if _isnan(v):
        return "—"
    return f"${v:,.2f}" if v >= 1 else f"${v:.4f}"


def tokens_text(n: Any) -> str:
    if _isnan(n):
        return "—"
    return f"{n / 1e6:.2f}M tok" if n >= 1e6 else (f"{n / 1e3:.1f}k tok" if n >= 1e3 else f"{int(n)} tok")


def cost_text(row: dict[str, Any]) -> str:
    """A run row's cost: total and per sample, or its tokens and why it has no price."""
    if not _isnan(row.get("cost_usd")):
        return f"{money(row['cost_usd'])} ({money(row.get('cost_per_sample_usd'))}/sample)"
    if row.get("cost_note"):
        tokens = (row.get("input_tokens") or 0) + (row.get("output_tokens") or 0)
        return f"{tokens_text(tokens)}, {row['cost_note']}" if tokens else str(row["cost_note"])
    return "—"


def reasons_text(reasons: Any) -> str:
    """``[{"reason": r, "count": n}, ...]`` as ``r (n); ...``."""
    if not isinstance(reasons, list):
        return "" if _isnan(reasons) else str(reasons)
    return "; ".join(f"{r['reason']} ({r['count']})" for r in reasons)


def _unscored_rate(row: dict[str, Any]) -> str:
    rate = row.get("unscored_rate")
    if _isnan(rate):
        return "—"
    reasons = reasons_text(row.get("unscored_reasons"))
    return fmt_share(rate) + (f" ({reasons})" if reasons else "")


def agreement_lines(board: Any, benchmark: str) -> list[str]:
    """The panel's agreement under a benchmark's leaderboard table."""
    out = []
    for a in getattr(board, "agreement", []):
        if a.get("benchmark") != benchmark:
            continue
        alpha = _ci(a.get("alpha"), a.get("alpha_low"), a.get("alpha_high"), 2, a.get("ci_status"))
        out.append(f"panel agreement ({a.get('judge', '')}; {len(a['members'])} judges: {', '.join(a['members'])}): "
                   f"Krippendorff's alpha (interval) on {a['criterion']} = {alpha} over {a['units']} samples "
                   "(polaris agreement for more)")
    return out


def length_fit_lines(board: Any, benchmark: str) -> list[str]:
    """The length-controlled fit under a benchmark's leaderboard table (one line per
    judge setup and dataset)."""
    out = []
    for f in getattr(board, "length_fits", []):
        if f.get("benchmark") != benchmark:
            continue
        head = f"length-controlled fit ({f.get('judge', '')}; {f['n']} samples, {f['prompts']} prompts)"
        if f.get("not_identified"):
            out.append(f"{head}: not identified: {f['not_identified']}")
            continue
        effect = _ci(f["length_effect"], f["length_effect_low"], f["length_effect_high"], 2, f.get("ci_status"))
        excluded = "; ".join(f"{n} {reason}" for reason, n in f.get("excluded", {}).items())
        out.append(f"{head}: score = model + {effect} points per doubling of the length ratio + "
                   f"{f['bucket_kind']} effects; length-controlled = each model's predicted score at length ratio "
                   f"1.0, averaged over the sweep's {f['bucket_kind']} mix"
                   + (f" (left out: {excluded})" if excluded else ""))
        out += [f"{head}: {model}: not identified: {m['not_identified']}"
                for model, m in f.get("models", {}).items() if m.get("not_identified")]
    return out


def _length_controlled(row: dict[str, Any], digits: int | None) -> str:
    status = row.get("sq_length_controlled_status")
    if isinstance(status, str) and status.startswith("not identified"):
        return row.get("sq_length_controlled_short") or status  # the whole reason is under the table
    if _isnan(row.get("sq_length_controlled")):
        return "—"
    return _ci(row["sq_length_controlled"], row.get("sq_length_controlled_low"),
               row.get("sq_length_controlled_high"), digits, status)


def _display(row: dict[str, Any]) -> dict[str, str]:
    digits = row.get("digits")
    out = {k: fmt(v) for k, v in row.items()}
    if "unscored_rate" in row:
        out["unscored_rate"] = _unscored_rate(row)
    out["score_ci"] = _ci(row.get("score"), row.get("ci_low"), row.get("ci_high"), digits, row.get("ci_status"))
    if "sq_length_controlled" in row:
        out["sq_lc"] = _length_controlled(row, digits)
    if isinstance(row.get("judge"), str):
        out["judge"] = short_judge(row["judge"])
    for k in ("truncated", "blank"):
        if k in row:
            out[k] = fmt_share(row[k])
    for k in ("ID", "near", "far", "mean_a", "mean_b"):
        if k in row:
            out[k] = fmt(row[k], digits)
    if "length_ratio" in row:
        out["length_ratio"] = fmt(row["length_ratio"], 2)
    if "slope" in row:
        out["slope"] = fmt(row["slope"], 2)
    if "decay" in row:
        out["decay_ci"] = _ci(row["decay"], row.get("decay_low"), row.get("decay_high"), 2, row.get("decay_status"))
    if "cliche_rate" in row:
        out["cliche_rate"] = fmt(row["cliche_rate"], 2)
    if row.get("source") == "published":
        out["source"] = "published (paper's prompts)"
    if "cost_usd" in row:
        out["cost"] = cost_text(row)
        out["judge_per_1k"] = money(row.get("judge_cost_per_1k_words_usd"))
    if "elo" in row:
        rd = row.get("elo_rd")
        out["elo_rd"] = "—" if _isnan(row["elo"]) else (
            f"{row['elo']:.0f}" + ("" if _isnan(rd) else f" ± {rd:.0f}")
        )
        out["bt_ci"] = "—" if _isnan(row.get("bt")) else (
            f"{row['bt']:.0f}" + ("" if _isnan(row.get("bt_low")) else f" [{row['bt_low']:.0f}, {row['bt_high']:.0f}]")
        )
        out["win_rate"] = fmt(row.get("win_rate"), 3)
    if "mean_diff" in row:
        out["diff_ci"] = _ci(row["mean_diff"], row["ci_low"], row["ci_high"], digits, row.get("ci_status"))
        test_status = row.get("test_status")
        out["p_wilcoxon"] = test_status or fmt_p(row["p_wilcoxon"])
        out["p_ttest"] = test_status or fmt_p(row["p_ttest"])
        out["win_rate"] = fmt(row["win_rate"], 3)
    return out


def make_console() -> Any:
    """A rich console; wide when the output is not a terminal (pipes, CI logs)."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if hasattr(v, "item"):
        return _json_safe(v.item())
    return v


def _markdown(rows: Sequence[dict[str, str]], columns: Sequence[tuple[str, str]]) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(cell(r.get(k, "")) for k, _ in columns) + " |")
    return "\n".join(lines)


def _rich_table(title: str, rows: Sequence[dict[str, str]], columns: Sequence[tuple[str, str]]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title), title_justify="left")
    for key, header in columns:
        table.add_column(header, justify="left" if key in ("model", "judge", "dataset", "source", "benchmark", "bucket")
                         else "right", no_wrap=key == "model",  # others wrap first (e.g. the unscored reasons)
                         max_width=NARROW.get(key))
    for r in rows:
        style = "dim italic" if r.get("source", "").startswith("published") else None
        table.add_row(*(Text(r.get(k, "")) for k, _ in columns), style=style)  # no markup: "[...]" is data
    return table


def _cell(v: Any) -> Any:
    if isinstance(v, list):
        return reasons_text(v) if all(isinstance(x, dict) and "reason" in x for x in v) else "; ".join(map(str, v))
    return "" if _isnan(v) else v


def _raw(rows: Sequence[dict[str, Any]], fmt_: Format) -> str:
    if fmt_ == "json":
        return json.dumps([{k: _json_safe(v) for k, v in r.items()} for r in rows], indent=2)
    buf = io.StringIO()
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _cell(r.get(k)) for k in keys})
    return buf.getvalue()


def _sections(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["benchmark"], []).append(r)
    return out


# a column -> the row field that must have a value in some row of a section to show it
_OPTIONAL_COLUMNS = {"decay_ci": "decay", "cliche_rate": "cliche_rate", "sq_lc": "sq_length_controlled"}


def _leaderboard_columns(rows: Sequence[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    """The dataset column only where a section's runs used more than one dataset; the
    decay, cliché and length-controlled columns only where some row has a value (segment /
    cliché scores; a length fit that identified some model: where none is, the line under
    the table says why once, length_fit_lines, instead of a column of reasons); the cost
    columns only when costs were attached (``store.costs.attach_costs``)."""
    runs = [r for r in rows if r.get("source") != "published"]
    datasets = {r.get("dataset_sha256") for r in runs}
    hidden = {"dataset"} if len(datasets) <= 1 else set()
    hidden |= {col for col, key in _OPTIONAL_COLUMNS.items() if all(_isnan(r.get(key)) for r in runs)}
    if not any("cost_usd" in r and r.get("cost_note") != NO_USAGE for r in rows):  # the note says why
        hidden |= {"cost", "judge_per_1k"}
    return tuple(c for c in LEADERBOARD_COLUMNS if c[0] not in hidden)


def render_leaderboard(board: Any, fmt_: Format = "table", console: Any = None) -> str | None:
    """``table`` prints to ``console`` (rich) and returns None; the other formats
    return text. CSV and JSON carry every field (CIs, hashes, counts)."""
    rows = list(board.rows)
    elo = list(board.elo_rows)
    if fmt_ in ("csv", "json"):
        if fmt_ == "json":
            return json.dumps(
                {
                    "leaderboard": [{k: _json_safe(v) for k, v in r.items()} for r in rows],
                    "elo": [{k: _json_safe(v) for k, v in r.items()} for r in elo],
                    "panel": getattr(board, "panel", "mean"),
                    "agreement": [{k: _json_safe(v) for k, v in a.items()} for a in getattr(board, "agreement", [])],
                    "length_fits": _json_deep(list(getattr(board, "length_fits", []))),
                    "notes": list(board.notes),
                },
                indent=2,
            )
        return _raw(rows + elo, "csv")
    parts: list[str] = []
    sections = _sections(rows)
    if fmt_ == "markdown":
        for bench, brows in sections.items():
            units = next((r.get("units") for r in brows if r.get("units")), "")
            parts.append(f"### {bench}" + (f" ({units})" if units else ""))
            parts.append(_markdown([_display(r) for r in brows], _leaderboard_columns(brows)))
            lines = agreement_lines(board, bench) + length_fit_lines(board, bench)
            if lines:
                parts.append("\n".join(f"*{line}*" for line in lines))
        if elo:
            parts.append("### story_elo (pairwise ratings)")
            parts.append(_markdown([_display(r) for r in elo], ELO_COLUMNS))
        if board.notes:
            parts.append("\n".join(f"- {n}" for n in board.notes))
        return "\n\n".join(parts) + "\n"
    console = console or make_console()
    if not rows and not elo:
        console.print("No results yet: run `polaris ingest <logs>` first.")
    for bench, brows in sections.items():
        units = next((r.get("units") for r in brows if r.get("units")), "")
        console.print(_rich_table(f"{bench}" + (f" — {units}" if units else ""), [_display(r) for r in brows],
                                  _leaderboard_columns(brows)))
        for line in agreement_lines(board, bench) + length_fit_lines(board, bench):
            console.print(f"[cyan]{escape(line)}[/cyan]")
    if elo:
        console.print(_rich_table("story_elo — pairwise ratings (Elo scale)", [_display(r) for r in elo], ELO_COLUMNS))
    for note in board.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    return None


def render_compare(rows: Sequence[dict[str, Any]], notes: Sequence[str], fmt_: Format = "table",
                   console: Any = None) -> str | None:
    if fmt_ in ("csv", "json"):
        if fmt_ == "json":
            return json.dumps({"comparison": [{k: _json_safe(v) for k, v in r.items()} for r in rows],
                               "notes": list(notes)}, indent=2)
        return _raw(rows, "csv")
    title = f"A = {rows[0]['model_a']}   B = {rows[0]['model_b']}" if rows else "comparison"
    shown = [_display(r) for r in rows]
    if fmt_ == "markdown":
        text = f"**{title}**\n\n" + _markdown(shown, COMPARE_COLUMNS)
        if notes:
            text += "\n\n" + "\n".join(f"- {n}" for n in notes)
        return text + "\n"
    console = console or make_console()
    if rows:
        console.print(_rich_table(title, shown, COMPARE_COLUMNS))
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    return None


AGREEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("benchmark", "benchmark"),
    ("criterion", "criterion"),
    ("judges", "judges"),
    ("units", "samples"),
    ("alpha", "Krippendorff's alpha [95% CI]"),
    ("note", "note"),
)
PAIR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("benchmark", "benchmark"),
    ("criterion", "criterion"),
    ("judge_a", "judge A"),
    ("judge_b", "judge B"),
    ("n", "n"),
    ("spearman", "Spearman [95% CI]"),
    ("kendall", "Kendall [95% CI]"),
)
RANKING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("benchmark", "benchmark"),
    ("judge_a", "judge A"),
    ("judge_b", "judge B"),
    ("models", "models"),
    ("kendall", "Kendall of model rankings [95% CI]"),
)
LOO_COLUMNS: tuple[tuple[str, str], ...] = (
    ("benchmark", "benchmark"),
    ("dropped", "judge left out"),
    ("max_rank_change", "largest rank change"),
    ("model", "of model"),
    ("models", "models"),
)


def _stat(d: Any) -> str:
    return _ci(d.get("value"), d.get("ci_low"), d.get("ci_high"), 3, d.get("ci_status")) if isinstance(d, dict) else "—"


def agreement_tables(results: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Flat rows of ``polaris agreement``'s four tables (stats as value/ci_low/ci_high)."""
    out: dict[str, list[dict[str, Any]]] = {"agreement": [], "pairs": [], "rankings": [], "leave_one_out": []}
    for r in results:
        base = {"benchmark": r["benchmark"], "criterion": r["criterion"]}
        a = r["alpha"]
        out["agreement"].append({**base, "judges": r["judges"], "members": "; ".join(r["members"]),
                                 "units": r["units"], "alpha": a["value"], "alpha_low": a["ci_low"],
                                 "alpha_high": a["ci_high"], "ci_status": a["ci_status"], "note": r.get("note")})
        for p in r["pairs"]:
            out["pairs"].append({**base, "judge_a": p["judge_a"], "judge_b": p["judge_b"], "n": p["n"],
                                 **{f"{s}{suffix}": p[s][k] for s in ("spearman", "kendall")
                                    for suffix, k in (("", "value"), ("_low", "ci_low"), ("_high", "ci_high"))}})
        for p in r["rankings"]:
            out["rankings"].append({"benchmark": r["benchmark"], "judge_a": p["judge_a"], "judge_b": p["judge_b"],
                                    "models": p["models"], "kendall": p["kendall"]["value"],
                                    "kendall_low": p["kendall"]["ci_low"], "kendall_high": p["kendall"]["ci_high"]})
        for p in r["leave_one_out"]:
            out["leave_one_out"].append({"benchmark": r["benchmark"], **p})
    return out


AGREEMENT_SPEC: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("agreement", "Agreement across judges", AGREEMENT_COLUMNS),
    ("pairs", "Pairs of judges over samples", PAIR_COLUMNS),
    ("rankings", "Model rankings by each judge alone", RANKING_COLUMNS),
    ("leave_one_out", "Leave one judge out", LOO_COLUMNS),
)


def agreement_display(results: Sequence[dict[str, Any]]) -> list[tuple[str, str, tuple[tuple[str, str], ...],
                                                                        list[dict[str, str]]]]:
    """``polaris agreement``'s tables as shown: (name, title, columns, rows of text),
    the empty ones left out (the terminal, Markdown and the HTML report show these)."""
    tables = agreement_tables(results)
    shown = {
        "agreement": [{**{k: fmt(v) for k, v in r.items()}, "alpha": _ci(r["alpha"], r["alpha_low"], r["alpha_high"],
                                                                       3, r["ci_status"]), "note": r["note"] or ""}
                      for r in tables["agreement"]],
        "pairs": [{"benchmark": r["benchmark"], "criterion": r["criterion"], "judge_a": q["judge_a"],
                   "judge_b": q["judge_b"], "n": fmt(q["n"]), "spearman": _stat(q["spearman"]),
                   "kendall": _stat(q["kendall"])}
                  for r in results for q in r["pairs"]],
        "rankings": [{"benchmark": r["benchmark"], "judge_a": q["judge_a"], "judge_b": q["judge_b"],
                      "models": fmt(q["models"]), "kendall": _stat(q["kendall"])}
                     for r in results for q in r["rankings"]],
        "leave_one_out": [{k: fmt(v) for k, v in p.items()} for p in tables["leave_one_out"]],
    }
    return [(name, title, cols, shown[name]) for name, title, cols in AGREEMENT_SPEC if shown[name]]


def render_agreement(results: Sequence[dict[str, Any]], notes: Sequence[str], fmt_: Format = "table",
                     console: Any = None) -> str | None:
    """``polaris agreement``: json keeps the nested results; csv writes one flat table
    (a ``table`` column names agreement / pairs / rankings / leave_one_out)."""
    if fmt_ == "json":
        return json.dumps({"agreement": _json_deep(list(results)), "notes": list(notes)}, indent=2)
    if fmt_ == "csv":
        tables = agreement_tables(results)
        return _raw([{"table": name, **row} for name, rows in tables.items() for row in rows], "csv")
    shown = agreement_display(results)
    if fmt_ == "markdown":
        parts = [f"### {title}\n\n" + _markdown(rows, cols) for _, title, cols, rows in shown]
        if notes:
            parts.append("\n".join(f"- {n}" for n in notes))
        return "\n\n".join(parts) + "\n"
    console = console or make_console()
    for _, title, cols, rows in shown:
        console.print(_rich_table(title, rows, cols))
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    return None


def _json_deep(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _json_deep(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_deep(x) for x in v]
    return _json_safe(v)


# -- cells for the HTML report ----------------------------------------------------------

# columns whose shown text combines fields: the field a click on the header sorts by
SORT_FIELD = {"score_ci": "score", "elo_rd": "elo", "bt_ci": "bt", "diff_ci": "mean_diff", "decay_ci": "decay",
              "sq_lc": "sq_length_controlled", "cost": "cost_usd", "judge_per_1k": "judge_cost_per_1k_words_usd"}


def sort_value(v: Any) -> float | str | None:
    """A cell's value for sorting: a number, a text, or None (missing: sorts last)."""
    if isinstance(v, list):
        v = _cell(v)
    if _isnan(v):
        return None
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) or hasattr(v, "item"):
        return float(v)
    return str(v)


def cells(row: dict[str, Any], columns: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """One row as the terminal table shows it, cell by cell: key, text, sort value."""
    shown = _display(row)
    return [{"key": k, "text": shown.get(k, ""), "sort": sort_value(row.get(SORT_FIELD.get(k, k)))}
            for k, _ in columns]


def leaderboard_columns(rows: Sequence[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    """The columns ``polaris leaderboard`` shows for a section of rows."""
    return _leaderboard_columns(rows)
