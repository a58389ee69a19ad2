"""The sandbox is a package of its own: psflow neither ships it nor imports it at runtime."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

SANDBOX = Path(__file__).resolve().parents[1]
REPO = SANDBOX.parent
# psflow's code that may start or read the sandbox: its tests and benchmarks, never the product.
NOT_RUNTIME = {"tests", "bench", "sandbox", "docs", "deploy", ".venv", "build", "dist"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_subpackage_is_in_the_wheel() -> None:
    config = tomllib.loads((SANDBOX / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(("sandbox", *init.parent.relative_to(SANDBOX).parts))
        for init in SANDBOX.rglob("__init__.py")
        if "tests" not in init.relative_to(SANDBOX).parts
    }
    assert config["package-dir"] == {"sandbox": "."}
    assert set(config["packages"]) == on_disk


def test_psflow_does_not_ship_the_sandbox() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = setuptools["packages"]["find"]
    assert not any(pattern.startswith("sandbox") for pattern in found["include"])
    assert "sandbox*" in found["exclude"]


def test_psflow_runtime_code_does_not_import_the_sandbox() -> None:
    runtime = [
        path
        for path in REPO.rglob("*.py")
        if path.relative_to(REPO).parts[0] not in NOT_RUNTIME and not path.relative_to(REPO).parts[0].startswith(".")
    ]
    assert runtime
    assert [str(path.relative_to(REPO)) for path in runtime if "sandbox" in _imports(path)] == []


def test_the_sandbox_tests_import_no_psflow_code() -> None:
    psflow = {path.name for path in REPO.iterdir() if (path / "__init__.py").exists()} - {"sandbox", "tests"}
    psflow |= {"worker", "cli", "tests"}
    offenders = {
        f"{path.relative_to(REPO)} imports {name}"
        for path in (SANDBOX / "tests").rglob("*.py")
        for name in _imports(path) & psflow
    }
    assert offenders == set()
