import base64
import hashlib
import hmac

import httpx

from connectors._core import (
    OAuth1HmacSha256,
    RestClient,
    RetryConfig,
    oauth1_sign,
    oauth1_signature_base_string,
    parse_oauth1_header,
)

# RFC 5849 §3.4.1.1: the worked example of a signature base string.
RFC5849_URL = "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b"
RFC5849_PARAMS = [
    ("oauth_consumer_key", "9djdj82h48djs9d2"),
    ("oauth_token", "kkk9d7dh3k39sjv7"),
    ("oauth_signature_method", "HMAC-SHA1"),
    ("oauth_timestamp", "137131201"),
    ("oauth_nonce", "7d8f3e4a"),
    ("c2", ""),
    ("a3", "2 q"),
]
RFC5849_BASE_STRING = (
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q"
    "%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_"
    "key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m"
    "ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk"
    "9d7dh3k39sjv7"
)

# The widely published Twitter "creating a signature" example (HMAC-SHA1).
TWITTER_URL = "https://api.twitter.com/1.1/statuses/update.json?include_entities=true"
TWITTER_PARAMS = [
    ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
    ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
    ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
    ("oauth_signature_method", "HMAC-SHA1"),
    ("oauth_timestamp", "1318622958"),
    ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
    ("oauth_version", "1.0"),
]
TWITTER_CONSUMER_SECRET = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"
TWITTER_TOKEN_SECRET = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"


def test_base_string_matches_rfc5849_example() -> None:
    assert oauth1_signature_base_string("post", RFC5849_URL, RFC5849_PARAMS) == RFC5849_BASE_STRING


def test_signature_matches_published_hmac_sha1_vector() -> None:
    base = oauth1_signature_base_string("POST", TWITTER_URL, TWITTER_PARAMS)
    assert oauth1_sign(base, TWITTER_CONSUMER_SECRET, TWITTER_TOKEN_SECRET, method="HMAC-SHA1") == (
        "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
    )


def test_hmac_sha256_signature_fixed_vector() -> None:
    # The literal was computed independently with `openssl dgst -sha256 -hmac 'j49sk3j29djd&dh893hdasih9'`.
    signature = oauth1_sign(RFC5849_BASE_STRING, "j49sk3j29djd", "dh893hdasih9")
    expected = base64.b64encode(
        hmac.new(b"j49sk3j29djd&dh893hdasih9", RFC5849_BASE_STRING.encode(), hashlib.sha256).digest()
    ).decode()
    assert signature == expected == "lIfydhbOitvsm4DvUwgM0NdR1Mzd08HnXI+q+EG0QKo="


def test_base_uri_normalisation() -> None:
    base = oauth1_signature_base_string("GET", "HTTPS://Example.COM:443/r%20v/X?id=123", [])
    assert base == "GET&https%3A%2F%2Fexample.com%2Fr%2520v%2FX&id%3D123"
    assert oauth1_signature_base_string("GET", "http://example.com:8080/", []).startswith(
        "GET&http%3A%2F%2Fexample.com%3A8080%2F&"
    )


async def test_netsuite_tba_header_verifies_and_changes_per_request() -> None:
    received: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200, json={})

    auth = OAuth1HmacSha256("1234567_SB1", "consumer-key", "consumer-secret-1", "token-id", "token-secret-1")
    async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(api)) as client:
        url = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/customer"
        await client.get(url, params={"q": 'email START_WITH "barbara"', "limit": 5})
        await client.post(url, data={"note": "a b&c"})

    headers = [parse_oauth1_header(r.headers["Authorization"]) for r in received]
    assert {h["realm"] for h in headers} == {"1234567_SB1"}
    assert headers[0]["oauth_nonce"] != headers[1]["oauth_nonce"]
    for request, params in zip(received, headers, strict=True):
        assert params["oauth_signature_method"] == "HMAC-SHA256"
        assert params["oauth_consumer_key"] == "consumer-key"
        assert params["oauth_token"] == "token-id"
        protocol = [(k, v) for k, v in params.items() if k not in ("realm", "oauth_signature")]
        body = [("note", "a b&c")] if request.method == "POST" else []
        base = oauth1_signature_base_string(request.method, str(request.url), protocol + body)
        assert params["oauth_signature"] == oauth1_sign(base, "consumer-secret-1", "token-secret-1")


def test_fixed_nonce_and_clock_give_a_reproducible_header() -> None:
    auth = OAuth1HmacSha256(
        "ACCT", "ck", "cs-secret", "tid", "ts-secret", nonce=lambda: "abc123", clock=lambda: 1700000000.9
    )
    request = httpx.Request("GET", "https://acct.example.test/x?a=1")
    header = auth.authorization_for(request)
    assert header.startswith('OAuth realm="ACCT", oauth_consumer_key="ck", oauth_token="tid", ')
    assert 'oauth_timestamp="1700000000"' in header and 'oauth_nonce="abc123"' in header
    assert header == auth.authorization_for(request)


async def test_each_retry_attempt_is_signed_afresh() -> None:
    received: list[str] = []  # header values as sent; the request object itself is reused per attempt

    def flaky(request: httpx.Request) -> httpx.Response:
        received.append(request.headers["Authorization"])
        return httpx.Response(503 if len(received) == 1 else 200, json={})

    nonces = iter(["nonce-1", "nonce-2", "nonce-3"])
    auth = OAuth1HmacSha256("ACCT", "ck", "cs-secret", "tid", "ts-secret", nonce=lambda: next(nonces))
    retry = RetryConfig(base_delay_s=0.0)
    async with RestClient(
        "netsuite", base_url="https://acct.example.test", auth=auth, transport=httpx.MockTransport(flaky), retry=retry
    ) as client:
        await client.get_json("/record/v1/customer/7")
    assert [parse_oauth1_header(header)["oauth_nonce"] for header in received] == ["nonce-1", "nonce-2"]
