"""The one-way house: checked over the import graph, independently of import-linter, and
import-linter itself shown to fail the build on a deliberate violation.

Product code is the packages below plus ``app.py``; tests, benchmarks and scripts are not.
"""

from __future__ import annotations

import ast
import configparser
import shutil
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("base", "layers", "geo", "viewmodel", "maps", "dashboard")
PROJECT = {*PACKAGES, "app"}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _modules(root: Path = REPO) -> dict[str, Path]:
    """Dotted name → file of every product module (``app`` included)."""
    found = {"app": root / "app.py"}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The project modules an import statement names (relative imports resolved)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        names = [".".join([*base, *([node.module] if node.module else [])])]
    else:
        names = [node.module or ""]
    return [n for n in names if n.split(".")[0] in PROJECT]


def _imports(modules: dict[str, Path]):
    """(importer, imported, line, inside a function?) for every project import."""
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        in_function: set[int] = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                in_function |= {id(n) for n in ast.walk(fn) if n is not fn}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(node, name, path.name == "__init__.py"):
                    yield name, target, node.lineno, id(node) in in_function


def test_no_project_import_is_hidden_inside_a_function():
    hidden = [
        f"{importer} line {line} imports {target}"
        for importer, target, line, inside in _imports(_modules())
        if inside
    ]
    assert hidden == []


def test_top_level_packages_import_each_other_one_way():
    graph: dict[str, set[str]] = {p: set() for p in PROJECT}
    for importer, target, _, _ in _imports(_modules()):
        a, b = importer.split(".")[0], target.split(".")[0]
        if a != b:
            graph[a].add(b)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"package cycle: {' -> '.join(exc.args[1])}")
    # the order the README draws, foundation first
    assert order.index("base") < order.index("layers") < order.index("geo")
    assert order.index("geo") < order.index("viewmodel") < order.index("maps")
    assert order.index("maps") < order.index("dashboard") < order.index("app")


def test_no_import_cycle_between_any_modules():
    graph: dict[str, set[str]] = {m: set() for m in _modules()}
    for importer, target, _, _ in _imports(_modules()):
        while target not in graph and "." in target:  # `from pkg import name` of a non-module
            target = target.rsplit(".", 1)[0]
        if target in graph and target != importer:
            graph[importer].add(target)
    # a package's __init__ importing its own children is not a cycle of the code's logic
    for module, deps in graph.items():
        deps -= {d for d in deps if module in graph and d.startswith(module + ".")}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        pytest.fail(f"module cycle: {' -> '.join(exc.args[1])}")


def _layers() -> list[list[str]]:
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter", encoding="utf-8")
    text = config["importlinter:contract:one-way"]["layers"]
    return [
        [m.strip() for m in line.replace("|", ":").split(":")]
        for line in text.strip().splitlines()
        if line.strip()
    ]


def test_every_product_module_sits_in_a_layer_of_the_contract():
    """The layers contract lists modules; a new module must be placed in it, not slip past."""
    placed = [m for layer in _layers() for m in layer]
    containers = {"geo", "maps"}  # packages whose modules sit in different layers
    missing = [
        name
        for name in _modules()
        if name not in {"app", *containers}
        and not any(name == m or name.startswith(m + ".") for m in placed)
    ]
    assert missing == []
    imports = {importer for importer, *_ in _imports(_modules())}
    assert not containers & imports  # their __init__ files import nothing


def test_the_layers_run_from_the_ui_down_to_the_foundation():
    order = [layer[0] for layer in _layers()]
    assert order[0] == "dashboard" and order[-1] == "base" and order[-2] == "layers"
    assert order.index("geo.backends") < order.index("viewmodel")
    assert order.index("viewmodel") < order.index("geo.coverage") < order.index("geo.pipeline")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture()
def copy_of_code(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def test_import_linter_keeps_every_contract_on_the_code_as_it_is(copy_of_code):
    result = _lint(copy_of_code)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # a metric that reaches the page
        ("geo/coverage.py", "import dashboard.ui", "One direction"),
        # a computation that loads its own data
        ("geo/attainment.py", "from geo.backends import get_backend", "never import storage"),
        # the renderer that depends on the page
        ("maps/render.py", "import dashboard.upload", "never import the UI"),
        # reading that reaches back into the spatial core
        ("layers/registry.py", "import geo.assign", "One direction"),
    ],
)
def test_import_linter_fails_on_a_deliberate_violation(copy_of_code, module, line, broken):
    with (copy_of_code / module).open("a", encoding="utf-8") as handle:
        handle.write(f"\n{line}  # deliberate violation\n")
    result = _lint(copy_of_code)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert broken in result.stdout
