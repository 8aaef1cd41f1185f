"""``python -m geo.db``: create the PostGIS schema, load or export the data (see geo.db.cli)."""

import sys

from geo.db.cli import main

sys.exit(main())
