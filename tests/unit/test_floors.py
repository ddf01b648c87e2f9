"""The house stands in floors: imports only point down, the portal never imports the sandbox, only the
gateway imports Azure's SDK or MSAL, and domain actions take values, never a request. Read from the
source with `ast`, counting imports hidden inside functions."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Lowest first: each floor is a folder of the tree, and a module belongs to the longest floor its name starts with.
FLOORS = (
    ("the Azure gateway", "core.gateway"),
    ("the shared base", "core"),
    ("the trail", "trail"),
    ("accounts", "accounts"),
    ("vms", "vms"),
    ("requests", "requests_app"),
    ("the audit archive and report", "audit"),
    ("the API", "api"),
    ("the project shell", "jitportal"),
)
PORTAL = tuple(dict.fromkeys(folder.split(".")[0] for _, folder in FLOORS))


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every dotted name an import in `path` may bind, relative imports made absolute; TYPE_CHECKING-only
    imports are not counted, so they are not allowed either."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(filter(None, [*anchor, node.module]))
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


def _modules(*packages: str) -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for package in packages for p in (ROOT / package).rglob("*.py")}


def _graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """Module → the project modules it imports: each imported name is the longest module it names or is in."""

    def resolve(name: str) -> str | None:
        parts = name.split(".")
        return next((m for k in range(len(parts), 0, -1) if (m := ".".join(parts[:k])) in modules), None)

    return {name: {t for t in map(resolve, imported) if t and t != name} for name, imported in modules.items()}


def _floor(module: str) -> int:
    within = [i for i, (_, folder) in enumerate(FLOORS) if module == folder or module.startswith(folder + ".")]
    return max(within, key=lambda i: len(FLOORS[i][1]))


def _upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{m} ({FLOORS[_floor(m)][0]}) imports {t} ({FLOORS[_floor(t)][0]})"
        for m, targets in graph.items()
        for t in targets
        if _floor(t) > _floor(m)
    )


def test_every_import_points_to_the_same_floor_or_below():
    graph = _graph(_modules(*PORTAL))
    assert "trail.chain" in graph["vms.actions"] and "vms.snapshots" in graph["audit.archive"]  # really read
    assert _upward(graph) == []


def test_every_package_of_the_tree_stands_on_a_floor():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "sandbox", "cli"}
    assert packages == set(PORTAL)


def test_whole_packages_stand_in_the_same_order():
    """Folded to their folders, the imports still point down: no package leans on one above it as a whole."""
    graph = _graph(_modules(*PORTAL))
    folded: dict[str, set[str]] = {}
    for module, targets in graph.items():
        folded.setdefault(FLOORS[_floor(module)][1], set()).update(FLOORS[_floor(t)][1] for t in targets)
    assert _upward(folded) == []
    assert "core.gateway" in folded["core"] and "trail" in folded["accounts"]  # really folded


def test_a_lower_floor_would_be_caught():
    assert _upward({"core.gateway.parse": {"core.durations"}}) == [
        "core.gateway.parse (the Azure gateway) imports core.durations (the shared base)"
    ]


@pytest.mark.parametrize("packages", [PORTAL, ("sandbox",)])
def test_no_import_cycle(packages):
    try:
        TopologicalSorter(_graph(_modules(*packages))).prepare()
    except CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_portal_never_imports_the_sandbox():
    offenders = sorted(
        m
        for m, imported in _modules(*PORTAL).items()
        if any(i == "sandbox" or i.startswith("sandbox.") for i in imported)
    )
    assert offenders == []


def test_only_the_gateway_imports_azure_or_msal():
    offenders = sorted(
        m
        for m, imported in _modules(*PORTAL).items()
        if not m.startswith("core.gateway") and any(i.split(".")[0] in ("azure", "msal") for i in imported)
    )
    assert offenders == []


def test_domain_actions_take_values_not_requests():
    actions = [p for package in PORTAL for p in (ROOT / package).rglob("actions.py")]
    assert len(actions) >= 3
    offenders = [
        f"{p.relative_to(ROOT)}: {node.name}({arg.arg})"
        for p in actions
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.FunctionDef)
        for arg in node.args.args + node.args.kwonlyargs
        if arg.arg == "request" or "HttpRequest" in ast.unparse(arg.annotation or ast.Constant(""))
    ]
    assert offenders == []


def test_the_command_stands_outside_the_portal():
    """cli/ is its own distribution: it talks to the portal's API, never imports Django, the portal or the sandbox."""
    modules = {_module_name(p): _imports(p) for p in (ROOT / "cli").rglob("*.py")}
    assert "cli.jit_cli.main" in modules  # really read
    forbidden = ("django", "sandbox", *PORTAL)
    offenders = sorted(
        f"{m} imports {i}" for m, imported in modules.items() for i in imported if i.split(".")[0] in forbidden
    )
    assert offenders == []
