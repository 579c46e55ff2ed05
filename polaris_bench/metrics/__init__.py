"""Measurements of a story that need no LLM: length (words, targets, buckets, the
paper's length scores, blank detection) and self-repetition."""
