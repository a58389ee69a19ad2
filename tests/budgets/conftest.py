"""A PostgreSQL store for the budget tests: they test what only a shared database can do, so they never skip."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from store import Store
from tests.conftest import POSTGRES_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A migrated store in a schema of its own on $PSFLOW_TEST_POSTGRES_URL's database (dropped after)."""
    if not POSTGRES_URL:
        pytest.fail(
            "the budget tests need PostgreSQL: set PSFLOW_TEST_POSTGRES_URL=postgresql://user@host:port/db "
            "(.ci/run starts one and sets it)",
            pytrace=False,
        )
    schema = f"b_{uuid.uuid4().hex[:10]}"
    admin = Store(POSTGRES_URL)
    with admin.engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    store = Store(url)
    store.upgrade()
    store.engine.dispose()
    try:
        yield url
    finally:
        with admin.engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.engine.dispose()
