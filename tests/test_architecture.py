"""The package's structure: no import circles, nothing imports upward, and the command line
loads nothing heavy before its read-ahead starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
from helpers import ROOT


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("totalcare_payments", cache_dir=None)


def _circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan's algorithm)."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = _graph()
    # the package's own __init__ names the public API (imported on first use, and for
    # type checkers): it is the one module allowed to point at everything
    graph.remove_module("totalcare_payments")
    assert _circles(graph) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _circles(graph) == [["a.x", "a.y"]]


def test_each_layer_imports_only_the_layers_below_it() -> None:
    """The contract in ``.importlinter``, checked by import-linter."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--config", str(ROOT / ".importlinter")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_the_command_line_parses_before_loading_the_program() -> None:
    """The command's own modules and the read-ahead load neither pandas nor pydantic: the
    program loads while the read-ahead decodes on the other core."""
    code = (
        "import sys\n"
        "import totalcare_payments.cli.app, totalcare_payments.inputs.readahead\n"
        "heavy = sorted({'pandas', 'pydantic'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
        "from totalcare_payments import load_program\n"
        "assert 'pandas' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
