"""What runs cost, from the store's ``usage`` rows and a price table.

Costs are computed when asked (never stored), so a new price file re-prices every run:

* ``role_costs``: one row per (run, role): model, calls, tokens, dollars (None when the
  model has no price), words judged and dollars per 1,000 words judged for judge roles;
* ``sample_costs``: one row per sample of a run: every role's tokens and dollars;
* ``attach_costs``: the cost columns of leaderboard rows (their ``run_ids``): the runs'
  total, per sample, and the judges' dollars per 1,000 words judged.

A total is a number only when every role in it has a price; otherwise it is None with
the unpriced models named (``no price: MODEL``), so no table ever shows 0 for "unknown".
Words judged are the ``samples.words`` of the samples a judge role was called on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import duckdb

from polaris_bench.costs.prices import NO_PRICE, PriceTable, dollars
from polaris_bench.store.rows import WRITER_ROLE

NO_USAGE = "no usage recorded"
TOKEN_COLS = ("calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
              "reasoning_tokens", "total_tokens")


def is_judge_role(role: str) -> bool:
    """Judge panel roles are the grader roles (grader, grader_b, ...)."""
    return role.startswith("grader")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _in(run_ids: Iterable[str] | None) -> tuple[str, list[str]]:
    ids = sorted(set(run_ids)) if run_ids is not None else None
    if ids is None:
        return "", []
    if not ids:
        return " AND false", []
    return f" AND u.run_id IN ({', '.join('?' for _ in ids)})", ids


def _price_row(row: dict[str, Any], prices: PriceTable) -> dict[str, Any]:
    price = prices.lookup(row.get("model"))
    row["cost_usd"] = dollars(price, row, bool(row.get("batch")))
    row["price"] = price.pattern if price is not None else NO_PRICE
    return row


def role_costs(con: duckdb.DuckDBPyConnection, prices: PriceTable, run_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per (run, role), from the run totals Inspect recorded."""
    where, params = _in(run_ids)
    rows = _rows(con, f"""
        SELECT u.run_id, coalesce(r.display_name, r.model_label) AS run_model, r.benchmark, u.role, u.model, u.batch,
               {', '.join('u.' + c for c in TOKEN_COLS)},
               (SELECT count(*) FROM samples s WHERE s.run_id = u.run_id) AS samples,
               (SELECT sum(s.words) FROM samples s JOIN usage su ON su.run_id = s.run_id
                  AND su.sample_id = s.sample_id AND su.epoch = s.epoch AND su.role = u.role
                  WHERE s.run_id = u.run_id AND su.calls IS DISTINCT FROM 0) AS words
        FROM usage u JOIN runs r ON r.run_id = u.run_id
        WHERE u.sample_id IS NULL{where}
        ORDER BY r.benchmark, run_model, u.run_id, u.role <> '{WRITER_ROLE}', u.role""", params)
    for row in rows:
        _price_row(row, prices)
        judge = is_judge_role(row["role"])
        words = row.pop("words")
        row["words_judged"] = float(words) if judge and words else None
        row["cost_per_1k_words_usd"] = (row["cost_usd"] / (row["words_judged"] / 1000)
                                        if row["cost_usd"] is not None and row["words_judged"] else None)
        row["cost_per_sample_usd"] = (row["cost_usd"] / row["samples"]
                                      if row["cost_usd"] is not None and row["samples"] else None)
    return rows


def sample_costs(con: duckdb.DuckDBPyConnection, prices: PriceTable, run_id: str) -> list[dict[str, Any]]:
    """One row per (sample, role) of one run, priced."""
    rows = _rows(con, f"""
        SELECT u.sample_id, u.epoch, u.role, u.model, u.batch, {', '.join('u.' + c for c in TOKEN_COLS)}, s.words
        FROM usage u LEFT JOIN samples s ON s.run_id = u.run_id AND s.sample_id = u.sample_id AND s.epoch = u.epoch
        WHERE u.run_id = ? AND u.sample_id IS NOT NULL
        ORDER BY u.sample_id, u.epoch, u.role <> '{WRITER_ROLE}', u.role""", [run_id])
    return [_price_row(r, prices) for r in rows]


def total(rows: Sequence[dict[str, Any]]) -> tuple[float | None, list[str]]:
    """The sum of ``cost_usd`` over rows, or None with the unpriced models when any
    row has no price."""
    unpriced = sorted({str(r.get("model")) for r in rows if r.get("cost_usd") is None})
    if unpriced:
        return None, unpriced
    return float(sum(r["cost_usd"] for r in rows)), []


def runs_without_usage(con: duckdb.DuckDBPyConnection, run_ids: Iterable[str]) -> list[str]:
    ids = sorted(set(run_ids))
    if not ids:
        return []
    found = {r[0] for r in con.execute(
        f"SELECT DISTINCT run_id FROM usage WHERE run_id IN ({', '.join('?' for _ in ids)})", ids).fetchall()}
    return [i for i in ids if i not in found]


def attach_costs(con: duckdb.DuckDBPyConnection, board: Any, prices: PriceTable) -> None:
    """Add cost columns to every run row of a leaderboard (rows with ``run_ids``):
    ``cost_usd``, ``cost_per_sample_usd``, ``judge_cost_per_1k_words_usd``, the token
    totals, and ``cost_note`` ("no price: MODEL" when a model has none)."""
    all_ids = {i for r in board.rows for i in r.get("run_ids") or []}
    by_run: dict[str, list[dict[str, Any]]] = {}
    for row in role_costs(con, prices, all_ids):
        by_run.setdefault(row["run_id"], []).append(row)
    missing = runs_without_usage(con, all_ids)
    if missing:
        board.notes.append(f"{len(missing)} run(s) have no token usage in the store (ingested before schema v8): "
                           "`polaris ingest --force <logs>` records it")
    for row in board.rows:
        ids = row.get("run_ids")
        if not ids:
            continue
        roles = [r for i in ids for r in by_run.get(i, [])]
        judges = [r for r in roles if is_judge_role(r["role"])]
        cost, unpriced = total(roles)
        judge_cost, _ = total(judges)
        samples = sum({r["run_id"]: r["samples"] for r in roles}.values())
        words = sum(r["words_judged"] or 0 for r in judges) / max(1, len({r["role"] for r in judges}))
        row["input_tokens"] = int(sum(r["input_tokens"] or 0 for r in roles)) if roles else None
        row["output_tokens"] = int(sum(r["output_tokens"] or 0 for r in roles)) if roles else None
        row["cost_usd"] = cost if roles else None
        row["cost_per_sample_usd"] = cost / samples if cost is not None and samples and roles else None
        row["judge_cost_per_1k_words_usd"] = (judge_cost / (words / 1000)
                                              if judge_cost is not None and judges and words else None)
        row["cost_note"] = (f"{NO_PRICE}: {', '.join(unpriced)}" if unpriced and roles
                            else (NO_USAGE if not roles else None))
