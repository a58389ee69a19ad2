"""The import rules of DESIGN.md's layer table, enforced by walking every module's imports."""

from __future__ import annotations

import ast
import sys
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
    "store": ({"store", "canonical", "sqlmodel", "sqlalchemy", "alembic"}, {"temporalio", "workflows", "connectors"}),
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


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from temporalio import activity` is recorded as temporalio.activity, which is what the rules name
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
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
    assert imports_of(bad) == {"httpx", "store.Store"}
    assert matches("store.Store", RULES["workflows"][1])
