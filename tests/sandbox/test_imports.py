"""The sandbox's modules stand in floors: no import cycle, counting imports inside functions."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sandbox"


class _Imports(ast.NodeVisitor):
    """Every dotted name an import may bind, with relative imports made absolute (the package is flat)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names |= {alias.name for alias in node.names}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = ".".join(filter(None, ["sandbox", node.module])) if node.level else node.module or ""
        self.names |= {base, *(f"{base}.{alias.name}" for alias in node.names)}


def import_graph() -> dict[str, set[str]]:
    modules = {path.stem: path for path in PACKAGE.glob("*.py")}
    graph = {}
    for name, path in modules.items():
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(), str(path)))
        graph[name] = {parts[1] for parts in (n.split(".") for n in visitor.names)
                       if len(parts) == 2 and parts[0] == "sandbox" and parts[1] in modules}
    return graph


def test_the_sandbox_has_no_import_cycle():
    graph = import_graph()
    assert {"arm", "control", "identity"} <= graph["server"] and "jit" in graph["seed"]  # the graph is really read
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        raise AssertionError(f"import cycle: {' -> '.join(error.args[1])}") from None
