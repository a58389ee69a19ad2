"""One SQLite table of JSON records shared by every emulated system.

Each record is addressed by ``(system, kind, id)``; ``kind`` is the system's own object name
("Opportunity", "customer", "time_entry"...). Bodies are JSON objects; top-level fields can be
filtered in SQL with ``json_extract`` so queries over 100k rows stay fast.

All access goes through one connection guarded by a re-entrant lock: FastAPI runs sync
endpoints in a thread pool, and SQLite serialises writers anyway, so one connection is both
the simplest and the fastest option for an emulator.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

__all__ = ["DuplicateKey", "SandboxDB"]

# Non-numeric ids sort after numeric ones ("id" ordering is ORDER BY num, id).
_NON_NUMERIC = 2**62
_KEEP = object()

_metadata = sa.MetaData()
_records = sa.Table(
    "records",
    _metadata,
    sa.Column("system", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("num", sa.Integer, nullable=False),
    sa.Column("ext_key", sa.Text, nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index("records_order", "system", "kind", "num", "id"),
    sa.Index("records_ext_key", "system", "kind", "ext_key", unique=True),
)
_counters = sa.Table(
    "id_counters",
    _metadata,
    sa.Column("system", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("last", sa.Integer, nullable=False),
)
_kv = sa.Table(
    "kv",
    _metadata,
    sa.Column("system", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


class DuplicateKey(Exception):
    """An insert collided with an existing record's id or external key.

    Attributes:
        system: The system of the record.
        kind: The record kind.
        field: ``"id"`` or ``"ext_key"`` — which unique key collided.
        key: The colliding value.
    """

    def __init__(self, system: str, kind: str, field: str, key: str) -> None:
        super().__init__(f"{system}/{kind}: a record with {field}={key!r} already exists")
        self.system = system
        self.kind = kind
        self.field = field
        self.key = key


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in a sandbox record: {value!r}")


def _dumps(body: Mapping[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), default=_json_default)


def _loads(text: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(text)
    return body


def _num(id_: str) -> int:
    if id_.isascii() and id_.isdigit() and len(id_) <= 18:
        return int(id_)
    return _NON_NUMERIC


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _field_sql(field: str) -> str:
    """``json_extract`` of a top-level field, the path written as a literal so expression indexes match.

    Field names come from emulator code and validated query parameters; anything but a plain
    identifier is refused rather than quoted.
    """
    if not _FIELD_NAME.match(field):
        raise ValueError(f"unsupported field name {field!r}: letters, digits and underscores only")
    return f"json_extract(body, '$.{field}')"


class SandboxDB:
    """JSON records, id counters and small key/value state for the emulators.

    Args:
        path: A SQLite file (created with its parent directory if missing) or ``":memory:"``.

    Bodies are stored as JSON. ``date``/``datetime`` become ISO-8601 strings and ``Decimal``
    becomes a JSON number, so what ``get`` returns is what a client would see on the wire.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._engine = sa.create_engine(
            sa.URL.create("sqlite", database=None if self.path == ":memory:" else self.path),
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
        self._lock = threading.RLock()
        self._depth = 0
        self._indexed: set[tuple[str, ...]] = set()
        """Indexes made by `ensure_index` on this connection's database (they outlive resets: rows go, tables stay)."""
        self._conn = self._engine.connect()
        if self.path != ":memory:":
            self._conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        self._conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        # SQLite's default page cache is 2 MiB; a day of 100k time entries and their time bills is
        # hundreds of MiB, and idempotency keys land at random places in their index. 64 MiB keeps
        # the hot index pages in memory.
        self._conn.exec_driver_sql("PRAGMA cache_size=-65536")
        self._conn.commit()
        _metadata.create_all(self._conn)
        self._conn.commit()

    def close(self) -> None:
        """Close the connection; the object must not be used afterwards."""
        with self._lock:
            self._conn.close()
            self._engine.dispose()

    def ensure_index(self, fields: tuple[str, ...]) -> None:
        """An index on these top-level fields (then ``num, id``), for filters a system runs on every page.

        Without it a filter reads every record of the kind; with it, a day's time entries are one
        index range however many other days the table holds, and counting them never reads a body.
        """
        if not fields:
            raise ValueError("an index needs at least one field")
        if fields in self._indexed:
            return  # cheap enough to call on every page that needs it
        columns = ", ".join(_field_sql(field) for field in fields)
        name = "records_by_" + "_".join(fields)
        with self._lock:
            self._exec(f"CREATE INDEX IF NOT EXISTS {name} ON records (system, kind, {columns}, num, id)")
            self._conn.commit()
            self._indexed.add(fields)

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[SandboxDB]:
        """Group writes atomically: everything inside commits together or not at all.

        Nested blocks join the outermost one. Other threads wait until the block ends.
        """
        with self._lock:
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.rollback()
                raise
            self._depth -= 1
            if self._depth == 0:
                self._conn.commit()

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> sa.CursorResult[Any]:
        return self._conn.exec_driver_sql(sql, params)

    # -- records ----------------------------------------------------------------------------

    def insert(
        self,
        system: str,
        kind: str,
        body: Mapping[str, Any],
        *,
        id: str | None = None,
        ext_key: str | None = None,
    ) -> dict[str, Any]:
        """Store a new record and return it as stored.

        Args:
            system: Owning system, e.g. ``"netsuite"``.
            kind: Record kind, e.g. ``"customer"``.
            body: JSON-ready fields. ``body["id"]`` is set to the record id (nothing else is added).
            id: Explicit id; when None the next per-(system, kind) integer is used. Explicit
                numeric ids move the counter past them so later generated ids never collide.
            ext_key: Optional key unique per (system, kind), for upserts by external id.

        Raises:
            DuplicateKey: The id or ext_key is already taken.
        """
        with self.transaction():
            if id is None:
                row = self._exec(
                    "INSERT INTO id_counters (system, kind, last) VALUES (?, ?, 1) "
                    "ON CONFLICT (system, kind) DO UPDATE SET last = last + 1 RETURNING last",
                    (system, kind),
                ).one()
                id = str(row[0])
            else:
                id = str(id)
                if _num(id) != _NON_NUMERIC:
                    self._exec(
                        "INSERT INTO id_counters (system, kind, last) VALUES (?, ?, ?) "
                        "ON CONFLICT (system, kind) DO UPDATE SET last = max(last, excluded.last)",
                        (system, kind, _num(id)),
                    )
            stored = {**body, "id": id}
            text = _dumps(stored)
            try:
                self._exec(
                    "INSERT INTO records (system, kind, id, num, ext_key, body) VALUES (?, ?, ?, ?, ?, ?)",
                    (system, kind, id, _num(id), ext_key, text),
                )
            except sa.exc.IntegrityError:
                if ext_key is not None and self.find_by_ext_key(system, kind, ext_key) is not None:
                    raise DuplicateKey(system, kind, "ext_key", ext_key) from None
                raise DuplicateKey(system, kind, "id", id) from None
        return _loads(text)

    def get(self, system: str, kind: str, id: str) -> dict[str, Any] | None:
        """Return the record, or None."""
        with self._lock:
            row = self._exec(
                "SELECT body FROM records WHERE system = ? AND kind = ? AND id = ?", (system, kind, str(id))
            ).first()
        return None if row is None else json.loads(row[0])

    def find_by_ext_key(self, system: str, kind: str, ext_key: str) -> dict[str, Any] | None:
        """Return the record stored with this external key, or None."""
        with self._lock:
            row = self._exec(
                "SELECT body FROM records WHERE system = ? AND kind = ? AND ext_key = ?", (system, kind, ext_key)
            ).first()
        return None if row is None else json.loads(row[0])

    def ext_key_of(self, system: str, kind: str, id: str) -> str | None:
        """Return the external key a record was stored with (None if none or missing)."""
        with self._lock:
            row = self._exec(
                "SELECT ext_key FROM records WHERE system = ? AND kind = ? AND id = ?", (system, kind, str(id))
            ).first()
        return None if row is None else row[0]

    def update(
        self,
        system: str,
        kind: str,
        id: str,
        changes: Mapping[str, Any],
        *,
        ext_key: Any = _KEEP,
    ) -> dict[str, Any]:
        """Shallow-merge ``changes`` into the record and return it; ``id`` cannot change.

        Args:
            ext_key: When given, also set (or with None clear) the record's external key.

        Raises:
            KeyError: No such record.
            DuplicateKey: The new ext_key belongs to another record.
        """
        with self.transaction():
            current = self.get(system, kind, id)
            if current is None:
                raise KeyError(f"{system}/{kind}/{id}")
            return self._write(system, kind, str(id), {**current, **changes}, ext_key)

    def replace(
        self,
        system: str,
        kind: str,
        id: str,
        body: Mapping[str, Any],
        *,
        ext_key: Any = _KEEP,
    ) -> dict[str, Any]:
        """Replace the record's body (keeping its id) and return it.

        Raises:
            KeyError: No such record.
            DuplicateKey: The new ext_key belongs to another record.
        """
        with self.transaction():
            if self.get(system, kind, id) is None:
                raise KeyError(f"{system}/{kind}/{id}")
            return self._write(system, kind, str(id), dict(body), ext_key)

    def _write(self, system: str, kind: str, id: str, body: dict[str, Any], ext_key: Any) -> dict[str, Any]:
        body["id"] = id
        text = _dumps(body)
        try:
            if ext_key is _KEEP:
                self._exec(
                    "UPDATE records SET body = ? WHERE system = ? AND kind = ? AND id = ?", (text, system, kind, id)
                )
            else:
                self._exec(
                    "UPDATE records SET body = ?, ext_key = ? WHERE system = ? AND kind = ? AND id = ?",
                    (text, ext_key, system, kind, id),
                )
        except sa.exc.IntegrityError:
            raise DuplicateKey(system, kind, "ext_key", str(ext_key)) from None
        return _loads(text)

    def delete(self, system: str, kind: str, id: str) -> bool:
        """Delete the record; True if it existed."""
        with self.transaction():
            result = self._exec("DELETE FROM records WHERE system = ? AND kind = ? AND id = ?", (system, kind, str(id)))
            return result.rowcount > 0

    def delete_where(self, system: str, kind: str, *, where: Mapping[str, Any] | None = None) -> int:
        """Delete every record of one kind matching ``where`` (all when None); return how many."""
        where_sql, params = self._where_sql(where)
        with self.transaction():
            sql = f"DELETE FROM records WHERE system = ? AND kind = ?{where_sql}"
            return self._exec(sql, (system, kind, *params)).rowcount

    @staticmethod
    def _where_sql(where: Mapping[str, Any] | None, after_num: int | None = None) -> tuple[str, list[Any]]:
        clauses: list[str] = [] if after_num is None else ["num > ?"]
        params: list[Any] = [] if after_num is None else [after_num]
        for field, value in (where or {}).items():
            is_id = field == "id"
            column, column_params = ("id", []) if is_id else (_field_sql(field), [])
            if value is None:
                clauses.append(f"{column} IS NULL")
            elif isinstance(value, list | tuple | set | frozenset) and len(value) == 1:
                clauses.append(f"{column} = ?")
                (only,) = value
                column_params.append(str(only) if is_id else only)
            elif isinstance(value, list | tuple | set | frozenset):
                if not value:
                    clauses.append("0")
                    continue
                clauses.append(f"{column} IN ({', '.join('?' * len(value))})")
                column_params += [str(v) if is_id else v for v in value]
            elif isinstance(value, dict):
                raise TypeError(f"where[{field!r}]: objects cannot be compared in SQL, use a predicate")
            else:
                clauses.append(f"{column} = ?")
                column_params.append(str(value) if is_id else value)
            params += column_params
        return "".join(f" AND {c}" for c in clauses), params

    @staticmethod
    def _order_sql(order_by: str, where: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
        descending = order_by.startswith("-")
        field = order_by.lstrip("-")
        direction = " DESC" if descending else ""
        if field == "id":
            return f" ORDER BY num{direction}, id{direction}", []
        fixed = (where or {}).get(field)
        if fixed is not None and (not isinstance(fixed, list | tuple | set | frozenset) or len(fixed) == 1):
            # Every row has the one value asked for: ordering by it is a no-op, and leaving it out
            # lets SQLite walk an index in (num, id) order instead of sorting every match.
            return " ORDER BY num, id", []
        return f" ORDER BY {_field_sql(field)}{direction}, num, id", []

    def query(
        self,
        system: str,
        kind: str,
        *,
        where: Mapping[str, Any] | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order_by: str = "id",
        after_num: int | None = None,
    ) -> list[dict[str, Any]]:
        """Return records of one kind.

        Args:
            where: Top-level field equality, evaluated in SQL. A list/tuple/set value means
                "any of"; None matches a null or missing field; ``"id"`` uses the primary key.
            predicate: Extra filter in Python, applied after ``where`` and before paging.
            offset: Records to skip (after filtering).
            limit: Maximum records to return; None for all.
            order_by: ``"id"`` (numeric for numeric ids, then non-numeric ids as text) or any
                top-level field; prefix ``-`` for descending.
            after_num: Only records whose numeric id is greater (keyset paging, on the primary index).
        """
        where_sql, params = self._where_sql(where, after_num)
        order_sql, order_params = self._order_sql(order_by, where)
        sql = f"SELECT body FROM records WHERE system = ? AND kind = ?{where_sql}{order_sql}"
        all_params = [system, kind, *params, *order_params]
        if predicate is None:
            if limit is not None or offset:
                sql += " LIMIT ? OFFSET ?"
                all_params += [-1 if limit is None else limit, offset]
            with self._lock:
                rows = self._exec(sql, tuple(all_params)).all()
            return [json.loads(r[0]) for r in rows]
        with self._lock:
            rows = self._exec(sql, tuple(all_params)).all()
        matched: list[dict[str, Any]] = []
        skipped = 0
        for (text,) in rows:
            record = json.loads(text)
            if not predicate(record):
                continue
            if skipped < offset:
                skipped += 1
                continue
            matched.append(record)
            if limit is not None and len(matched) >= limit:
                break
        return matched

    def count(
        self, system: str, kind: str, *, where: Mapping[str, Any] | None = None, after_num: int | None = None
    ) -> int:
        """Number of records of one kind matching ``where`` (and numbered after ``after_num``)."""
        where_sql, params = self._where_sql(where, after_num)
        with self._lock:
            row = self._exec(
                f"SELECT count(*) FROM records WHERE system = ? AND kind = ?{where_sql}", (system, kind, *params)
            ).one()
        return int(row[0])

    def counts(self) -> dict[str, dict[str, int]]:
        """Record counts as ``{system: {kind: n}}``."""
        with self._lock:
            rows = self._exec("SELECT system, kind, count(*) FROM records GROUP BY system, kind").all()
        result: dict[str, dict[str, int]] = {}
        for system, kind, n in (tuple(row) for row in rows):
            result.setdefault(system, {})[kind] = int(n)
        return result

    def is_empty(self) -> bool:
        """True when no system holds any record."""
        with self._lock:
            return self._exec("SELECT 1 FROM records LIMIT 1").first() is None

    # -- small JSON state ---------------------------------------------------------------------

    def kv_get(self, system: str, key: str, default: Any = None) -> Any:
        """Return a JSON value stored under ``(system, key)``, or ``default``."""
        with self._lock:
            row = self._exec("SELECT value FROM kv WHERE system = ? AND key = ?", (system, key)).first()
        return default if row is None else json.loads(row[0])

    def kv_set(self, system: str, key: str, value: Any) -> None:
        """Store a JSON value under ``(system, key)``."""
        with self.transaction():
            self._exec(
                "INSERT INTO kv (system, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (system, key) DO UPDATE SET value = excluded.value",
                (system, key, _dumps(value)),
            )

    def kv_delete(self, system: str, key: str) -> bool:
        """Remove ``(system, key)``; True if it existed."""
        with self.transaction():
            return self._exec("DELETE FROM kv WHERE system = ? AND key = ?", (system, key)).rowcount > 0

    def kv_incr(self, system: str, key: str, by: int = 1) -> int:
        """Atomically add ``by`` to an integer value (missing counts as 0); return the new value."""
        with self.transaction():
            row = self._exec(
                "INSERT INTO kv (system, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (system, key) DO UPDATE "
                "SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER) RETURNING value",
                (system, key, by),
            ).one()
        return int(row[0])

    def reset(self) -> None:
        """Delete every record, counter and key/value entry."""
        with self.transaction():
            for table in ("records", "id_counters", "kv"):
                self._exec(f"DELETE FROM {table}")
