"""The layering README's Layout promises, read from the source (AST, every import
including the lazy ones inside functions): ``core/`` never imports click, rich or
tabulate, nor anything of ``cli/`` or ``render/``, and its modules import each other
without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tlsmgm_cli"
CORE = PACKAGE / "core"
FORBIDDEN = ("click", "rich", "tabulate", "tlsmgm_cli.cli", "tlsmgm_cli.render")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from x import y`` gives x and x.y)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


CORE_FILES = sorted(CORE.rglob("*.py"))
MODULES = {_module_name(p): p for p in CORE_FILES}


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_imports_no_ui_library(path: Path) -> None:
    bad = sorted(n for n in _imports(path) if any(n == f or n.startswith(f + ".") for f in FORBIDDEN))
    assert bad == [], f"{path.relative_to(PACKAGE)} imports {bad}"


def test_core_modules_form_no_import_cycle() -> None:
    graph = {name: sorted({m for m in _imports(path) if m in MODULES and m != name
                           and not MODULES[m].name == "__init__.py"})
             for name, path in MODULES.items()}
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle in core/: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name)
