"""Errors raised early, with messages a planner can act on."""

from __future__ import annotations


class InputError(ValueError):
    """An input file or argument that cannot be used at all (command line exit code 2)."""
