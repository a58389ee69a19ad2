import connectors._core as core


def test_public_surface_is_pinned() -> None:
    assert sorted(core.__all__) == sorted(set(core.__all__))
    for name in core.__all__:
        assert getattr(core, name) is not None


def test_every_private_module_export_is_reexported() -> None:
    from connectors._core import (
        _auth,
        _budget,
        _classify,
        _client,
        _connector,
        _errors,
        _grants,
        _ids,
        _oauth1,
        _paging,
        _redact,
        _retry,
        _settings,
    )

    modules = (
        *(_auth, _budget, _classify, _client, _connector, _errors),
        *(_grants, _ids, _oauth1, _paging, _redact, _retry, _settings),
    )
    exported = {name for module in modules for name in module.__all__}
    assert exported == set(core.__all__)


def test_core_imports_no_orchestration_or_storage() -> None:
    import ast
    import pathlib

    allowed = {"httpx", "pydantic", "pydantic_settings", "jwt", "cryptography", "canonical", "connectors"}
    root = pathlib.Path(core.__file__).parent
    import sys

    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in allowed or top in sys.stdlib_module_names, f"{path.name} imports {name}"
