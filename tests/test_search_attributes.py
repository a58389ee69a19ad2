"""psflow's search attributes fit SQL visibility on a self-hosted cluster: 10 Keyword, 3 of every other type."""

from __future__ import annotations

from collections import Counter

from workflows.search_attributes import ALL, dev_server_flags

SQL_VISIBILITY_LIMITS = {"Keyword": 10}
OTHER_TYPES_LIMIT = 3


def test_every_type_stays_within_sql_visibility_limits() -> None:
    per_type = Counter(key._metadata_type for key in ALL)
    for kind, count in per_type.items():
        assert count <= SQL_VISIBILITY_LIMITS.get(kind, OTHER_TYPES_LIMIT), f"{count} {kind} attributes: {per_type}"


def test_names_are_unique_and_the_contract_keys_are_registered() -> None:
    names = [key.name for key in ALL]
    assert len(names) == len(set(names))
    flags = dev_server_flags()
    assert "ContractId=Keyword" in flags and "AmendmentVersion=Int" in flags
