"""polaris-bench: long-story writing benchmarks, the POLARIS Story Quality judge,
length-generalization sweeps, a DuckDB results store and a GRPO+HRI trainer."""

__version__ = "0.1.0"
