#!/usr/bin/env bash
# Mutation testing of the core modules with mutmut, in a scratch copy of the committed tree
# (not part of CI: it runs for a long time). Writes bench/MUTATION.md: the score per module and
# every surviving mutant, which a test should kill or the file should explain.
#
#   scripts/mutation.sh                       every core module below (hours on 2 cores)
#   scripts/mutation.sh geo/attainment.py     one module, with the tests listed for it
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# module → the test files that state its behaviour (mutmut runs only those, per mutant)
declare -A TESTS=(
  [geo/attainment.py]="tests/test_coverage_attainment.py tests/test_plan_tables.py"
  [base/crs.py]="tests/test_crs.py"
  [geo/assign.py]="tests/test_assign.py tests/test_speed_invariants.py"
  [geo/coverage.py]="tests/test_coverage_attainment.py tests/test_assign.py"
  [geo/classify.py]="tests/test_classify_render.py"
  [geo/export.py]="tests/test_export_cli.py tests/test_analyst_files.py"
  [geo/backends/_registry.py]="tests/test_registry_saving.py"
  [geo/backends/saving.py]="tests/test_registry_saving.py"
)
modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then modules=("${!TESTS[@]}"); fi

scripts/setup.sh --dev >/dev/null
.venv/bin/python -m pip install --quiet "mutmut==3.8.1"

out="$root/bench/mutation"
mkdir -p "$out"
for module in "${modules[@]}"; do
  tests=${TESTS[$module]:-}
  if [ -z "$tests" ]; then echo "mutation.sh: no tests listed for $module" >&2; exit 2; fi
  work=$(mktemp -d)
  git archive HEAD | tar -x -C "$work"
  ln -s "$root/.venv" "$work/.venv"
  {
    echo ""
    echo "[tool.mutmut]"
    echo 'source_paths = ["base", "layers", "geo", "viewmodel", "maps", "dashboard"]'
    echo "only_mutate = [\"$module\"]"
    echo 'also_copy = ["data", "tests", "app.py", "static", ".streamlit", "bench", "scripts"]'
    printf 'pytest_add_cli_args_test_selection = [%s]\n' "$(printf '"%s", ' $tests | sed 's/, $//')"
  } >> "$work/pyproject.toml"
  name=$(echo "$module" | tr '/.' '__')
  (cd "$work" && .venv/bin/mutmut run >/dev/null 2>&1 || true
   .venv/bin/mutmut results --all true > "$out/$name.txt" 2>&1 || true)
  rm -rf "$work"
  echo "mutation.sh: $module done" >&2
done
.venv/bin/python bench/mutation_report.py "$out" > bench/MUTATION.md
echo "wrote bench/MUTATION.md" >&2
