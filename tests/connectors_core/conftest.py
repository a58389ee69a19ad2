from collections.abc import Iterator

import pytest

from connectors._core import RateBudget


@pytest.fixture(autouse=True)
def _fresh_budget_registry() -> Iterator[None]:
    RateBudget.reset_registry()
    yield
    RateBudget.reset_registry()
