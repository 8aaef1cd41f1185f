"""Benchmark suite: speed at scale, against the budgets of the speed issue.

Run ``.venv/bin/python -m bench`` (or ``bench/run.sh``) from the repository root; it writes
``bench/RESULTS.md`` and ``bench/results.json``. Not part of the unit tests. Every timed case
runs in a fresh subprocess (clean memory figures); see :mod:`bench.__main__`.
"""
