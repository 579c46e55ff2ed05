"""One sample's page: its scores, the judge's scores per criterion (each panel member's
too), the judge's justifications and quotes, the story with the quotes marked, its
length metrics and a link into the bundled log viewer.

The store holds the scores, the member scores, and the justifications and quotes of a
single judge; a panel member's justifications and quotes are in the log (``report.logs``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from polaris_bench.report.highlight import Quote, highlight
from polaris_bench.report.logs import RunLog, SampleText, viewer_link
from polaris_bench.report.tables import fmt
from polaris_bench.store.names import short_model

Key = tuple[str, int]  # (sample id, epoch)


@dataclass
class RunDetails:
    """The store's per-sample detail of one run, grouped by sample."""

    criteria: dict[Key, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    members: dict[Key, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    member_criteria: dict[Key, dict[tuple[str, int, str], float]] = field(default_factory=lambda: defaultdict(dict))
    scores: dict[Key, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    judges: dict[tuple[str, int, str], str] = field(default_factory=dict)  # (sid, epoch, scorer) -> judge model


def run_details(con: duckdb.DuckDBPyConnection, run_id: str) -> RunDetails:
    d = RunDetails()
    for sid, ep, scorer, cid, name, score, just, quotes in con.execute(
        "SELECT sample_id, epoch, scorer, criterion_id, name, score, justification, quotes FROM criteria "
        "WHERE run_id = ? ORDER BY rowid", [run_id]
    ).fetchall():
        d.criteria[(sid, ep)].append({"scorer": scorer, "id": cid, "name": name or "", "score": score,
                                      "justification": just, "quotes": list(quotes or [])})
    for sid, ep, scorer, member, role, model, scored, attempts, reason in con.execute(
        "SELECT sample_id, epoch, scorer, member, role, judge_model, scored, attempts, unscored_reason FROM judgements "
        "WHERE run_id = ? ORDER BY sample_id, epoch, scorer, member", [run_id]
    ).fetchall():
        d.members[(sid, ep)].append({"scorer": scorer, "member": member, "name": f"{role}={short_model(model)}",
                                     "scored": bool(scored), "attempts": attempts, "reason": reason})
    for sid, ep, scorer, member, cid, score in con.execute(
        "SELECT sample_id, epoch, scorer, member, criterion_id, score FROM judgement_criteria WHERE run_id = ?",
        [run_id]
    ).fetchall():
        d.member_criteria[(sid, ep)][(scorer, member, cid)] = score
    for sid, ep, scorer, key, value, text in con.execute(
        "SELECT sample_id, epoch, scorer, key, value, value_text FROM scores WHERE run_id = ? ORDER BY scorer, key",
        [run_id]
    ).fetchall():
        d.scores[(sid, ep)].append({"scorer": scorer, "key": key, "value": fmt(value) if value is not None else
                                    (text or "—")})
    for sid, ep, scorer, judge in con.execute(
        "SELECT sample_id, epoch, scorer, judge_model FROM scorer_results WHERE run_id = ? AND judge_model IS NOT NULL",
        [run_id]
    ).fetchall():
        d.judges[(sid, ep, scorer)] = judge
    return d


LENGTH_FIELDS = (("target_words", "requested words", None), ("words", "words written", 0),
                 ("length_ratio", "length ratio", 3), ("length_score", "length score", 3),
                 ("length_penalty", "length penalty", 3), ("truncated", "truncated", "yes/no"),
                 ("blank", "blank", "yes/no"), ("self_repetition", "self-repetition", 3),
                 ("bucket", "bucket", None), ("bucket_2k", "2k bucket", None), ("stop_reason", "stop reason", None),
                 ("output_tokens", "output tokens", 0), ("error", "error", None))


def _value(v: Any, how: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "—"
    if how == "yes/no":
        return "yes" if float(v) >= 0.5 else "no"
    if isinstance(how, int) and isinstance(v, (int, float)):
        return f"{float(v):,.{how}f}"
    return str(v)


def length_rows(row: dict[str, Any]) -> list[dict[str, str]]:
    return [{"label": label, "value": _value(row.get(key), how)} for key, label, how in LENGTH_FIELDS
            if key in row]


def crit_text(v: Any) -> str:
    """A criterion score: whole numbers as such, a panel's mean with two decimals."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "—"
    return str(int(v)) if float(v).is_integer() else f"{float(v):.2f}"


def _reason_blocks(key: Key, details: RunDetails, text: SampleText | None) -> tuple[list[dict[str, Any]], list[Quote]]:
    """The judges' reasons: one block per judge with justifications or quotes, each quote
    numbered for the page. A panel member's come from the log, a single judge's from
    the store."""
    blocks: list[dict[str, Any]] = []
    quotes: list[Quote] = []

    def add(judge: str, rows: list[dict[str, Any]]) -> None:
        entries = []
        for r in rows:
            qs = []
            for q in r.get("quotes") or []:
                quote = Quote(f"q{len(quotes) + 1}", str(q), r["id"], judge)
                quotes.append(quote)
                qs.append(quote)
            if r.get("justification") or qs:
                entries.append({"id": r["id"], "name": r.get("name", ""), "score": crit_text(r.get("score")),
                                "justification": r.get("justification") or "", "quotes": qs})
        if entries:
            blocks.append({"judge": judge, "criteria": entries})

    names = {c["id"]: c["name"] for c in details.criteria.get(key, [])}
    members = details.members.get(key, [])
    logged = text.members if text is not None else {}
    for m in members:
        evidence = logged.get((m["scorer"], m["member"]))
        if not evidence:
            continue
        scores = details.member_criteria.get(key, {})
        add(m["name"], [{"id": cid, "name": names.get(cid, ""), "score": scores.get((m["scorer"], m["member"], cid)),
                         "justification": ev.get("justification"), "quotes": ev.get("quotes")}
                        for cid, ev in evidence.items()])
    by_scorer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in details.criteria.get(key, []):
        if c["justification"] or c["quotes"]:
            by_scorer[c["scorer"]].append(c)
    for scorer, rows in by_scorer.items():
        judge = details.judges.get((*key, scorer), "")
        add(f"{scorer} · {short_model(judge)}" if judge else scorer, rows)
    return blocks, quotes


def criteria_table(key: Key, details: RunDetails) -> dict[str, Any]:
    """Criterion scores: the scorer's (a panel's aggregate) and each member's."""
    members = details.members.get(key, [])
    several = len(members) > 1
    mc = details.member_criteria.get(key, {})
    rows = []
    for c in details.criteria.get(key, []):
        row = {"scorer": c["scorer"], "id": c["id"], "name": c["name"], "score": crit_text(c["score"]),
               "sort": c["score"], "members": []}
        if several:
            row["members"] = [crit_text(mc.get((m["scorer"], m["member"], c["id"]))) for m in members
                              if m["scorer"] == c["scorer"]]
        rows.append(row)
    return {"members": [m["name"] for m in members] if several else [], "rows": rows}


def sample_context(row: dict[str, Any], log: RunLog, details: RunDetails) -> dict[str, Any]:
    """Everything a sample page shows (``row``: the sample's line of the report frame)."""
    key = (str(row["sample_id"]), int(row["epoch"]))
    text = log.samples.get(key)
    missing = log.missing
    if missing is None and log.path is not None and text is None:
        missing = f"sample {key[0]} (epoch {key[1]}) is not in its log {log.path}"
    blocks, quotes = _reason_blocks(key, details, text)
    story = text.story if text is not None else None
    marked = highlight(story, quotes) if story else None
    if marked is not None:
        for b in blocks:
            for c in b["criteria"]:
                c["quotes"] = [{"id": q.id, "text": q.text, "located": marked.located[q.id]} for q in c["quotes"]]
    else:
        for b in blocks:
            for c in b["criteria"]:
                c["quotes"] = [{"id": q.id, "text": q.text, "located": None} for q in c["quotes"]]
    members = [{**m, "reason": m["reason"] or ""} for m in details.members.get(key, [])]
    return {
        "story": marked, "story_missing": missing if story is None else None,
        "blank_story": story == "" and text is not None,
        "reasons": blocks, "quote_count": len(quotes),
        "quote_labels": {q.id: f"{q.criterion} · {q.judge}" for q in quotes},
        "criteria": criteria_table(key, details), "members": members,
        "scores": details.scores.get(key, []), "length": length_rows(row),
        "viewer": viewer_link(log, key[0], key[1]),
    }
