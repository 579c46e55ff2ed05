"""Every remote source is pinned: a commit in the URL (never a moving branch) and a
sha256 checked on every load; the POLARIS HF dataset takes a revision."""

from __future__ import annotations

import hashlib
import shutil
import sys
import types
import urllib.request
from pathlib import Path

import pytest

from polaris_bench.benchmarks import eqbench_creative as eqc
from polaris_bench.benchmarks import longbench_write as lbw
from polaris_bench.benchmarks import story_quality as sq
from polaris_bench.benchmarks.common import DatasetError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
PINS = [
    (eqc.EQBENCH_V3_URL, eqc.EQBENCH_V3_SHA256, eqc.EQBENCH_V3_COMMIT, "eqbench_creative/creative_writing_prompts_v3.json"),
    (lbw.LONGBENCH_WRITE_EN_URL, lbw.LONGBENCH_WRITE_EN_SHA256, lbw.LONGWRITER_COMMIT, "longbench_write/longbench_write_en.jsonl"),
]


@pytest.mark.parametrize(("url", "sha", "commit", "shared"), PINS)
def test_urls_name_a_commit_not_a_branch(url, sha, commit, shared):
    assert f"/{commit}/" in url and len(commit) == 40 and "/main/" not in url and "/master/" not in url
    assert len(sha) == 64


@pytest.mark.parametrize(("url", "sha", "commit", "shared"), PINS)
def test_pinned_hashes_are_those_of_the_canonical_copies(url, sha, commit, shared):
    path = SHARED / shared
    if not path.exists():
        pytest.skip("../shared/benchmarks is not beside this checkout")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha


def _serve(monkeypatch, data: bytes, seen: list[str]):
    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return data

    def urlopen(url, timeout=None):
        seen.append(url)
        return Response()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def test_download_with_the_wrong_bytes_is_refused_and_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("POLARIS_CACHE", str(tmp_path))
    seen: list[str] = []
    _serve(monkeypatch, b'{"prompt": "changed upstream", "length": 100}\n', seen)
    with pytest.raises(DatasetError, match=r"is not the pinned LongBench-Write English prompts.*-T dataset="):
        lbw.load_longbench_write(None)
    assert seen == [lbw.LONGBENCH_WRITE_EN_URL]
    assert not (tmp_path / "datasets" / "longbench_write_en.jsonl").exists()


def test_download_of_the_pinned_bytes_loads_and_is_cached(tmp_path, monkeypatch):
    canonical = SHARED / "longbench_write" / "longbench_write_en.jsonl"
    if not canonical.exists():
        pytest.skip("../shared/benchmarks is not beside this checkout")
    monkeypatch.setenv("POLARIS_CACHE", str(tmp_path))
    seen: list[str] = []
    _serve(monkeypatch, canonical.read_bytes(), seen)
    assert len(lbw.load_longbench_write(None)) == 60
    assert len(lbw.load_longbench_write(None)) == 60  # second time from the cache
    assert seen == [lbw.LONGBENCH_WRITE_EN_URL]


def test_canonical_eqbench_file_in_the_cache_loads(tmp_path, monkeypatch):
    canonical = SHARED / "eqbench_creative" / "creative_writing_prompts_v3.json"
    if not canonical.exists():
        pytest.skip("../shared/benchmarks is not beside this checkout")
    monkeypatch.setenv("POLARIS_CACHE", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    shutil.copy(canonical, tmp_path / "datasets" / "creative_writing_prompts_v3.json")
    assert len(eqc.load_eqbench_prompts(None, iterations=1)) == 32


def test_polaris_hf_dataset_takes_a_revision(monkeypatch, caplog):
    calls: list[dict] = []

    def load_dataset(name, split, revision=None):
        calls.append({"name": name, "split": split, "revision": revision})
        return [{"uid": "u1", "prompt": "Write. Your story should be approximately 1000 words long.",
                 "target_word_count": 1000}]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    rev = "0123456789abcdef0123456789abcdef01234567"
    assert [s.id for s in sq.load_polaris_prompts(None, revision=rev)] == ["u1"]
    assert calls[-1] == {"name": sq.POLARIS_HF_ID, "split": "test", "revision": rev}
    with caplog.at_level("WARNING"):
        sq.load_polaris_prompts(None)
    assert calls[-1]["revision"] == sq.POLARIS_HF_REVISION
    if sq.POLARIS_HF_REVISION is None:
        assert "moving 'main' branch" in caplog.text and "-T revision=" in caplog.text
    task = sq.story_quality(revision=rev)
    assert task.metadata["dataset_revision"] == rev and calls[-1]["revision"] == rev
