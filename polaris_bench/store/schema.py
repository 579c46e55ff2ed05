"""The DuckDB schema of the results store, its version, and the migration path.

One file (default ``results/polaris.duckdb``) holds every ingested Inspect log:

* ``runs``: one row per log (Inspect ``eval_id``);
* ``samples``: one row per (run, sample id, epoch) with the story's length metrics;
* ``scorer_results``: one row per (sample, scorer): scored or not, why not, and who
  judged it with which rubric / prompt template / mode;
* ``scores``: one row per (sample, scorer, key): the generic long table of values;
* ``criteria``: one row per judged rubric criterion, with the judge's evidence;
* ``judgements`` / ``judgement_scores`` / ``judgement_criteria``: one row per judge
  panel member's judgement of a sample, its numeric score keys and its criterion
  scores (a single judge is a one-member panel);
* ``pairwise`` / ``ratings``: story_elo verdicts and the ratings a run reported;
* ``story_windows``: one row per window of a story judged along its length
  (the ``story_segments`` scorer, ``-T segments=<words>``);
* ``run_scorers``: which (scorer, key) pairs a run has (small; picks main scores fast);
* ``reference``: published numbers (``polaris reference load``);
* ``model_names``: display names set with ``polaris ingest --name MODEL=DISPLAY``;
* ``log_files``: what ``ingest`` saw per file, for incremental folder ingests;
* ``usage``: tokens per run, role (writer, grader, grader_b, ...) and sample, from
  Inspect's usage (costs are computed from it at query time: ``store.costs``).

``connect`` opens (creating if needed) a database and applies pending migrations.
A migration is a function from version N to N+1 registered in ``MIGRATIONS``; a file
written by a newer schema than this code knows is refused rather than guessed at.
``results/README.md`` documents every column.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from polaris_bench.paths import DEFAULT_DB

SCHEMA_VERSION = 8


class SchemaError(RuntimeError):
    """The database cannot be used with this version of polaris-bench."""


class SchemaOutdated(SchemaError):
    """A read-only open of a database that needs a migration first."""


_V1 = """
CREATE TABLE runs (
    run_id            VARCHAR PRIMARY KEY,  -- Inspect eval_id (one log)
    inspect_run_id    VARCHAR,              -- eval.run_id (one `inspect eval` call)
    task_id           VARCHAR,              -- kept by eval-retry: retries share it
    task              VARCHAR,
    task_version      VARCHAR,
    task_file         VARCHAR,
    benchmark         VARCHAR,
    task_args         JSON,
    model             VARCHAR,
    model_label       VARCHAR,              -- model + distinguishing -M args
    model_args        JSON,                 -- scrubbed of secrets
    model_base_url    VARCHAR,              -- credentials and query string removed
    generate_config   JSON,
    model_roles       JSON,                 -- role -> {model, args, config}, scrubbed
    judge_model       VARCHAR,              -- the grader role's model, if any
    judge_models      VARCHAR[],            -- every judge model named by a score
    rubric_sha256s    VARCHAR[],
    template_sha256s  VARCHAR[],
    judge_modes       VARCHAR[],
    package_version   VARCHAR,              -- polaris-bench version when recorded
    inspect_version   VARCHAR,
    packages          JSON,
    revision_commit   VARCHAR,
    revision_dirty    BOOLEAN,
    status            VARCHAR,              -- success | error | cancelled | started
    error             VARCHAR,
    created           TIMESTAMP,            -- UTC
    started_at        TIMESTAMP,
    completed_at      TIMESTAMP,
    epochs            INTEGER,
    total_samples     INTEGER,
    completed_samples INTEGER,
    input_tokens      BIGINT,
    output_tokens     BIGINT,
    total_tokens      BIGINT,
    total_cost        DOUBLE,
    model_usage       JSON,
    role_usage        JSON,
    task_metadata     JSON,
    results           JSON,                 -- Inspect's metrics, as logged
    log_path          VARCHAR,
    log_fingerprint   VARCHAR,
    superseded_by     VARCHAR,              -- a later retry of the same task_id
    ingested_at       TIMESTAMP
);

CREATE TABLE samples (
    run_id          VARCHAR NOT NULL,
    sample_id       VARCHAR NOT NULL,
    epoch           INTEGER NOT NULL,
    prompt_id       VARCHAR,
    target_words    INTEGER,
    bucket          VARCHAR,   -- short | ID | near | far | beyond
    bucket_2k       VARCHAR,   -- 1-2k .. 10-12k
    genre           VARCHAR,
    words           DOUBLE,
    length_ratio    DOUBLE,
    length_score    DOUBLE,
    length_penalty  DOUBLE,
    self_repetition DOUBLE,
    blank           BOOLEAN,
    truncated       BOOLEAN,
    stop_reason     VARCHAR,
    error           VARCHAR,
    limit_hit       VARCHAR,
    total_time      DOUBLE,
    working_time    DOUBLE,
    input_tokens    BIGINT,
    output_tokens   BIGINT,
    metadata        JSON
);

CREATE TABLE scorer_results (
    run_id          VARCHAR NOT NULL,
    sample_id       VARCHAR NOT NULL,
    epoch           INTEGER NOT NULL,
    scorer          VARCHAR NOT NULL,
    scored          BOOLEAN,
    unscored_reason VARCHAR,
    judge_model     VARCHAR,
    rubric          VARCHAR,
    rubric_sha256   VARCHAR,
    template_sha256 VARCHAR,
    judge_mode      VARCHAR,
    attempts        INTEGER,
    label           VARCHAR,
    explanation     VARCHAR,
    metadata        JSON
);

CREATE TABLE scores (
    run_id     VARCHAR NOT NULL,
    sample_id  VARCHAR NOT NULL,
    epoch      INTEGER NOT NULL,
    scorer     VARCHAR NOT NULL,
    key        VARCHAR NOT NULL,
    value      DOUBLE,      -- NULL when not numeric or NaN
    value_text VARCHAR      -- non-numeric values (e.g. "C"/"I")
);

CREATE TABLE criteria (
    run_id        VARCHAR NOT NULL,
    sample_id     VARCHAR NOT NULL,
    epoch         INTEGER NOT NULL,
    scorer        VARCHAR NOT NULL,
    criterion_id  VARCHAR NOT NULL,
    name          VARCHAR,
    score         DOUBLE,
    justification VARCHAR,
    quotes        VARCHAR[]
);

CREATE TABLE pairwise (
    run_id           VARCHAR NOT NULL,
    sample_id        VARCHAR NOT NULL,
    epoch            INTEGER NOT NULL,
    source_sample_id VARCHAR,     -- the writers' sample id (the prompt pairing)
    source_epoch     INTEGER,
    prompt_id        VARCHAR,
    model_x          VARCHAR,
    model_y          VARCHAR,
    score_x          DOUBLE,      -- X's mean score over both orders (0..1)
    plus_diff_xy     DOUBLE,
    plus_diff_yx     DOUBLE,
    verdict_xy       VARCHAR,
    verdict_yx       VARCHAR,
    flipped          BOOLEAN,
    judge_model      VARCHAR,
    rubric_sha256    VARCHAR,
    unscored_reason  VARCHAR
);

CREATE TABLE ratings (
    run_id   VARCHAR NOT NULL,
    model    VARCHAR NOT NULL,
    method   VARCHAR NOT NULL,    -- glicko2 | bradley_terry | win_rate
    rating   DOUBLE,
    rd       DOUBLE,
    ci_low   DOUBLE,
    ci_high  DOUBLE
);

CREATE TABLE run_scorers (
    run_id VARCHAR NOT NULL,
    scorer VARCHAR NOT NULL,
    key    VARCHAR NOT NULL,
    n      INTEGER
);

CREATE TABLE reference (
    benchmark    VARCHAR NOT NULL,
    model        VARCHAR NOT NULL,
    metric       VARCHAR NOT NULL,   -- aggregate | ID | near | far | slope | length_ratio_* | elo
    value        DOUBLE,
    judge_model  VARCHAR,
    judge_prompt VARCHAR,
    source       VARCHAR,
    published    BOOLEAN,
    note         VARCHAR,
    PRIMARY KEY (benchmark, model, metric)
);

CREATE TABLE log_files (
    path        VARCHAR PRIMARY KEY,
    size        BIGINT,
    mtime       DOUBLE,
    run_id      VARCHAR,
    fingerprint VARCHAR,
    outcome     VARCHAR,   -- ingested | replaced | duplicate | skipped | error
    reason      VARCHAR,
    seen_at     TIMESTAMP
);
"""


def _to_v1(con: duckdb.DuckDBPyConnection) -> None:
    """v1: runs, samples, scorer_results, scores, criteria, pairwise, ratings, reference."""
    con.execute(_V1)


def _to_v2(con: duckdb.DuckDBPyConnection) -> None:
    """v2: runs.display_name and dataset identity, samples.input_sha256, model_names, log_files.warnings."""
    from polaris_bench.store.names import refresh_display_names

    for column, kind in (("display_name", "VARCHAR"), ("dataset_name", "VARCHAR"), ("dataset_sha256", "VARCHAR"),
                         ("dataset_samples", "INTEGER")):
        con.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
    con.execute("ALTER TABLE samples ADD COLUMN input_sha256 VARCHAR")
    con.execute("ALTER TABLE log_files ADD COLUMN warnings VARCHAR[]")
    con.execute(
        "CREATE TABLE model_names (model VARCHAR PRIMARY KEY, display_name VARCHAR NOT NULL, set_at TIMESTAMP)"
    )
    # Runs stored before v2 get their derived display name now; their dataset
    # identity needs the logs (`polaris ingest --force`), so it stays NULL.
    refresh_display_names(con)


_V3 = """
CREATE TABLE judgements (
    run_id          VARCHAR NOT NULL,
    sample_id       VARCHAR NOT NULL,
    epoch           INTEGER NOT NULL,
    scorer          VARCHAR NOT NULL,
    member          INTEGER NOT NULL,   -- 0-based position in the panel (role order)
    role            VARCHAR,            -- Inspect model role (grader, grader_b, ...)
    judge_model     VARCHAR,
    scored          BOOLEAN,            -- false: this member failed after its retries
    attempts        INTEGER,
    unscored_reason VARCHAR
);

CREATE TABLE judgement_scores (
    run_id    VARCHAR NOT NULL,
    sample_id VARCHAR NOT NULL,
    epoch     INTEGER NOT NULL,
    scorer    VARCHAR NOT NULL,
    member    INTEGER NOT NULL,
    key       VARCHAR NOT NULL,         -- the Score value's keys (overall, reward, ...)
    value     DOUBLE
);

CREATE TABLE judgement_criteria (
    run_id       VARCHAR NOT NULL,
    sample_id    VARCHAR NOT NULL,
    epoch        INTEGER NOT NULL,
    scorer       VARCHAR NOT NULL,
    member       INTEGER NOT NULL,
    criterion_id VARCHAR NOT NULL,
    score        DOUBLE
);
"""


def _to_v3(con: duckdb.DuckDBPyConnection) -> None:
    """v3: judge panels: judgements, judgement_scores, judgement_criteria, scorer_results.panel_aggregate."""
    con.execute(_V3)
    con.execute("ALTER TABLE scorer_results ADD COLUMN panel_aggregate VARCHAR")
    # Runs stored before v3 have no member rows until `polaris ingest --force` re-reads
    # their logs; queries that need members say so.


def _to_v4(con: duckdb.DuckDBPyConnection) -> None:
    """v4: judge_audits (one row per check of a judge audit run)."""
    from polaris_bench.store.audits import DDL

    con.execute(DDL)


_V5 = """
CREATE TABLE story_windows (
    run_id          VARCHAR NOT NULL,
    sample_id       VARCHAR NOT NULL,
    epoch           INTEGER NOT NULL,
    idx             INTEGER NOT NULL,   -- 0-based window index in the story
    first_word      BIGINT,             -- 0-based word positions (the paper's word rule), inclusive
    last_word       BIGINT,
    words           BIGINT,
    quality         DOUBLE,             -- the window's judged quality (0-100); NULL when unscored
    value           JSON,               -- the window's whole score dict (every rubric key)
    self_repetition DOUBLE,             -- the paper's formula within the window
    overlap_prior   DOUBLE,             -- 4-gram overlap with all earlier windows (0..1)
    cliche_rate     DOUBLE,             -- cliche hits per 1,000 words of the window
    unscored_reason VARCHAR,
    panel           JSON                -- the members' judgements of the window (panels only)
);
"""


def _to_v5(con: duckdb.DuckDBPyConnection) -> None:
    """v5: story_windows (one row per judged window of a story, from story_segments)."""
    con.execute(_V5)
    # Runs stored before v5 have no window rows until `polaris ingest --force` re-reads them.


def _to_v6(con: duckdb.DuckDBPyConnection) -> None:
    """v6: training_evals and training_eval_judges (checkpoint evaluations during training)."""
    from polaris_bench.store.training import DDL

    con.execute(DDL)


def _to_v7(con: duckdb.DuckDBPyConnection) -> None:
    """v7: story_windows.criteria and .attempts (each window's criterion scores and judge attempts)."""
    con.execute("ALTER TABLE story_windows ADD COLUMN criteria JSON")
    con.execute("ALTER TABLE story_windows ADD COLUMN attempts INTEGER")
    # Windows stored before v7 have NULL here until `polaris ingest --force` re-reads their logs.


_USAGE = """
CREATE TABLE usage (
    run_id             VARCHAR NOT NULL,
    sample_id          VARCHAR,            -- NULL: the run's totals (Inspect's stats)
    epoch              INTEGER,
    role               VARCHAR NOT NULL,   -- writer | grader | grader_b | ... (Inspect model role)
    model              VARCHAR,
    calls              INTEGER,            -- model calls (the sample's model events); NULL when unknown
    input_tokens       BIGINT,             -- charged at the full rate (cache reads/writes excluded)
    output_tokens      BIGINT,
    cache_read_tokens  BIGINT,
    cache_write_tokens BIGINT,
    reasoning_tokens   BIGINT,
    total_tokens       BIGINT,
    batch              BOOLEAN,            -- the role was run through a provider's batch API
    reported_cost      DOUBLE              -- Inspect's own total_cost, when it computed one
);
"""


def _to_v8(con: duckdb.DuckDBPyConnection) -> None:
    """v8: usage (tokens per run, role and sample)."""
    con.execute(_USAGE)
    # Runs stored before v8 have no usage rows until `polaris ingest --force` re-reads
    # their logs; cost views say so.


# version N -> N+1; append new steps here and bump SCHEMA_VERSION.
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {
    0: _to_v1, 1: _to_v2, 2: _to_v3, 3: _to_v4, 4: _to_v5, 5: _to_v6, 6: _to_v7, 7: _to_v8,
}

# Tables whose rows belong to one run (deleted together when a run is replaced).
RUN_TABLES = ("samples", "scorer_results", "scores", "criteria", "pairwise", "ratings", "run_scorers",
              "judgements", "judgement_scores", "judgement_criteria", "judge_audits", "story_windows", "usage")


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_info'"
    ).fetchone()[0]
    if not exists:
        return 0
    row = con.execute("SELECT max(version) FROM schema_info").fetchone()
    return int(row[0] or 0)


def migrate(con: duckdb.DuckDBPyConnection, target: int | None = None) -> list[int]:
    """Apply pending migrations up to ``target`` (default: ``SCHEMA_VERSION``), each in
    its own transaction. Returns the versions reached."""
    target = SCHEMA_VERSION if target is None else target
    version = current_version(con)
    if version > target:
        raise SchemaError(
            f"this results database has schema version {version}, newer than the {target} "
            "this polaris-bench knows; upgrade polaris-bench (or use another --db)"
        )
    applied: list[int] = []
    if version == 0:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_info (version INTEGER, applied_at TIMESTAMP, description VARCHAR)"
        )
    while version < target:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SchemaError(f"no migration from schema version {version} to {version + 1}")
        con.execute("BEGIN TRANSACTION")
        try:
            step(con)
            con.execute(
                "INSERT INTO schema_info VALUES (?, ?, ?)",
                [version + 1, datetime.now(UTC).replace(tzinfo=None),
                 (step.__doc__ or step.__name__).strip().splitlines()[0]],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        version += 1
        applied.append(version)
    return applied


def connect(path: str | Path = DEFAULT_DB, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the results database, creating it and applying migrations as needed.
    ``read_only`` opens an existing file without changing it (queries only)."""
    path = Path(path)
    if str(path) != ":memory:":
        if read_only and not path.exists():
            raise SchemaError(f"{path}: no results database here (run `polaris ingest` first)")
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:  # a 0-byte or foreign file, a lock held by another process
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SchemaError(f"{path}: cannot be opened as a DuckDB results database ({detail})") from exc
    if read_only:
        version = current_version(con)
        if version < SCHEMA_VERSION:
            con.close()
            raise SchemaOutdated(
                f"{path}: schema version {version}, this polaris-bench needs {SCHEMA_VERSION}; "
                "open it once without read-only to migrate"
            )
        if version > SCHEMA_VERSION:
            con.close()
            raise SchemaError(f"{path}: schema version {version} is newer than this polaris-bench ({SCHEMA_VERSION})")
        return con
    migrate(con)
    return con
