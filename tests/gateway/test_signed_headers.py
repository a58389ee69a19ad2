"""Signed timestamp headers are read as ASCII digits of bounded length, and nothing else (finding 4 of issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.hubspot.webhooks import parse_timestamp_ms, sign_v3, verify_signature_v3
from connectors.salesforce.notifications import parse_relay_timestamp, relay_signature, verify_relay_signature

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
NOW_S = str(int(NOW.timestamp()))
NOT_NUMBERS = [
    "",
    "\u00b2",  # superscript two: str.isdigit() says yes, int() says no
    "\u0661\u0662\u0663",  # Arabic-Indic digits: int() and float() read them
    "\uff11\uff12",  # full-width digits
    "9" * 400,
    "-1",
    "+1",
    " 1",
    "1 ",
    "1_000",
    "1e9",
    "1.5",
    "nan",
    "inf",
    "0x10",
]


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_what_is_not_ascii_digits_is_no_timestamp(value: str) -> None:
    assert parse_timestamp_ms(value) is None
    assert parse_relay_timestamp(value) is None


def test_timestamps_are_read_up_to_their_bound() -> None:
    assert parse_timestamp_ms("1793611800000") == 1_793_611_800_000
    assert parse_timestamp_ms("9" * 15) == int("9" * 15)
    assert parse_timestamp_ms("9" * 16) is None
    assert parse_relay_timestamp(NOW_S) == int(NOW_S)
    assert parse_relay_timestamp("9" * 13) is None


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_verifying_never_raises_on_a_bad_timestamp(value: str) -> None:
    signature = sign_v3(method="POST", uri="https://h/x", body=b"[]", timestamp_ms=value, client_secret="s")
    hubspot = {"method": "POST", "uri": "https://h/x", "body": b"[]", "client_secret": "s", "now": NOW}
    assert not verify_signature_v3(timestamp_ms=value, signature=signature, **hubspot)  # type: ignore[arg-type]
    assert not verify_relay_signature(b"{}", value, relay_signature(b"{}", value, "s"), "s", now=NOW)


@pytest.mark.parametrize("signature", ["sha256=\u00e9", "sha256=\ud800", "\u00e9" * 64])
def test_a_signature_outside_ascii_is_a_mismatch_not_an_error(signature: str) -> None:
    assert not verify_relay_signature(b"{}", NOW_S, signature, "s", now=NOW)
    ms = NOW_S + "000"
    args = {"method": "POST", "uri": "https://h/x", "body": b"[]", "client_secret": "s", "now": NOW}
    assert not verify_signature_v3(timestamp_ms=ms, signature=signature, **args)  # type: ignore[arg-type]


def test_well_formed_signatures_still_verify() -> None:
    ms = NOW_S + "000"
    signature = sign_v3(method="POST", uri="https://h/x", body=b"[]", timestamp_ms=ms, client_secret="s")
    args = {"method": "POST", "uri": "https://h/x", "body": b"[]", "client_secret": "s", "now": NOW}
    assert verify_signature_v3(timestamp_ms=ms, signature=signature, **args)  # type: ignore[arg-type]
    assert verify_relay_signature(b"{}", NOW_S, relay_signature(b"{}", NOW_S, "s"), "s", now=NOW)
