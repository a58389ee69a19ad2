import logging
import pickle

import pytest

from connectors._core import (
    MASK,
    AuthError,
    BusinessError,
    ConnectorError,
    NotFoundError,
    Outcome,
    RateLimitedError,
    RedactingFilter,
    redact,
    register_secret,
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJ0eXAiOi.abc-def_123", "abc-def_123"),
        ("sent header {'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "dXNlcjpwYXNzd29yZA=="),
        ('{"access_token": "00Dxx!AQ4AQFr", "instance_url": "https://x"}', "00Dxx!AQ4AQFr"),
        ('{"refresh_token":"rt-5f2c","token_type":"Bearer"}', "rt-5f2c"),
        ('{"client_secret": "s3cr3t\\"quoted"}', 's3cr3t\\"quoted'),
        ("{'password': 'hunter22'}", "hunter22"),
        ("GET https://h/x?access_token=tok123&limit=5", "tok123"),
        ("grant_type=refresh_token&refresh_token=rt-987&client_secret=cs-654", "rt-987"),
        ("grant_type=refresh_token&refresh_token=rt-987&client_secret=cs-654", "cs-654"),
        ("client_assertion_type=urn%3Aietf&client_assertion=eyJhbGc.eyJpc3M.sig", "eyJhbGc.eyJpc3M.sig"),
        ('OAuth realm="123_SB1", oauth_token="tid", oauth_signature="q%2Bw%3D"', "q%2Bw%3D"),
        ("assertion eyJhbGciOiJQUzI1NiJ9.eyJpc3MiOiJjbGllbnQifQ.c2lnbmF0dXJl leaked", "c2lnbmF0dXJl"),
    ],
)
def test_patterns_mask_credentials(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked
    assert MASK in masked


def test_ordinary_text_is_untouched() -> None:
    text = "Required fields are missing: [LastName] (grant_type=client_credentials, limit=100)"
    assert redact(text) == text


def test_explicit_and_registered_secrets_are_masked() -> None:
    assert redact("the key is plain-value-42 here", ["plain-value-42"]) == f"the key is {MASK} here"
    register_secret("registered-secret-77", None, "abc")
    assert redact("echo registered-secret-77 and abc") == f"echo {MASK} and abc"


def test_error_string_names_system_status_code_and_hides_secrets() -> None:
    register_secret("client-secret-xyz")
    error = AuthError(
        "workday",
        'token request refused: {"error_description": "bad client client-secret-xyz"} Bearer abc.def',
        status=401,
        code="invalid_client",
        method="POST",
        url="https://wd.example.test/token?client_secret=client-secret-xyz",
    )
    text = str(error)
    assert text.startswith("workday: HTTP 401 invalid_client: token request refused")
    assert "client-secret-xyz" not in text
    assert "abc.def" not in text
    assert "client-secret-xyz" not in error.message
    assert "client-secret-xyz" not in repr(error)
    assert "[auth; POST https://wd.example.test/token?client_secret=***]" in text


def test_error_string_mentions_retry_after() -> None:
    error = RateLimitedError("hubspot", "You have reached your secondly limit.", status=429, retry_after=10)
    assert str(error) == "hubspot: HTTP 429: You have reached your secondly limit. [rate_limited; retry after 10s]"
    assert error.retryable


def test_subclass_outcome_is_fixed() -> None:
    assert NotFoundError("kantata", "gone").outcome is Outcome.NOT_FOUND
    assert ConnectorError("kantata", "odd", outcome=Outcome.BUSINESS).outcome is Outcome.BUSINESS
    with pytest.raises(ValueError, match="always has outcome"):
        NotFoundError("kantata", "gone", outcome=Outcome.TRANSIENT)
    with pytest.raises(TypeError, match="outcome="):
        ConnectorError("kantata", Outcome.BUSINESS)


def test_errors_survive_pickling() -> None:
    error = BusinessError("netsuite", "Invalid quantity", status=400, code="USER_ERROR", details={"path": "item"})
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is BusinessError
    assert (clone.system, clone.status, clone.code, clone.details, str(clone)) == (
        "netsuite",
        400,
        "USER_ERROR",
        {"path": "item"},
        str(error),
    )
    base = pickle.loads(pickle.dumps(ConnectorError("x", "m", outcome=Outcome.TRANSIENT)))
    assert base.outcome is Outcome.TRANSIENT


def test_logging_filter_redacts_messages_args_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.connectors_core.redact")
    logger.addFilter(RedactingFilter(secrets=["filter-only-secret"]))
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("calling %s with %s", "https://h/x?access_token=tok-1", "filter-only-secret")
        try:
            raise RuntimeError("boom Bearer tok-2")
        except RuntimeError:
            logger.exception("failed")
    text = caplog.text
    assert "tok-1" not in text
    assert "filter-only-secret" not in text
    assert "tok-2" not in text
    assert "access_token=***" in text
