"""The report in a real browser: Debian's Chromium, headless, driven by Playwright with
the system executable (``make test`` installs it; never ``playwright install``).
Every page loads with no console error and no request outside the report's folder;
sorting works; the numbers shown are the store's; each evidence quote is marked in
the story. Without Chromium the tests are skipped, except with CI=true, where they fail."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from prerequisites import missing, need_module
from report_site import RESAMPLES, report_site, report_store

from polaris_bench.judging.parse import normalise
from polaris_bench.report.context import model_href, sample_href

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """``$POLARIS_CHROMIUM``, else Debian's ``chromium`` (or ``chromium-browser``) on the PATH."""
    env = os.environ.get("POLARIS_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def site() -> Path:
    """Built before the browser starts: Playwright's sync API runs an event loop that
    Inspect's own (evals, log reading) cannot run inside."""
    return report_site()


@pytest.fixture(scope="module")
def panel_quotes(site) -> tuple[tuple[str, str, str, int], list[str]]:
    """A panel-judged sample and every member's quotes, read from its log with Inspect."""
    from inspect_ai.log import read_eval_log

    con = _store()
    try:
        model, run_id, sid, epoch = _sample_of(con, "r.judge_models[1] LIKE '%+%'")
        path = con.execute("SELECT log_path FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]
    finally:
        con.close()
    sample = next(s for s in read_eval_log(path).samples if s.id == sid and s.epoch == epoch)
    panel = sample.scores["story_quality"].metadata["panel"]
    assert len(panel) == 3
    return (model, run_id, sid, epoch), [q for m in panel for ev in (m.get("evidence") or {}).values()
                                         for q in ev.get("quotes") or []]


@pytest.fixture(scope="module")
def browser(site, panel_quotes):
    sync_api = need_module("playwright.sync_api", "the Python package playwright (the dev extra)")
    path = chromium_path()
    if path is None:
        missing("Chromium (`apt-get install chromium`, as `make test` does; or set POLARIS_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Visit:
    """A page opened from the site with every request watched: those outside the site
    folder are blocked and recorded, as are console errors and page errors."""

    def __init__(self, browser, site: Path, rel: str) -> None:
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page()
        prefix = site.resolve().as_uri() + "/"

        def route(r):
            if r.request.url.startswith(prefix):
                r.continue_()
            else:
                self.outside.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(prefix + rel)
        self.page.wait_for_load_state("load")

    def clean(self) -> None:
        assert self.outside == [], self.outside
        assert self.errors == [], self.errors

    def close(self) -> None:
        self.page.close()


def _store():
    db, _ = report_store()
    return duckdb.connect(str(db), read_only=True)


def test_every_page_renders_with_no_console_error_and_no_outside_request(browser, site):
    pages = ["index.html"] + [p.relative_to(site).as_posix() for p in sorted((site / "models").glob("*.html"))]
    pages += [p.relative_to(site).as_posix() for p in sorted((site / "samples").rglob("*.html"))][::7]
    for rel in pages:
        v = Visit(browser, site, rel)
        try:
            v.clean()
            assert v.page.locator("main h1").count() == 1
        finally:
            v.close()


def _column(page, table, key: str) -> list[str | None]:
    return table.locator(f'tbody td[data-key="{key}"]').evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-sort'))")


def test_clicking_a_header_sorts_the_rows(browser, site):
    v = Visit(browser, site, "index.html")
    try:
        table = v.page.locator('#bench-length_gen table.sortable').first
        header = table.locator('th[data-key="score_ci"] button')

        def scores() -> list[float | None]:
            return [None if s in (None, "") else float(s) for s in _column(v.page, table, "score_ci")]

        assert len(scores()) >= 2
        header.click()
        up = scores()
        assert up == sorted(up, key=lambda x: (x is None, x)), up
        assert table.locator('th[data-key="score_ci"]').get_attribute("aria-sort") == "ascending"
        header.click()
        down = scores()
        present = [x for x in down if x is not None]
        assert present == sorted(present, reverse=True) and down[len(present):] == [None] * (len(down) - len(present))
        models = table.locator('th[data-key="model"] button')
        models.click()
        names = _column(v.page, table, "model")
        assert names == sorted(names, key=str.lower)
        v.clean()
    finally:
        v.close()


def test_leaderboard_numbers_equal_the_cli_and_the_store(browser, site, capsys):
    from polaris_bench.cli.store import main as store_cli

    db, _ = report_store()
    capsys.readouterr()
    assert store_cli(["leaderboard", "--db", str(db), "--format", "json", "--resamples", str(RESAMPLES)]) == 0
    board = json.loads(capsys.readouterr().out)
    v = Visit(browser, site, "index.html")
    con = _store()
    try:
        shown = v.page.locator("tr[data-row]").evaluate_all(
            """rows => rows.map(r => ({key: r.getAttribute('data-row'), published: r.dataset.source === 'published',
                 cells: Object.fromEntries(Array.from(r.cells).map(c => [c.dataset.key,
                        {text: c.textContent.trim(), sort: c.getAttribute('data-sort')}]))}))""")
        by_key = {tuple(json.loads(r["key"])): r for r in shown}
        rows = board["leaderboard"] + board["elo"]
        assert len(shown) == len(rows)
        for row in rows:
            key = (row["benchmark"], row["model"], row.get("judge"), row.get("dataset"))
            cell = by_key[key]["cells"]
            assert by_key[key]["published"] == (row["source"] == "published")
            for key, field in (("score_ci", "score"), ("sq_lc", "sq_length_controlled"), ("decay_ci", "decay"),
                               ("cliche_rate", "cliche_rate"), ("length_ratio", "length_ratio")):
                if key in cell:  # the value each shown column sorts by is the leaderboard's own
                    assert (cell[key]["sort"] or None) == (None if row.get(field) is None else repr(row[field])), key
            if "score" in row:  # the score's CI, as the terminal prints it
                if row["score"] is not None and row["ci_low"] is not None:
                    digits = row["digits"]
                    ci = f"[{row['ci_low']:.{digits}f}, {row['ci_high']:.{digits}f}]"
                    assert ci in cell["score_ci"]["text"] or row.get("ci_status")
                if row["source"] == "run":
                    assert cell["n"]["text"] == str(row["n"]) and cell["unscored"]["text"] == str(row["unscored"])
            else:
                assert cell["elo_rd"]["sort"] == (None if row["elo"] is None else repr(row["elo"]))
        # n and unscored straight from DuckDB: samples and unscored headline scores per model and judge
        direct = con.execute(
            """SELECT coalesce(r.display_name, r.model_label), list_sort(r.judge_models)[1], count(*),
                      count(*) FILTER (WHERE NOT sr.scored)
               FROM samples s JOIN runs r USING (run_id)
               JOIN scorer_results sr ON sr.run_id = s.run_id AND sr.sample_id = s.sample_id AND sr.epoch = s.epoch
                    AND sr.scorer = 'story_quality'
               WHERE r.benchmark = 'length_gen' GROUP BY ALL""").fetchall()
        runs = {(r["model"], r["judge_model"]): r for r in board["leaderboard"] if r["source"] == "run"}
        assert len(direct) == len(runs) == 5
        for model, judge, n, unscored in direct:
            r = runs[(model, judge)]
            cell = by_key[("length_gen", model, r["judge"], r["dataset"])]["cells"]
            assert (int(cell["n"]["text"]), int(cell["unscored"]["text"])) == (n, unscored)
        v.clean()
    finally:
        con.close()
        v.close()


def test_quality_along_the_story_is_drawn_when_windows_exist(browser, site):
    v = Visit(browser, site, "index.html")
    try:
        chart = v.page.locator('#positions figure.chart[data-benchmark="length_gen"] svg')
        assert chart.count() == 1 and "window quality along the story" in chart.text_content()
        assert v.page.locator('#bench-length_gen th[data-key="decay_ci"]').count() > 0
        v.clean()
    finally:
        v.close()


def test_published_rows_stand_apart_and_are_marked(browser, site):
    v = Visit(browser, site, "index.html")
    try:
        tables = v.page.locator("table.sortable[data-table]")
        for i in range(tables.count()):
            sources = tables.nth(i).locator("tbody tr").evaluate_all("rs => rs.map(r => r.dataset.source || 'run')")
            assert len(set(sources)) == 1, sources  # never a published row among runs
        published = v.page.locator('tr[data-source="published"]')
        assert published.count() > 0
        assert published.locator(".badge.pub").count() == published.count()
        v.clean()
    finally:
        v.close()


def _sample_of(con, run_filter: str) -> tuple[str, str, str, int]:
    return con.execute(
        f"""SELECT coalesce(r.display_name, r.model_label), s.run_id, s.sample_id, s.epoch FROM samples s
            JOIN runs r USING (run_id) JOIN scorer_results sr ON sr.run_id = s.run_id AND sr.sample_id = s.sample_id
            AND sr.epoch = s.epoch AND sr.scorer = 'story_quality' WHERE sr.scored AND {run_filter}
            ORDER BY s.sample_id LIMIT 1""").fetchone()


def _check_marks(v: Visit, quotes: list[str]) -> None:
    shown = v.page.locator("blockquote.q").evaluate_all(
        "qs => qs.map(q => ({id: q.dataset.quoteId, located: q.dataset.located, text: q.textContent.trim()}))")
    assert sorted(normalise(q["text"]).strip('“”"') for q in shown) == sorted(normalise(q).strip('"') for q in quotes)
    for q in shown:
        assert q["located"] == "yes", q
        marked = v.page.locator(f'mark[data-quotes~="{q["id"]}"]').evaluate_all("ms => ms.map(m => m.textContent)")
        assert marked, q
        for fragment in normalise(q["text"]).strip('“”"').split("..."):
            fragment = fragment.strip(" \"'.,;:!?-")
            if fragment:
                assert fragment in normalise("".join(marked)), (fragment, marked)
        assert v.page.locator(f'span.anchor#{q["id"]}').count() == 1


def test_a_sample_page_marks_each_quote_of_a_single_judge(browser, site):
    con = _store()
    try:
        model, run_id, sid, epoch = _sample_of(con, "r.judge_model = 'offline/judge' AND r.benchmark = 'length_gen'")
        quotes = [q for (qs,) in con.execute(
            "SELECT quotes FROM criteria WHERE run_id = ? AND sample_id = ? AND epoch = ?", [run_id, sid, epoch]
        ).fetchall() for q in qs or []]
        score = con.execute("SELECT value FROM scores WHERE run_id = ? AND sample_id = ? AND epoch = ? "
                            "AND scorer = 'story_quality' AND key = 'overall'", [run_id, sid, epoch]).fetchone()[0]
    finally:
        con.close()
    assert quotes
    v = Visit(browser, site, sample_href(model, run_id, sid, epoch))
    try:
        _check_marks(v, quotes)
        assert float(v.page.locator("strong.headline").get_attribute("data-score")) == score
        v.clean()
    finally:
        v.close()


def test_a_sample_page_marks_each_quote_of_every_panel_member(browser, site, panel_quotes):
    (model, run_id, sid, epoch), quotes = panel_quotes
    assert quotes
    v = Visit(browser, site, sample_href(model, run_id, sid, epoch))
    try:
        _check_marks(v, quotes)
        assert v.page.locator("section.reasons").count() == 3
        v.clean()
    finally:
        v.close()


def test_model_page_scores_are_the_stores(browser, site):
    con = _store()
    try:
        model, run_id, *_ = _sample_of(con, "r.judge_model = 'offline/judge' AND r.benchmark = 'length_gen'")
        stored = dict(con.execute(
            "SELECT sample_id, value FROM scores WHERE run_id = ? AND scorer = 'story_quality' AND key = 'overall'",
            [run_id]).fetchall())
    finally:
        con.close()
    v = Visit(browser, site, model_href(model))
    try:
        rows = v.page.locator("table.samples tbody tr").evaluate_all(
            """rs => rs.map(r => [r.querySelector('td[data-key=sample] a').textContent,
                                  r.querySelector('td[data-key=sample] a').getAttribute('href'),
                                  r.querySelector('td[data-key=score]').getAttribute('data-sort')])""")
        seen = {sid: float(s) for sid, href, s in rows if run_id in href and s}
        assert seen == {sid: v for sid, v in stored.items() if v is not None}
        v.clean()
    finally:
        v.close()
