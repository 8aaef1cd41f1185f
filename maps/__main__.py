"""``python -m maps``: see :mod:`maps.cli`."""

import sys

from maps.cli import main

sys.exit(main())
