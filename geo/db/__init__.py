"""Database administration: ``python -m geo.db init|load|export|status`` (see geo.db.cli)."""
