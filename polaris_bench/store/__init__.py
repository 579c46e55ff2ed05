"""The results store: Inspect logs -> one DuckDB file -> leaderboards, comparisons and
length curves. See ``results/README.md`` for the schema."""

from polaris_bench.store.ingest import IngestReport, LogOutcome, ingest, scrub
from polaris_bench.store.queries import (
    JudgeMixError,
    Leaderboard,
    QueryError,
    compare,
    counts,
    curves,
    elo_leaderboard,
    leaderboard,
    sample_scores,
)
from polaris_bench.store.reference import load_reference
from polaris_bench.store.schema import (
    DEFAULT_DB,
    SCHEMA_VERSION,
    SchemaError,
    SchemaOutdated,
    connect,
    migrate,
)
from polaris_bench.store.windows import position_curves

__all__ = [
    "DEFAULT_DB",
    "SCHEMA_VERSION",
    "IngestReport",
    "JudgeMixError",
    "Leaderboard",
    "LogOutcome",
    "QueryError",
    "SchemaError",
    "SchemaOutdated",
    "compare",
    "connect",
    "counts",
    "curves",
    "elo_leaderboard",
    "ingest",
    "leaderboard",
    "load_reference",
    "migrate",
    "position_curves",
    "sample_scores",
    "scrub",
]
