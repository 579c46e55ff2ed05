"""Packaging: every import is a declared dependency, a command whose extra is missing
names the extra, and the built wheel runs the offline pipeline from an empty folder."""

from __future__ import annotations

import ast
import importlib.metadata
import io
import os
import re
import shutil
import site
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from inspect_ai.model import get_model
from rich.console import Console

from polaris_bench.cli.main import main as polaris
from polaris_bench.extras import EXTRAS, MissingExtraError
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.paths import DEFAULT_PLOT

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "polaris_bench"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# Modules that only run with an extra installed, and may import its packages at the top.
EXTRA_MODULES = {
    "providers/hfjson.py": "local",
    "providers/constrained.py": "local",
    "train/hri_trainer.py": "train",
}
# Imported lazily with a clear message when absent (see benchmarks/writingbench.py).
UNDECLARED_OPTIONAL = {"inspect_evals"}


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _req_names(reqs: list[str]) -> set[str]:
    return {_canon(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in reqs}


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """Top-level names imported at module level and inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top: set[str] = set()
    nested: set[str] = set()

    def names(node: ast.AST) -> set[str]:
        if isinstance(node, ast.Import):
            return {a.name.split(".")[0] for a in node.names}
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            return {node.module.split(".")[0]}
        return set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            (nested if in_function else top).update(names(child))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return top, nested


def test_every_import_is_a_declared_dependency():
    core = _req_names(PYPROJECT["project"]["dependencies"])
    extras = {k: _req_names(v) for k, v in PYPROJECT["project"]["optional-dependencies"].items()}
    dists = importlib.metadata.packages_distributions()
    local = {"polaris_bench", "rubrics"}
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        top, nested = _imports(path)
        for name, lazy in [(n, False) for n in top] + [(n, True) for n in nested - top]:
            if name in sys.stdlib_module_names or name in local or name in UNDECLARED_OPTIONAL:
                continue
            owners = {_canon(d) for d in dists.get(name, [name])}
            if owners & core:
                continue
            extra = EXTRA_MODULES.get(rel)
            if extra and owners & extras[extra]:
                continue
            if lazy and any(owners & reqs for reqs in extras.values()):
                continue
            where = "inside a function" if lazy else "at module level"
            problems.append(f"{rel}: imports {name} {where}, which is not a declared dependency")
    assert not problems, "\n".join(problems)


def test_extras_table_matches_pyproject():
    declared = PYPROJECT["project"]["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        assert {_canon(m) for m in modules} == _req_names(declared[extra]), extra


def _hide(monkeypatch, *modules: str) -> None:
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)  # find_spec() now answers None


def _one_line_error(capsys, extra: str, missing: str) -> None:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == ""  # checked before the command starts anything
    assert len(err.splitlines()) == 1, err
    assert f"[{extra}] extra" in err and missing in err and f"pip install 'polaris-bench[{extra}]'" in err


def test_train_without_the_train_extra_names_it(monkeypatch, capsys):
    _hide(monkeypatch, "trl")
    assert polaris(["train", "--config", "train/configs/smoke.yaml"]) == 1
    _one_line_error(capsys, "train", "trl")


def test_models_pull_without_the_local_extra_names_it(monkeypatch, capsys, tmp_path):
    _hide(monkeypatch, "gguf", "llguidance")
    assert polaris(["models", "pull", "smollm2", "--cache-dir", str(tmp_path)]) == 1
    _one_line_error(capsys, "local", "gguf, llguidance")
    assert not any(tmp_path.iterdir())  # nothing downloaded


def test_demo_with_the_local_model_without_the_local_extra_names_it(monkeypatch, capsys, tmp_path):
    _hide(monkeypatch, "llguidance")
    assert polaris(["demo", "--log-dir", str(tmp_path / "logs"), "--db", str(tmp_path / "x.duckdb")]) == 1
    _one_line_error(capsys, "local", "llguidance")


def test_hfjson_provider_without_the_local_extra_names_it(monkeypatch):
    import polaris_bench.providers.registry  # noqa: F401  (registers hfjson/)

    _hide(monkeypatch, "llguidance")
    expected = r"hfjson/ model provider needs the \[local\] extra \(llguidance"
    with pytest.raises(MissingExtraError, match=expected) as err:
        get_model("hfjson/some/model", memoize=False)
    # Inspect prints the message with rich: the extra's brackets must survive the markup
    shown = io.StringIO()
    Console(file=shown, width=200).print(err.value.message)
    assert "[local] extra" in shown.getvalue() and "polaris-bench[local]" in shown.getvalue()


def test_bundled_rubrics_come_from_this_checkout():
    # not from the package an editable install elsewhere on the path maps to
    assert Path(load_rubric("story_quality").source_path) == ROOT / "rubrics" / "story_quality.yaml"


# ---------------------------------------------------------------- the wheel, installed


def _build_wheel(out: Path) -> Path:
    """Builds from a copy of the sources, so a stale build/ folder cannot add files."""
    src = out / "src"
    src.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("polaris_bench", "rubrics"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        check=True, capture_output=True, text=True,
    )
    return next(out.glob("polaris_bench-*.whl"))


def _fresh_env(tmp: Path, wheel: Path) -> Path:
    """A new venv holding the wheel. The dependencies come from this interpreter's site
    folders, added as plain path entries by a .pth file: .pth files inside them (the
    editable install's finder among them) are not run, so no checkout can shadow the
    wheel's copy of polaris_bench."""
    env = tmp / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    deps = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        deps.append(site.getusersitepackages())
    (Path(purelib) / "_polaris_test_deps.pth").write_text("\n".join(d for d in deps if Path(d).is_dir()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
         "--ignore-installed", "-q", str(wheel)],
        check=True, capture_output=True, text=True,
    )
    return env


def test_wheel_runs_the_offline_pipeline_from_an_empty_folder(tmp_path):
    wheel = _build_wheel(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {f"polaris_bench/{p.relative_to(PACKAGE).as_posix()}" for p in PACKAGE.rglob("*.py")
               if "__pycache__" not in p.parts}
    assert sources <= names, sorted(sources - names)  # pyproject lists the packages explicitly
    data = {f"polaris_bench/data/{p.name}" for p in (PACKAGE / "data").iterdir() if p.is_file()}
    rubrics = {f"polaris_bench/rubrics/{p.name}" for p in (ROOT / "rubrics").iterdir() if p.is_file()}
    assert "polaris_bench/data/story_prompts.jsonl" in data and "polaris_bench/rubrics/story_quality.yaml" in rubrics
    templates = {f"polaris_bench/report/templates/{p.name}" for p in (PACKAGE / "report" / "templates").iterdir()}
    assert "polaris_bench/report/templates/index.html" in templates
    assert data | rubrics | templates <= names, sorted((data | rubrics | templates) - names)  # package data ships

    env = _fresh_env(tmp_path, wheel)
    work = tmp_path / "empty"
    work.mkdir()
    run_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run_env |= {"PWD": str(work), "INSPECT_LOG_DIR": str(work / "logs")}

    def run(*args: str | Path) -> str:
        cmd = [str(a) for a in args]
        done = subprocess.run(cmd, cwd=work, env=run_env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    bin_ = env / "bin"
    # the wheel's own rubric (a path inside the new environment, not the checkout's)
    assert f"ok: {env}" in run(bin_ / "polaris", "rubric", "validate", "story_quality")

    # the task registered with Inspect, by name, as the README shows it: two writers
    run(bin_ / "python", "-m", "inspect_ai", "eval", "polaris_bench/length_gen",
        "--model", "offline/writer-a,offline/writer-b", "--model-role", "grader=offline/judge",
        "-T", "prompts=2", "-T", "targets=150,300", "-T", "compact=true", "--log-dir", "logs", "--display", "none")
    assert len(list((work / "logs").glob("*.eval"))) == 2
    # the demo: a third writer, then ingest (all three logs), leaderboard and plot
    out = run(bin_ / "polaris", "demo", "--writer", "offline/writer-c", "--judge", "offline/judge",
              "--prompts", "2", "--log-dir", "logs")
    assert "3 ingested" in out and "demo finished" in out
    assert (work / DEFAULT_PLOT).stat().st_size > 0
    compare = run(bin_ / "polaris", "compare", "writer-a", "writer-b", "--benchmark", "length_gen", "--format", "csv")
    assert "offline/writer-a" in compare and "offline/writer-b" in compare
    run(bin_ / "polaris", "reference", "load")
    # the shipped price table: the estimate for a priced judge, and the stored runs' tokens
    estimate = run(bin_ / "polaris", "estimate", "length_gen", "-T", "prompts=1", "--model", "offline/writer",
                   "--model-role", "grader=openai/gpt-5.4", "--format", "json")
    assert '"price": "openai/gpt-5.4"' in estimate
    assert "offline/judge" in run(bin_ / "polaris", "cost", "--format", "csv")
    # the HTML report, from the wheel's own templates
    assert "open " in run(bin_ / "polaris", "report", "--out", "site", "--no-viewer", "--resamples", "50")
    assert "offline/writer-c" in (work / "site" / "index.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in work.iterdir()) == ["logs", "results", "site"]
