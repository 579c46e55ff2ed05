"""Inspect model providers shipped with polaris-bench."""
