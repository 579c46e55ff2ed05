"""``polaris report`` without a browser: quote location, the site's files and links,
the logs (found, moved, missing), the viewer bundle, and every bad input."""

from __future__ import annotations

import random
import re
import shutil

import duckdb
import pytest
from report_site import report_site, report_store

from polaris_bench.cli.main import main as polaris
from polaris_bench.judging.parse import (
    QuoteLocator,
    normalise,
    quote_in_story,
    quote_spans,
)
from polaris_bench.report.context import sample_href
from polaris_bench.report.highlight import Quote, highlight
from polaris_bench.report.site import MARKER, ReportError, ReportOptions, build_report

# -- locating quotes -----------------------------------------------------------------------


STORY = ("He said, \u201cThe  night\nwas long\u201d \u2014 and then\u2026 silence.\n\n"
         "STRASSE Stra\u00dfe \ufb01ne  caf\u00e9 na\u00efve.")


@pytest.mark.parametrize(("quote", "expected"), [
    ('"the night was long"', ["The  night\nwas long"]),
    ("and then... silence", ["and then", "silence"]),
    ("strasse strasse", ["STRASSE Stra\u00dfe"]),
    ("fine", ["\ufb01ne"]),
    ("CAFÉ naïve", ["caf\u00e9 na\u00efve"]),
    ("night was long - and", None),  # a closing quote mark stands between: no match, as the parser says
    ("not in it", None),
])
def test_quote_spans_find_what_the_parser_accepts(quote, expected):
    spans = quote_spans(quote, STORY)
    assert (spans is not None) == quote_in_story(quote, normalise(STORY))
    assert ([STORY[a:b] for a, b in spans] if spans else None) == expected


def test_quote_spans_agree_with_the_parser_on_random_text():
    rng = random.Random(3)
    words = ["Alpha", "beta", "\u201cgamma\u201d", "del\u2014ta", "caf\u00e9", "x.", "\n\n", "  ", "Stra\u00dfe"]
    for _ in range(200):
        story = " ".join(rng.choice(words) for _ in range(rng.randint(0, 30)))
        locator = QuoteLocator(story)
        tokens = story.split()
        for _ in range(5):
            if tokens and rng.random() < 0.7:
                i = rng.randrange(len(tokens))
                quote = " ".join(tokens[i:i + rng.randint(1, 4)]).upper()
            else:
                quote = " ".join(rng.choice(words) for _ in range(2))
            spans = locator.spans(quote)
            assert (spans is not None) == quote_in_story(quote, normalise(story)), (story, quote)
            for (a, b) in spans or []:  # each span is the quote's text as written
                assert normalise(story[a:b]) in normalise(quote) or normalise(quote).strip(" \"'.") in normalise(
                    story[a:b])


def test_highlight_splits_overlapping_quotes():
    story = "one two three four five"
    marked = highlight(story, [Quote("q1", "two three", "P1"), Quote("q2", "three four", "P2"),
                               Quote("q3", "seven", "N1")])
    assert marked.located == {"q1": True, "q2": True, "q3": False}
    assert [(s.text, s.quotes) for s in marked.segments] == [
        ("one ", ()), ("two ", ("q1",)), ("three", ("q1", "q2")), (" four", ("q2",)), (" five", ())]
    assert [s.starts for s in marked.segments] == [(), ("q1",), ("q2",), (), ()]
    assert "".join(s.text for s in marked.segments) == story


# -- the site ---------------------------------------------------------------------------------


def _store():
    db, _ = report_store()
    return duckdb.connect(str(db), read_only=True)


def test_every_sample_has_a_page_and_every_link_resolves():
    site = report_site()
    con = _store()
    try:
        expected = con.execute(
            "SELECT coalesce(r.display_name, r.model_label), s.run_id, s.sample_id, s.epoch FROM samples s "
            "JOIN runs r USING (run_id) WHERE r.superseded_by IS NULL AND r.status = 'success' "
            "AND NOT EXISTS (SELECT 1 FROM pairwise p WHERE p.run_id = r.run_id)").fetchall()
    finally:
        con.close()
    assert len(expected) == 30 + 30 + 4 + 4 + 4  # two sweeps, the second judge, the panel's two writers
    for model, run_id, sample_id, epoch in expected:
        assert (site / sample_href(model, run_id, sample_id, epoch)).is_file()
    assert (site / MARKER).is_file()
    pages = list(site.rglob("*.html"))
    pages = [p for p in pages if "viewer" not in p.relative_to(site).parts]
    models = {m for m, *_ in expected}  # writer-a/b with length_bias (the sweeps) and without (the panel)
    assert len(models) == 4
    assert len(pages) == len(expected) + len(models) + 1  # samples, models, the index
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for href in re.findall(r'href="([^"#]+)', html):
            assert not re.match(r"[a-z]+://", href), f"{page}: link outside the report: {href}"
            assert (page.parent / href).resolve().exists(), f"{page}: broken link {href}"


def test_pages_hold_no_reference_to_another_host():
    site = report_site()
    for page in site.glob("**/*.html"):
        if "viewer" in page.relative_to(site).parts:
            continue
        html = page.read_text(encoding="utf-8")
        # no http(s) or protocol-relative address anywhere: not in src, href, url(), nor in the SVG
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html.replace("http://www.w3.org/", "")), page


def test_viewer_is_bundled_with_the_logs_and_linked_per_sample():
    site = report_site()
    viewer_logs = {p.name for p in (site / "viewer" / "logs").glob("*.eval")}
    assert len(viewer_logs) == 5  # the runs with samples of their own (not story_elo's pairs, not the audit)
    links = set()
    for page in (site / "samples").rglob("*.html"):
        links |= set(re.findall(r'href="(?:\.\./)+(viewer/index\.html#/logs/[^"]+)"', page.read_text()))
    names = {re.match(r"viewer/index\.html#/logs/([^/]+)/samples/sample/", link).group(1) for link in links}
    assert names == viewer_logs
    assert (site / "viewer" / "index.html").is_file()


def test_moved_logs_are_found_with_logs_and_missing_ones_are_named(tmp_path):
    db, logs = report_store()
    store = tmp_path / "store.duckdb"
    shutil.copy(db, store)
    moved = tmp_path / "moved"
    shutil.copytree(logs / "panel", moved)
    con = duckdb.connect(str(store))
    panel_runs = [r for (r,) in con.execute("SELECT run_id FROM runs WHERE log_path LIKE ?",
                                            [f"{logs / 'panel'}%"]).fetchall()]
    con.execute("UPDATE runs SET log_path = '/nonexistent/' || run_id || '.eval' WHERE run_id IN ?", [panel_runs])
    con.close()
    assert len(panel_runs) == 2

    missing = tmp_path / "missing"
    assert polaris(["report", "--db", str(store), "--out", str(missing), "--no-viewer", "--resamples", "20"]) == 0
    page = next(p for p in (missing / "samples").rglob(f"{panel_runs[0]}*.html"))
    html = page.read_text()
    assert 'id="story-missing"' in html and "log not found: not at /nonexistent/" in html
    assert "--logs DIR" in html
    assert 'id="missing-logs"' in (missing / "index.html").read_text()

    found = tmp_path / "found"
    assert polaris(["report", "--db", str(store), "--out", str(found), "--no-viewer", "--resamples", "20",
                    "--logs", str(moved)]) == 0
    html = next(p for p in (found / "samples").rglob(f"{panel_runs[0]}*.html")).read_text()
    assert 'id="story-missing"' not in html and '<div class="story" id="story">' in html
    assert "missing-logs" not in (found / "index.html").read_text()


def test_stories_are_read_whatever_sample_ids_the_log_header_lists(tmp_path):
    """A log rewritten with other sample ids (as tools that edit logs do) keeps its old
    ids in the header: the stories are still found, by the samples' own ids."""
    from inspect_ai.log import read_eval_log, write_eval_log

    _, logs = report_store()
    src = min((logs / "panel").glob("*.eval"))
    log = read_eval_log(str(src))
    log.eval.eval_id += "-renamed"
    for sample in log.samples:
        sample.id = f"{sample.id}-renamed"
    (tmp_path / "logs").mkdir()
    write_eval_log(log, str(tmp_path / "logs" / src.name))
    db = tmp_path / "renamed.duckdb"
    assert polaris(["ingest", str(tmp_path / "logs"), "--db", str(db)]) == 0
    assert polaris(["report", "--db", str(db), "--out", str(tmp_path / "s"), "--no-viewer", "--resamples", "20"]) == 0
    pages = sorted((tmp_path / "s" / "samples").rglob("*.html"))
    assert len(pages) == len(log.samples)
    for page in pages:
        html = page.read_text()
        assert "-renamed" in html and 'id="story-missing"' not in html and '<div class="story" id="story">' in html


def test_sections_without_data_are_left_out(tmp_path):
    """A store of the panel runs alone: no windows (no quality along the story, no decay
    column), no audit, no story_elo; the report says so instead of drawing empty charts."""
    _, logs = report_store()
    db = tmp_path / "panel.duckdb"
    assert polaris(["ingest", str(logs / "panel"), "--db", str(db)]) == 0
    assert polaris(["report", "--db", str(db), "--out", str(tmp_path / "s"), "--no-viewer", "--resamples", "20"]) == 0
    index = (tmp_path / "s" / "index.html").read_text()
    assert 'id="positions"' not in index and "Along the story" not in index and 'data-key="decay_ci"' not in index
    assert "No judge has been audited" in index and 'id="bench-story_elo"' not in index
    assert "Inspect log viewer: not bundled (--no-viewer)" in index
    full = report_site() / "index.html"
    html = full.read_text()
    assert 'id="positions"' in html and 'data-key="decay_ci"' in html and 'id="bench-story_elo"' in html


# -- bad input ----------------------------------------------------------------------------------


def test_missing_and_empty_stores_say_what_to_run(tmp_path, capsys):
    assert polaris(["report", "--db", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "no results database here" in err and "polaris ingest" in err
    from polaris_bench.store.schema import connect

    connect(tmp_path / "empty.duckdb").close()
    assert polaris(["report", "--db", str(tmp_path / "empty.duckdb"), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "holds no runs yet" in err and "inspect eval" in err and "polaris ingest" in err
    assert not (tmp_path / "s").exists()


def test_an_existing_folder_is_replaced_only_with_force_and_only_if_a_report(tmp_path, capsys):
    db, _ = report_store()
    out = tmp_path / "site"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["report", "--db", str(db), "--out", str(out), "--no-viewer", "--resamples", "20"]
    assert polaris(args) == 2
    assert "the folder exists; --force replaces it" in capsys.readouterr().err
    assert polaris([*args, "--force"]) == 2  # not a report: never deleted
    assert "is not a polaris report" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"

    (out / "keep.txt").unlink()
    out.rmdir()
    assert polaris(args) == 0
    (out / "stale.html").write_text("from an earlier report")
    assert polaris(args) == 2
    assert polaris([*args, "--force"]) == 0
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()
    (tmp_path / "file").write_text("x")
    assert polaris(["report", "--db", str(db), "--out", str(tmp_path / "file")]) == 2
    assert "a file is there, not a folder" in capsys.readouterr().err
    assert polaris([*args, "--force", "--logs", str(tmp_path / "nope")]) == 2
    assert "--logs" in capsys.readouterr().err and (out / "index.html").is_file()


def test_a_failed_build_leaves_the_earlier_report_whole(tmp_path, monkeypatch):
    db, _ = report_store()
    out = tmp_path / "site"
    build_report(ReportOptions(db=db, out=out, viewer=False, n_resamples=20))
    before = sorted(p.relative_to(out) for p in out.rglob("*"))

    from polaris_bench.report import build

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build.SiteBuilder, "model_page", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        build_report(ReportOptions(db=db, out=out, viewer=False, force=True, n_resamples=20))
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no half-built folder left beside it


def test_report_error_for_a_bad_resample_count(tmp_path, capsys):
    db, _ = report_store()
    assert polaris(["report", "--db", str(db), "--out", str(tmp_path / "s"), "--resamples", "0"]) == 2
    assert "--resamples 0" in capsys.readouterr().err
    with pytest.raises(ReportError):
        build_report(ReportOptions(db=tmp_path / "none.duckdb", out=tmp_path / "s"))



def test_cost_columns_follow_the_price_table(tmp_path, capsys):
    """The leaderboard in the report shows cost as `polaris leaderboard` does, priced with
    --prices; a model with no price shows its tokens and "no price"; a bad file is one line."""
    db, _ = report_store()
    prices = tmp_path / "prices.yaml"
    prices.write_text('as_of: "2026-12-01"\nmodels:\n  "offline/*":\n    input: 1000.0\n    output: 2000.0\n')
    assert polaris(["report", "--db", str(db), "--out", str(tmp_path / "priced"), "--no-viewer",
                    "--resamples", "20", "--prices", str(prices)]) == 0
    priced = (tmp_path / "priced" / "index.html").read_text(encoding="utf-8")
    assert "cost (USD)" in priced and "$" in priced and "2026-12-01" in priced
    assert polaris(["report", "--db", str(db), "--out", str(tmp_path / "bundled"), "--no-viewer",
                    "--resamples", "20"]) == 0
    bundled = (tmp_path / "bundled" / "index.html").read_text(encoding="utf-8")
    assert "cost (USD)" in bundled and "no price" in bundled  # the bundled table has no offline models
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  offline/judge:\n    input: -1\n")
    capsys.readouterr()
    assert polaris(["report", "--db", str(db), "--out", str(tmp_path / "bad"), "--no-viewer",
                    "--prices", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(bad) in err and len(err.splitlines()) == 1
