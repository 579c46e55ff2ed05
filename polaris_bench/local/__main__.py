"""``python -m polaris_bench.local [--list] [name] [--force] [--cache-dir DIR]``."""

import sys

from .pull import main

sys.exit(main())
