"""The import rules of DESIGN.md's layer table, enforced by walking every module's imports.

Imports are read wherever they stand (module level, inside functions, under ``TYPE_CHECKING``), and
relative ones are resolved to the module they name, so ``from ..gateway import app`` counts as
importing ``gateway``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {
    "canonical", "connectors", "activities", "workflows", "store", "sandbox", "gateway", "stack", "bench",
    "commands", "worker", "cli",
}  # fmt: skip
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

# layer → (allowed top-level imports besides stdlib, forbidden ones; "x.y" entries are prefixes)
RULES: dict[str, tuple[set[str], set[str]]] = {
    "canonical": ({"canonical", "pydantic", "pydantic_core"}, {"temporalio", "httpx", "sqlmodel", "sqlalchemy"}),
    "connectors": (
        {"connectors", "canonical", "httpx", "pydantic", "pydantic_settings", "jwt", "cryptography"},
        {"temporalio", "store", "sqlmodel", "sandbox", "workflows", "activities"},
    ),
    "activities": (
        {
            "activities",
            "canonical",
            "connectors",
            "store",
            "temporalio.activity",
            "temporalio.exceptions",
            "temporalio.common",
            "pydantic",
            "httpx",
        },
        {"workflows", "temporalio.workflow", "temporalio.client", "temporalio.worker"},
    ),
    "workflows": (
        {
            "workflows",
            "canonical",
            "activities",
            "temporalio.workflow",
            "temporalio.common",
            "temporalio.exceptions",
            "pydantic",
        },
        {"httpx", "sqlmodel", "sqlalchemy", "store", "connectors", "temporalio.client", "temporalio.worker"},
    ),
    "store": (
        {"store", "canonical", "sqlmodel", "sqlalchemy", "alembic", "psycopg"},
        {"temporalio", "workflows", "connectors"},
    ),
    # shared by the composition roots (worker, CLI, gateway, benchmarks), so it imports none of them
    "stack": (
        {
            "stack",
            "canonical",
            "connectors",
            "activities",
            "workflows",
            "store",
            "temporalio",
            "pydantic",
            "pydantic_settings",
            "httpx",
            "opentelemetry",
            "platformdirs",
            "psutil",
            # payload encryption (stack.codec) and its HTTP codec server (stack.codec_server)
            "cryptography",
            "fastapi",
            "google.protobuf",
            "uvicorn",
        },
        {"gateway", "commands", "bench", "worker", "cli", "sandbox", "tests"},
    ),
    "sandbox": (
        {
            "sandbox",
            "fastapi",
            "starlette",
            "uvicorn",
            "sqlmodel",
            "sqlalchemy",
            "pydantic",
            "jwt",
            "cryptography",
            "httpx",
            "anyio",
        },
        FIRST_PARTY - {"sandbox"},
    ),
}


def module_parts(path: Path, root: Path = ROOT) -> list[str]:
    """The dotted name of the module at ``path`` under ``root``, as parts (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Every module a file imports, absolute; ``from m import n`` is recorded as ``m.n``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_parts(path, root)
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # `.` is the file's package, each further dot one package up; past the top is the repo root
                if node.level - 1 > len(package):
                    raise ValueError(f"{path}: relative import of level {node.level} leaves the repository")
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # `from temporalio import activity` is recorded as temporalio.activity, which is what the rules name
            found.update(f"{module}.{alias.name}" if module else alias.name for alias in node.names)
    return found


def matches(name: str, patterns: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in patterns)


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_follow_the_design(layer: str) -> None:
    allowed, forbidden = RULES[layer]
    violations = []
    files = sorted(p for p in (ROOT / layer).rglob("*.py") if not p.is_relative_to(ROOT / "sandbox" / "tests"))
    assert files, f"layer {layer}/ has no modules"
    for path in files:
        for name in sorted(imports_of(path)):
            permitted = name.split(".")[0] in STDLIB or matches(name, allowed)
            if matches(name, forbidden) or not permitted:
                violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not violations, "layer rules broken:\n" + "\n".join(violations)


def test_the_check_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import httpx\nfrom store import Store\n")
    assert imports_of(bad, tmp_path) == {"httpx", "store.Store"}
    assert matches("store.Store", RULES["workflows"][1])


TOP_LEVEL = FIRST_PARTY | {"tests"}


def sources(name: str, root: Path = ROOT) -> list[Path]:
    """The files of a top-level package (``stack/``) or module (``worker.py``)."""
    module = root / f"{name}.py"
    return [module] if module.is_file() else sorted((root / name).rglob("*.py"))


def package_graph(names: set[str], root: Path = ROOT) -> dict[str, dict[str, str]]:
    """For each top-level name, the other top-level names it imports, each with one file that does."""
    graph: dict[str, dict[str, str]] = {name: {} for name in names}
    for name in sorted(names):
        for path in sources(name, root):
            for imported in sorted(imports_of(path, root)):
                target = imported.split(".")[0]
                if target in names and target != name:
                    graph[name].setdefault(target, f"{path.relative_to(root)} imports {imported}")
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> Iterator[list[str]]:
    """Each import cycle once, as the names along it from its smallest (first name repeated at the end)."""

    def paths(start: str, goal: str, trail: list[str]) -> Iterator[list[str]]:
        for nxt in sorted(graph[trail[-1]]):
            if nxt == goal:
                yield [*trail, nxt]
            elif nxt not in trail and nxt > start:  # each cycle is found from its smallest name only
                yield from paths(start, goal, [*trail, nxt])

    for start in sorted(graph):
        yield from paths(start, start, [start])


def test_no_import_cycles_between_top_level_packages() -> None:
    graph = package_graph(TOP_LEVEL)
    found = [
        " → ".join(cycle) + "\n" + "\n".join(f"    {graph[a][b]}" for a, b in pairwise(cycle))
        for cycle in cycles(graph)
    ]
    assert not found, "import cycles between top-level packages:\n" + "\n".join(found)


def test_the_cycle_check_counts_relative_imports(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "__init__.py").write_text("")
    (tmp_path / "a" / "m.py").write_text("def f() -> None:\n    from b.sub.n import g\n")
    (tmp_path / "b" / "sub").mkdir(parents=True)
    (tmp_path / "b" / "__init__.py").write_text("from .sub import n\n")
    (tmp_path / "b" / "sub" / "n.py").write_text("from ...a import m\n")
    (tmp_path / "c.py").write_text("import a\n")
    assert imports_of(tmp_path / "b" / "__init__.py", tmp_path) == {"b.sub.n"}
    assert imports_of(tmp_path / "b" / "sub" / "n.py", tmp_path) == {"a.m"}
    graph = package_graph({"a", "b", "c"}, tmp_path)
    assert list(cycles(graph)) == [["a", "b", "a"]]


@pytest.mark.parametrize("root", ["gateway", "commands", "bench"])
def test_composition_roots_get_their_client_from_stack_not_from_the_worker(root: str) -> None:
    importers = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sources(root)
        for name in sorted(imports_of(path))
        if matches(name, {"worker"})
    ]
    assert not importers, "use stack.client.connect (and stack.flows to start a flow):\n" + "\n".join(importers)
