"""The ``polaris`` command: ``main`` builds the parser; each sub-command family lives
in its own module (``store``, ``models``, ``demo``)."""

from polaris_bench.cli.main import main

__all__ = ["main"]
