"""Entry point for Inspect (``[project.entry-points.inspect_ai]``): importing this
module registers the project's model providers, so ``--model offline/writer`` and
``--model-role grader=offline/judge`` work from the CLI."""

from .providers import offline  # noqa: F401
