"""Opportunity ids per CRM: what is refused before it can become part of a workflow id, and what converges."""

from __future__ import annotations

import pytest

from canonical.record_ids import InvalidRecordId, opportunity_id


@pytest.mark.parametrize(
    ("crm", "given", "canonical"),
    [
        ("salesforce", "0068d0000000001AAA", "0068d0000000001AAA"),
        ("salesforce", "0068d0000000001", "0068d0000000001AAA"),
        ("salesforce", "0068D0000000001AAA", "0068d0000000001AAA"),
        ("salesforce", "0068d00000000AbAAA".lower(), "0068d00000000abAAA"),
        ("salesforce", "0068d00000000Ab", "0068d00000000AbAAI"),
        ("salesforce", "0068d00000000abaai", "0068d00000000AbAAI"),
        ("hubspot", "8123", "8123"),
        ("hubspot", "9223372036854775807", "9223372036854775807"),
    ],
    ids=["sf-18", "sf-15", "sf-18-wrong-case", "sf-18-lower", "sf-15-mixed", "sf-18-case-restored", "hs", "hs-max"],
)
def test_ids_of_one_record_converge_on_one_form(crm: str, given: str, canonical: str) -> None:
    assert opportunity_id(crm, given) == canonical  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("crm", "given", "words"),
    [
        ("salesforce", "", "15 or 18 letters and digits"),
        ("salesforce", " ", "15 or 18 letters and digits"),
        ("salesforce", " 0068d0000000001AAA", "15 or 18 letters and digits"),
        ("salesforce", "0068d000000001AAA", "15 or 18 letters and digits"),
        ("salesforce", "0068d00000000é1AAA", "15 or 18 letters and digits"),
        ("salesforce", "006" + "é" * 297, "15 or 18 letters and digits"),
        ("salesforce", "0068d0000000001AA9", "not a Salesforce id checksum"),
        ("salesforce", "0068d0000000001AAB", "do not match the first 15"),
        ("salesforce", "0018d0000000001AAA", "an Opportunity id starts with 006"),
        ("hubspot", "", "positive whole number"),
        ("hubspot", "-5", "positive whole number"),
        ("hubspot", "0", "positive whole number"),
        ("hubspot", "0123", "positive whole number"),
        ("hubspot", "12.0", "positive whole number"),
        ("hubspot", "\u00b2", "positive whole number"),
        ("hubspot", "\u0661\u0662", "positive whole number"),
        ("hubspot", "9223372036854775808", "positive whole number"),
        ("hubspot", "1" * 400, "positive whole number"),
        ("oracle", "1", "salesforce or hubspot"),
    ],
)
def test_values_that_are_no_id_of_the_crm_are_refused_with_a_reason(crm: str, given: str, words: str) -> None:
    with pytest.raises(InvalidRecordId) as refused:
        opportunity_id(crm, given)  # type: ignore[arg-type]
    assert words in refused.value.reason
    assert (refused.value.crm, refused.value.value) == (crm, given)
    assert len(given) < 10 or given not in refused.value.reason
    assert len(str(refused.value)) < 250


def test_a_long_value_is_shown_shortened_with_its_length() -> None:
    with pytest.raises(InvalidRecordId, match=r"… \(300 characters\)"):
        opportunity_id("salesforce", "x" * 300)
