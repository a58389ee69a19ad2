"""The deploy tools, built or found once per session (cached in ~/.cache/psflow across sessions)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import cast

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_validate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("psflow_validate_deploy", ROOT / "tools" / "deploy" / "validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


validate = _load_validate()


@pytest.fixture(scope="session")
def deploy_tools() -> dict[str, Path]:
    """kubeconform, kustomize and composecheck: built from tools/deploy/go.mod the first time (about 20 s)."""
    return cast(dict[str, Path], validate.ensure_tools())


@pytest.fixture(scope="session")
def k8s_schemas() -> Path:
    """kubernetes-validate's schemas made standalone for kubeconform (written once into the cache)."""
    return cast(Path, validate.prepare_schemas())
