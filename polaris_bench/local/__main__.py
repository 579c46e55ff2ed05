"""``python -m polaris_bench.local [--list] [name] [--force] [--cache-dir DIR]``."""

import sys

from polaris_bench.local.pull import main

sys.exit(main())
