"""bench/MUTATION.md from the ``mutmut results`` listings that scripts/mutation.sh collects."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

COUNTED = {"killed", "survived", "timeout", "no tests", "suspicious"}


def main(directory: str) -> None:
    rows, survivors = [], []
    for path in sorted(Path(directory).glob("*.txt")):
        statuses = Counter()
        for line in path.read_text(encoding="utf-8").splitlines():
            name, _, status = line.strip().rpartition(": ")
            if not name or status not in COUNTED:
                continue
            statuses[status] += 1
            if status != "killed":
                survivors.append((path.stem, name, status))
        total = sum(statuses.values())
        score = statuses["killed"] / total * 100 if total else 0.0
        module = path.stem.removesuffix("_py").replace("_", "/", 1) + ".py"
        rows.append((module, total, statuses["killed"], score, statuses))
    print("# Mutation testing (scripts/mutation.sh, mutmut 3.8)\n")
    print("Written by `bench/mutation_report.py` from the runs in `bench/mutation/`; a mutant")
    print("is named by its function (`x_<function>__mutmut_N`): `mutmut show NAME` in a run's")
    print("scratch copy prints its change.\n")
    print("| module | mutants | killed | score | survived | no tests | timeout |")
    print("|---|---|---|---|---|---|---|")
    for stem, total, killed, score, s in rows:
        print(
            f"| `{stem}` | {total} | {killed} | {score:.1f}% | {s['survived']} "
            f"| {s['no tests']} | {s['timeout']} |"
        )
    print("\n## Mutants not killed\n")
    for _, name, status in survivors:
        print(f"- `{name}` ({status})")


if __name__ == "__main__":
    main(sys.argv[1])
