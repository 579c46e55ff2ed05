"""The README's screenshot of ``polaris report``: an offline run (offline/writer-a and
offline/writer-b, judged by offline/judge, full judge replies), ingested with the
paper's reference rows, reported, and photographed by Playwright in the system
Chromium (the same browser the tests use).

    .venv/bin/python docs/report_screenshot.py   # results/report_example.png, results/report_sample.png
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_report_browser import CHROMIUM_ARGS, chromium_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "results" / "report_example.png"), help="the index page")
    parser.add_argument("--sample-out", default=str(ROOT / "results" / "report_sample.png"),
                        help="a sample page: the judge's quotes marked in the story")
    args = parser.parse_args()
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model
    from playwright.sync_api import sync_playwright

    from polaris_bench.benchmarks.length_gen import length_gen
    from polaris_bench.cli.main import main as polaris

    work = Path(tempfile.mkdtemp(prefix="polaris-report-shot-"))
    logs = inspect_eval(length_gen(prompts="5", targets="500,1000,2000"),
                        model=["offline/writer-a", "offline/writer-b"],
                        model_roles={"grader": get_model("offline/judge")}, log_dir=str(work / "logs"),
                        display="none")
    assert all(log.status == "success" for log in logs)
    db, site = work / "offline.duckdb", work / "site"
    for argv in (["ingest", str(work / "logs"), "--db", str(db)], ["reference", "load", "--db", str(db)],
                 ["report", "--db", str(db), "--out", str(site)]):
        assert polaris(argv) == 0, argv
    path = chromium_path()
    assert path, "no Chromium on the PATH (apt-get install chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto((site / "index.html").as_uri())
        page.screenshot(path=args.out)
        sample = min((site / "samples").rglob("*.html"))
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(sample.as_uri())
        page.locator("#story").scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -120)")
        page.screenshot(path=args.sample_out)
        browser.close()
    print(f"wrote {args.out} and {args.sample_out} (report of the offline run at {site})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
