"""Ingest Inspect logs (``.eval`` and ``.json``) into the results store.

* Logs are read with Inspect's own API (``list_eval_logs`` / ``read_eval_log``).
* Idempotent: a run is keyed by its Inspect ``eval_id``; ingesting the same log again
  changes nothing. A log whose content changed (re-scored, or finished after an earlier
  ingest of a partial log) replaces its run's rows in one transaction.
* Incremental: a file whose path, size and mtime match what was ingested before is
  not even opened.
* Every log that is not ingested is reported with a reason (still running, no
  samples, unreadable/truncated, ...); the others are ingested regardless.
* Secrets never reach the database: model args, role args, base URLs, generation
  config headers and error texts are scrubbed (``scrub``).
* eval-retry writes a new log (new eval_id, same task_id); the older attempt is kept
  but marked ``superseded_by`` so queries never count its samples twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import duckdb
import pyarrow as pa

from polaris_bench.metrics.length import bucket as length_bucket
from polaris_bench.metrics.length import bucket_2k as length_bucket_2k
from polaris_bench.store.benchmarks import benchmark_of
from polaris_bench.store.schema import RUN_TABLES

LOG_SUFFIXES = (".eval", ".json")
REDACTED = "[redacted]"
LONG_TEXT = 2000  # metadata strings longer than this are not copied into the store
# Sample metadata keys that carry whole stories (story_elo puts both in every sample).
STORY_KEYS = frozenset({"story", "story_x", "story_y", "stories", "human_story", "reference_story"})

# -- secrets --------------------------------------------------------------------------

_SECRET_KEY = re.compile(
    r"(api[_-]?key|apikey|secret|password|passwd|credential|cookie|authorization|"
    r"(^|[_-])auth($|[_-])|bearer|access[_-]?key|private[_-]?key|session[_-]?id|signature|"
    r"headers?$|(^|[_-])token$)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_\-]{12,}|sk-ant-[A-Za-z0-9_\-]{8,}|hf_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_\-]{20,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16}"
    r"|(?i:bearer)\s+[A-Za-z0-9._\-~+/=]{8,})"
)
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>]+")


def _scrub_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def scrub_text(text: str) -> str:
    """Remove credentials from free text: URL user/password and query strings, and
    strings shaped like provider API keys or bearer tokens."""
    if not text:
        return text
    text = _URL.sub(lambda m: _scrub_url(m.group(0)), text)
    return _SECRET_VALUE.sub(REDACTED, text)


def scrub(value: Any, key: str | None = None) -> Any:
    """A copy of ``value`` without secrets: values under secret-looking keys (api_key,
    token, authorization, headers, ...) are redacted, URLs lose credentials and query
    strings, and key-shaped strings are redacted wherever they appear."""
    if key is not None and _SECRET_KEY.search(key) and value not in (None, "", {}, []):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


# -- outcome report -------------------------------------------------------------------


@dataclass
class LogOutcome:
    path: str
    outcome: str  # ingested | replaced | unchanged | duplicate | skipped | error
    reason: str = ""
    run_id: str | None = None
    samples: int = 0


@dataclass
class IngestReport:
    outcomes: list[LogOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def by(self, *kinds: str) -> list[LogOutcome]:
        return [o for o in self.outcomes if o.outcome in kinds]

    @property
    def ingested(self) -> list[LogOutcome]:
        return self.by("ingested", "replaced")

    @property
    def errors(self) -> list[LogOutcome]:
        return self.by("error")

    @property
    def samples(self) -> int:
        return sum(o.samples for o in self.ingested)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[o.outcome] = out.get(o.outcome, 0) + 1
        return out


# -- discovering logs ------------------------------------------------------------------


def _local(name: str) -> str:
    if name.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return unquote(urlparse(name).path)
    return name


def discover(paths: Iterable[str | Path]) -> tuple[list[tuple[str, int, float]], list[LogOutcome]]:
    """Log files under ``paths`` (files or folders, folders searched recursively with
    Inspect's ``list_eval_logs``) as (absolute path, size, mtime), oldest first, and
    outcomes for paths that are not logs."""
    from inspect_ai.log import list_eval_logs

    found: dict[str, tuple[str, int, float]] = {}
    problems: list[LogOutcome] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            infos = list_eval_logs(str(p.resolve()), recursive=True, descending=False)
            if not infos:
                problems.append(LogOutcome(str(p), "skipped", "no Inspect logs (.eval/.json) in this folder"))
            for info in infos:
                path = str(Path(_local(info.name)).resolve())
                st = os.stat(path)
                found[path] = (path, st.st_size, st.st_mtime)
        elif p.is_file():
            if p.suffix not in LOG_SUFFIXES:
                problems.append(LogOutcome(str(p), "skipped", "not an Inspect log (expected .eval or .json)"))
                continue
            st = p.stat()
            path = str(p.resolve())
            found[path] = (path, st.st_size, st.st_mtime)
        else:
            problems.append(LogOutcome(str(p), "error", "no such file or folder"))
    return sorted(found.values(), key=lambda t: (t[2], t[0])), problems


# -- small helpers --------------------------------------------------------------------


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    return None


def _int(v: Any) -> int | None:
    f = _num(v)
    return None if f is None else int(round(f))


def _bool(v: Any) -> bool | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes")
    f = _num(v)
    return None if f is None else bool(f)


def _ts(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, default=_json_default, ensure_ascii=False, allow_nan=False)


def _json_default(o: Any) -> Any:
    if hasattr(o, "model_dump"):
        return o.model_dump(exclude_none=True)
    return str(o)


def _clean_json(value: Any) -> Any:
    """JSON-safe (no NaN) with long strings left out."""
    if isinstance(value, Mapping):
        return {str(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_json(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, str) and len(value) > LONG_TEXT:
        return f"[{len(value)} characters not stored]"
    if hasattr(value, "model_dump"):
        return _clean_json(value.model_dump(exclude_none=True))
    return value


def _model_dump(obj: Any) -> Any:
    if obj is None:
        return None
    if hasattr(obj, "model_dump"):
        return obj.model_dump(exclude_none=True)
    return obj


# Model args that change how a model runs, not which model it is.
RUNTIME_ARGS = frozenset(
    {
        "device", "gpu_memory_utilization", "tensor_parallel_size", "pipeline_parallel_size",
        "max_connections", "port", "host", "timeout", "max_retries", "batch_size", "server_args",
        "latency", "fail", "malformed",
    }
)


def model_label(model: str, model_args: Mapping[str, Any] | None) -> str:
    """The leaderboard's name for a model: the model plus any -M args that change its
    output (``offline/writer-a [length_bias=0.7]``)."""
    args = {k: v for k, v in (model_args or {}).items() if k not in RUNTIME_ARGS and v != REDACTED}
    if not args:
        return model
    return f"{model} [" + ", ".join(f"{k}={args[k]}" for k in sorted(args)) + "]"


def fingerprint(log: Any) -> str:
    """What identifies one state of a run's log: id, status, completion time and
    results (so a re-scored or completed log is a change, a copy is not)."""
    h = hashlib.sha256()
    h.update(str(log.eval.eval_id).encode())
    h.update(str(log.status).encode())
    h.update(str(log.stats.completed_at if log.stats else "").encode())
    h.update(str(len(log.samples or []) if log.samples is not None else -1).encode())
    if log.results is not None:
        h.update(log.results.model_dump_json(exclude_none=True).encode())
    return h.hexdigest()


# -- rows -----------------------------------------------------------------------------

_LENGTH_FIELDS = ("words", "length_ratio", "length_score", "length_penalty", "self_repetition")

_SAMPLE_COLS = (
    "run_id", "sample_id", "epoch", "prompt_id", "target_words", "bucket", "bucket_2k", "genre",
    "words", "length_ratio", "length_score", "length_penalty", "self_repetition", "blank", "truncated",
    "stop_reason", "error", "limit_hit", "total_time", "working_time", "input_tokens", "output_tokens", "metadata",
)
_SR_COLS = (
    "run_id", "sample_id", "epoch", "scorer", "scored", "unscored_reason", "judge_model", "rubric",
    "rubric_sha256", "template_sha256", "judge_mode", "attempts", "label", "explanation", "metadata",
)
_SCORE_COLS = ("run_id", "sample_id", "epoch", "scorer", "key", "value", "value_text")
_CRIT_COLS = ("run_id", "sample_id", "epoch", "scorer", "criterion_id", "name", "score", "justification", "quotes")
_PAIR_COLS = (
    "run_id", "sample_id", "epoch", "source_sample_id", "source_epoch", "prompt_id", "model_x", "model_y",
    "score_x", "plus_diff_xy", "plus_diff_yx", "verdict_xy", "verdict_yx", "flipped", "judge_model",
    "rubric_sha256", "unscored_reason",
)
_RATING_COLS = ("run_id", "model", "method", "rating", "rd", "ci_low", "ci_high")

_SR_META_SKIP = frozenset(
    {"criteria", "evidence", "judge_model", "rubric", "rubric_sha256", "template_sha256", "judge_mode",
     "attempts", "label", "unscored_reason", "xy", "yx", "model_x", "model_y"}
)

_TYPES = {
    "epoch": pa.int32(), "target_words": pa.int32(), "attempts": pa.int32(), "source_epoch": pa.int32(),
    "input_tokens": pa.int64(), "output_tokens": pa.int64(), "n": pa.int32(),
    "value": pa.float64(), "score": pa.float64(), "rating": pa.float64(), "rd": pa.float64(),
    "ci_low": pa.float64(), "ci_high": pa.float64(), "score_x": pa.float64(), "plus_diff_xy": pa.float64(),
    "plus_diff_yx": pa.float64(), "words": pa.float64(), "length_ratio": pa.float64(),
    "length_score": pa.float64(), "length_penalty": pa.float64(), "self_repetition": pa.float64(),
    "total_time": pa.float64(), "working_time": pa.float64(),
    "blank": pa.bool_(), "truncated": pa.bool_(), "scored": pa.bool_(), "flipped": pa.bool_(),
    "quotes": pa.list_(pa.string()),
}


class _Columns:
    """Column-wise row buffer, turned into one Arrow table per table per log."""

    def __init__(self, cols: Sequence[str]) -> None:
        self.cols = cols
        self.data: dict[str, list[Any]] = {c: [] for c in cols}

    def add(self, *values: Any) -> None:
        for c, v in zip(self.cols, values):
            self.data[c].append(v)

    def __len__(self) -> int:
        return len(self.data[self.cols[0]])

    def table(self) -> pa.Table:
        arrays = {}
        for c in self.cols:
            try:
                arrays[c] = pa.array(self.data[c], type=_TYPES.get(c, pa.string()))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise TypeError(f"column {c!r}: {exc}") from exc
        return pa.table(arrays)


def _evidence_of(ev: Any) -> tuple[str | None, list[str] | None]:
    if isinstance(ev, Mapping):
        just = ev.get("justification")
        quotes = ev.get("quotes")
        if isinstance(quotes, str):
            quotes = [quotes]
        if isinstance(quotes, list):
            quotes = [str(q) for q in quotes]
        else:
            quotes = None
        return (str(just) if just is not None else None), quotes
    if isinstance(ev, str):
        return ev, None
    return None, None


class _RubricNames:
    """Criterion names from the bundled rubric, when its hash matches the judged one."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str], dict[str, str]] = {}

    def __call__(self, rubric: Any, sha: Any) -> dict[str, str]:
        if not isinstance(rubric, str) or not isinstance(sha, str):
            return {}
        key = (rubric, sha)
        if key not in self.cache:
            names: dict[str, str] = {}
            try:
                from polaris_bench.judging.rubric import load_rubric

                loaded = load_rubric(rubric)
                if loaded.sha256 == sha:
                    names = {c.id: c.name for c in loaded.criteria}
            except Exception:
                names = {}
            self.cache[key] = names
        return self.cache[key]


@dataclass
class _RunRows:
    run: dict[str, Any]
    samples: _Columns
    scorer_results: _Columns
    scores: _Columns
    criteria: _Columns
    pairwise: _Columns
    ratings: _Columns
    run_scorers: _Columns


def _prompt_id(sid: str, meta: Mapping[str, Any]) -> str:
    pid = meta.get("prompt_id")
    if pid is not None:
        return str(pid)
    base = str(meta.get("sample_id") or sid).split("|", 1)[0]
    return base.split("@", 1)[0]


def _length_value(scores: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    la = scores.get("length_adherence")
    if la is not None and isinstance(la.value, dict):
        return la.value, la.metadata or {}
    for s in scores.values():
        if isinstance(s.value, dict) and "length_ratio" in s.value:
            return s.value, s.metadata or {}
    for s in scores.values():
        if isinstance(s.value, dict) and "words" in s.value:
            return {"words": s.value["words"]}, {}
    return {}, {}


def _ratings_from_results(run_id: str, results: Any, out: _Columns) -> None:
    """story_elo's ``pairwise_ratings`` metric: glicko:<m>, glicko_rd:<m>, bt:<m>,
    bt_low:<m>, bt_high:<m>, win_rate:<m>."""
    if results is None:
        return
    per: dict[tuple[str, str], dict[str, float]] = {}
    for es in results.scores or []:
        for name, m in (es.metrics or {}).items():
            label = m.name or name
            if ":" not in label:
                continue
            kind, model = label.split(":", 1)
            method = {"glicko": "glicko2", "glicko_rd": "glicko2", "bt": "bradley_terry", "bt_low": "bradley_terry",
                      "bt_high": "bradley_terry", "win_rate": "win_rate"}.get(kind)
            if method is None:
                continue
            slot = {"glicko": "rating", "glicko_rd": "rd", "bt": "rating", "bt_low": "ci_low", "bt_high": "ci_high",
                    "win_rate": "rating"}[kind]
            per.setdefault((model, method), {})[slot] = _num(m.value)
    for (model, method), v in sorted(per.items()):
        out.add(run_id, model, method, v.get("rating"), v.get("rd"), v.get("ci_low"), v.get("ci_high"))


def build_rows(log: Any, path: str, fp: str) -> _RunRows:
    """All rows of one log (pure: no database access)."""
    ev = log.eval
    run_id = str(ev.eval_id)
    task_meta = dict(ev.metadata or {})
    benchmark = benchmark_of(ev.task, task_meta)
    model_args = scrub(dict(ev.model_args or {}))
    roles = {}
    for role, cfg in (ev.model_roles or {}).items():
        roles[role] = scrub(
            {"model": cfg.model, "args": dict(cfg.args or {}), "config": _model_dump(cfg.config) or {},
             "base_url": cfg.base_url}
        )
    grader = (ev.model_roles or {}).get("grader")
    grader_model = grader.model if grader is not None else None
    packages = dict(ev.packages or {})
    usage = {k: _model_dump(v) for k, v in ((log.stats.model_usage if log.stats else None) or {}).items()}
    role_usage = {k: _model_dump(v) for k, v in ((getattr(log.stats, "role_usage", None) if log.stats else None) or {}).items()}

    def total(field_: str) -> float | None:
        vals = [u.get(field_) for u in usage.values() if u.get(field_) is not None]
        return sum(vals) if vals else None

    samples = _Columns(_SAMPLE_COLS)
    srs = _Columns(_SR_COLS)
    scores = _Columns(_SCORE_COLS)
    crits = _Columns(_CRIT_COLS)
    pairs = _Columns(_PAIR_COLS)
    ratings = _Columns(_RATING_COLS)
    names = _RubricNames()
    key_counts: dict[tuple[str, str], int] = {}
    judge_models: set[str] = set()
    rubric_shas: set[str] = set()
    template_shas: set[str] = set()
    judge_modes: set[str] = set()

    for sample in log.samples or []:
        sid = str(sample.id)
        epoch = int(sample.epoch or 1)
        meta = sample.metadata or {}
        sscores = sample.scores or {}
        lvalue, lmeta = _length_value(sscores)
        target = _int(meta.get("target_words"))
        if target is None:
            target = _int(lvalue.get("target_words"))
        bkt = meta.get("bucket") or lmeta.get("bucket") or length_bucket(target)
        bkt2 = meta.get("bucket_2k") or lmeta.get("bucket_2k") or length_bucket_2k(target)
        in_tok = out_tok = None
        if sample.model_usage:
            in_tok = sum(u.input_tokens or 0 for u in sample.model_usage.values())
            out_tok = sum(u.output_tokens or 0 for u in sample.model_usage.values())
        output = sample.output
        samples.add(
            run_id, sid, epoch, _prompt_id(sid, meta), target, bkt, bkt2,
            meta.get("genre") if isinstance(meta.get("genre"), str) else None,
            *(_num(lvalue.get(k)) for k in _LENGTH_FIELDS),
            _bool(lvalue.get("blank")), _bool(lvalue.get("truncated")),
            output.choices[0].stop_reason if output is not None and output.choices else None,
            scrub_text(sample.error.message) if sample.error is not None else None,
            (f"{sample.limit.type}" if getattr(sample, "limit", None) is not None else None),
            _num(sample.total_time), _num(sample.working_time), in_tok, out_tok,
            _dump(_clean_json({k: v for k, v in meta.items() if k not in STORY_KEYS})),
        )
        for scorer_name, score in sscores.items():
            value = score.value
            smeta = score.metadata or {}
            nan_scalar = isinstance(value, float) and math.isnan(value)
            reason = smeta.get("unscored_reason") or (score.reason if nan_scalar else None)
            if isinstance(value, dict):
                items = value.items()
            elif nan_scalar:
                items = ()
            else:
                items = (("value", value),)
            for key, v in items:
                num = _num(v)
                text = None
                if num is None and v is not None and not (isinstance(v, float)):
                    text = v if isinstance(v, str) else _dump(_clean_json(v))
                scores.add(run_id, sid, epoch, scorer_name, str(key), num, text)
                key_counts[(scorer_name, str(key))] = key_counts.get((scorer_name, str(key)), 0) + 1
            scored = not nan_scalar and not smeta.get("unscored_reason")
            if not scored and reason is None:
                reason = score.reason or "unscored"
            jm = smeta.get("judge_model")
            is_judged = jm is not None or "rubric_sha256" in smeta or "rubric" in smeta
            if jm is None and is_judged:
                jm = grader_model
            if jm:
                judge_models.add(str(jm))
            for s_, bag in ((smeta.get("rubric_sha256"), rubric_shas), (smeta.get("template_sha256"), template_shas),
                            (smeta.get("judge_mode"), judge_modes)):
                if isinstance(s_, str):
                    bag.add(s_)
            extra = {k: v for k, v in smeta.items() if k not in _SR_META_SKIP}
            srs.add(
                run_id, sid, epoch, scorer_name, scored, scrub_text(str(reason)) if reason else None,
                jm, smeta.get("rubric"), smeta.get("rubric_sha256"), smeta.get("template_sha256"),
                smeta.get("judge_mode"), _int(smeta.get("attempts")),
                smeta.get("label") if isinstance(smeta.get("label"), str) else None,
                score.explanation, _dump(_clean_json(extra)) if extra else None,
            )
            # criteria: {id: score} + evidence {id: {...}}, or [{name, score, evidence}, ...]
            crit = smeta.get("criteria")
            if isinstance(crit, Mapping):
                evidence = smeta.get("evidence") if isinstance(smeta.get("evidence"), Mapping) else {}
                cnames = names(smeta.get("rubric"), smeta.get("rubric_sha256"))
                for cid, cscore in crit.items():
                    just, quotes = _evidence_of(evidence.get(cid))
                    crits.add(run_id, sid, epoch, scorer_name, str(cid), cnames.get(str(cid)), _num(cscore), just, quotes)
            elif isinstance(crit, list):
                for i, item in enumerate(crit, start=1):
                    if not isinstance(item, Mapping):
                        continue
                    just, quotes = _evidence_of(item.get("evidence"))
                    crits.add(run_id, sid, epoch, scorer_name, str(item.get("id") or f"c{i}"), item.get("name"),
                              _num(item.get("score")), just, quotes)
            # story_elo: one pairwise row, margins per order as criteria
            model_x = smeta.get("model_x") or meta.get("model_x")
            model_y = smeta.get("model_y") or meta.get("model_y")
            if model_x and model_y and ("xy" in smeta or "score_x" in (value if isinstance(value, dict) else {})):
                v = value if isinstance(value, dict) else {}
                xy = smeta.get("xy") if isinstance(smeta.get("xy"), Mapping) else {}
                yx = smeta.get("yx") if isinstance(smeta.get("yx"), Mapping) else {}
                pairs.add(
                    run_id, sid, epoch, str(meta.get("sample_id") or sid), _int(meta.get("epoch")),
                    _prompt_id(sid, meta), str(model_x), str(model_y), _num(v.get("score_x")),
                    _num(v.get("plus_diff_xy")), _num(v.get("plus_diff_yx")), xy.get("verdict"), yx.get("verdict"),
                    _bool(v.get("flipped")), jm, smeta.get("rubric_sha256"),
                    scrub_text(str(reason)) if (reason and not scored) else None,
                )
                for order, block in (("xy", xy), ("yx", yx)):
                    margins = block.get("margins")
                    if not isinstance(margins, Mapping):
                        continue
                    evidence = block.get("evidence") if isinstance(block.get("evidence"), Mapping) else {}
                    for cid, m in margins.items():
                        just, quotes = _evidence_of(evidence.get(cid))
                        crits.add(run_id, sid, epoch, scorer_name, f"{order}:{cid}", None, _num(m), just, quotes)
    _ratings_from_results(run_id, log.results, ratings)

    run_scorers = _Columns(("run_id", "scorer", "key", "n"))
    for (scorer_name, key), n in sorted(key_counts.items()):
        run_scorers.add(run_id, scorer_name, key, n)
    scored_names = {s for (s, _k) in key_counts}
    for scorer_name in sorted({r for r in srs.data["scorer"]} - scored_names):
        run_scorers.add(run_id, scorer_name, "", 0)  # a scorer with no value at all (all unscored)

    stats = log.stats
    rev = ev.revision
    run = {
        "run_id": run_id,
        "inspect_run_id": ev.run_id,
        "task_id": ev.task_id,
        "task": ev.task,
        "task_version": str(ev.task_version) if ev.task_version is not None else None,
        "task_file": ev.task_file,
        "benchmark": benchmark,
        "task_args": _dump(_clean_json(scrub(dict(ev.task_args or {})))),
        "model": ev.model,
        "model_label": model_label(ev.model, model_args),
        "model_args": _dump(_clean_json(model_args)),
        "model_base_url": _scrub_url(ev.model_base_url) if ev.model_base_url else None,
        "generate_config": _dump(_clean_json(scrub(_model_dump(ev.model_generate_config) or {}))),
        "model_roles": _dump(_clean_json(roles)),
        "judge_model": grader_model,
        "judge_models": sorted(judge_models),
        "rubric_sha256s": sorted(rubric_shas),
        "template_sha256s": sorted(template_shas),
        "judge_modes": sorted(judge_modes),
        "package_version": task_meta.get("polaris_bench_version")
        or packages.get("polaris_bench")
        or packages.get("polaris-bench"),
        "inspect_version": packages.get("inspect_ai"),
        "packages": _dump(packages),
        "revision_commit": rev.commit if rev is not None else None,
        "revision_dirty": getattr(rev, "dirty", None) if rev is not None else None,
        "status": log.status,
        "error": scrub_text(log.error.message) if log.error is not None else None,
        "created": _ts(ev.created),
        "started_at": _ts(stats.started_at if stats else None),
        "completed_at": _ts(stats.completed_at if stats else None),
        "epochs": ev.config.epochs if ev.config else None,
        "total_samples": log.results.total_samples if log.results else None,
        "completed_samples": log.results.completed_samples if log.results else None,
        "input_tokens": total("input_tokens"),
        "output_tokens": total("output_tokens"),
        "total_tokens": total("total_tokens"),
        "total_cost": total("total_cost"),
        "model_usage": _dump(usage),
        "role_usage": _dump(role_usage),
        "task_metadata": _dump(_clean_json(scrub(task_meta))),
        "results": _dump(_clean_json(_model_dump(log.results))) if log.results else None,
        "log_path": path,
        "log_fingerprint": fp,
        "superseded_by": None,
        "ingested_at": _utcnow(),
    }
    return _RunRows(run, samples, srs, scores, crits, pairs, ratings, run_scorers)


# -- writing ----------------------------------------------------------------------------


def _insert(con: duckdb.DuckDBPyConnection, table: str, cols: _Columns) -> None:
    if not len(cols):
        return
    name = f"_ingest_{table}"
    con.register(name, cols.table())
    try:
        con.execute(f"INSERT INTO {table} ({', '.join(cols.cols)}) SELECT {', '.join(cols.cols)} FROM {name}")
    finally:
        con.unregister(name)


def _delete_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    for table in RUN_TABLES:
        con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
    con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])


def _write_run(con: duckdb.DuckDBPyConnection, rows: _RunRows) -> None:
    run = rows.run
    cols = list(run)
    con.execute(
        f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        [run[c] for c in cols],
    )
    _insert(con, "samples", rows.samples)
    _insert(con, "scorer_results", rows.scorer_results)
    _insert(con, "scores", rows.scores)
    _insert(con, "criteria", rows.criteria)
    _insert(con, "pairwise", rows.pairwise)
    _insert(con, "ratings", rows.ratings)
    _insert(con, "run_scorers", rows.run_scorers)


def _mark_superseded(con: duckdb.DuckDBPyConnection, task_id: str | None, model: str | None) -> None:
    """Among runs of one task_id and model (eval-retry attempts), all but the newest
    are superseded by it."""
    if not task_id:
        return
    rows = con.execute(
        "SELECT run_id FROM runs WHERE task_id = ? AND model IS NOT DISTINCT FROM ? "
        "ORDER BY created DESC NULLS LAST, completed_at DESC NULLS LAST, run_id DESC",
        [task_id, model],
    ).fetchall()
    if not rows:
        return
    latest = rows[0][0]
    con.execute(
        "UPDATE runs SET superseded_by = CASE WHEN run_id = ? THEN NULL ELSE ? END "
        "WHERE task_id = ? AND model IS NOT DISTINCT FROM ?",
        [latest, latest, task_id, model],
    )


def _record_file(con: duckdb.DuckDBPyConnection, path: str, size: int, mtime: float, outcome: LogOutcome,
                 fp: str | None) -> None:
    con.execute(
        "INSERT OR REPLACE INTO log_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [path, size, mtime, outcome.run_id, fp, outcome.outcome, outcome.reason or None, _utcnow()],
    )


def _read_log(path: str) -> Any:
    from inspect_ai.log import read_eval_log

    return read_eval_log(path)


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: str,
    size: int,
    mtime: float,
    *,
    force: bool = False,
    include_started: bool = False,
) -> LogOutcome:
    """Ingest one log file (see the module docstring for the rules)."""
    seen = con.execute("SELECT size, mtime, run_id, outcome FROM log_files WHERE path = ?", [path]).fetchone()
    if (
        seen is not None
        and not force
        and seen[0] == size
        and seen[1] == mtime
        and seen[3] in ("ingested", "replaced", "duplicate", "unchanged")
        and con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [seen[2]]).fetchone()[0]
    ):
        return LogOutcome(path, "unchanged", "already ingested (file unchanged)", seen[2])
    try:
        log = _read_log(path)
    except Exception as exc:  # corrupt, truncated, not a log
        detail = scrub_text(f"{type(exc).__name__}: {exc}".splitlines()[0])[:300]
        outcome = LogOutcome(path, "error", f"unreadable log ({detail})")
        _record_file(con, path, size, mtime, outcome, None)
        return outcome
    run_id = str(log.eval.eval_id)
    if log.status == "started" and not include_started:
        outcome = LogOutcome(path, "skipped", "the eval is still running (status 'started'); ingest it when it ends",
                             run_id)
        _record_file(con, path, size, mtime, outcome, None)
        return outcome
    if not log.samples:
        why = "the log has no samples" + (
            " (written with --no-log-samples)" if log.eval.config and log.eval.config.log_samples is False else ""
        )
        outcome = LogOutcome(path, "skipped", f"{why}; nothing to store per sample (status {log.status})", run_id)
        _record_file(con, path, size, mtime, outcome, None)
        return outcome
    fp = fingerprint(log)
    existing = con.execute("SELECT log_fingerprint, log_path FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if existing is not None and existing[0] == fp and not force:
        same = existing[1] == path
        outcome = LogOutcome(
            path,
            "unchanged" if same else "duplicate",
            "already ingested (same content)" if same else f"same run already ingested from {existing[1]}",
            run_id,
        )
        _record_file(con, path, size, mtime, outcome, fp)
        return outcome
    rows = build_rows(log, path, fp)
    n = len(rows.samples)
    replaced = existing is not None
    outcome = LogOutcome(
        path,
        "replaced" if replaced else "ingested",
        ("log changed since it was ingested; run replaced" if replaced else "") + (
            f"{'; ' if replaced else ''}status {log.status}" if log.status != "success" else ""
        ),
        run_id,
        n,
    )
    con.execute("BEGIN TRANSACTION")
    try:
        _delete_run(con, run_id)  # also clears rows a half-deleted run may have left
        _write_run(con, rows)
        _mark_superseded(con, rows.run["task_id"], rows.run["model"])
        _record_file(con, path, size, mtime, outcome, fp)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return outcome


def ingest(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[str | Path],
    *,
    force: bool = False,
    include_started: bool = False,
    progress: Any = None,
) -> IngestReport:
    """Ingest every log under ``paths``; never stops at a bad log."""
    t0 = time.perf_counter()
    files, problems = discover(paths)
    report = IngestReport(outcomes=list(problems))
    for i, (path, size, mtime) in enumerate(files):
        try:
            outcome = ingest_file(con, path, size, mtime, force=force, include_started=include_started)
        except Exception as exc:  # a bug or a database problem: report, go on
            outcome = LogOutcome(path, "error", scrub_text(f"ingest failed: {type(exc).__name__}: {exc}")[:300])
        report.outcomes.append(outcome)
        if progress is not None:
            progress(i + 1, len(files), outcome)
    report.seconds = time.perf_counter() - t0
    return report
