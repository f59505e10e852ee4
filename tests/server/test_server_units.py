"""Pure pieces of the server: path matching, the token bucket, token minting rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openlive.protocol.errors import ProtocolError
from openlive.server.paths import LivePath, collapse_slashes, match_live_path
from openlive.server.ratelimit import TokenBucket
from openlive.server.tokens import TokenIssuer, TokenRequestError, parse_time
from openlive.store import MemoryTokenStore


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent", LivePath("v1", False)),
        (
            "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained",
            LivePath("v1alpha", True),
        ),
        (
            "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent",
            LivePath("v1beta1", False),
        ),
        (
            "/ws/google.firebase.vertexai.v1beta.LlmBidiService/BidiGenerateContent/locations/europe-west4",
            LivePath("v1beta", False),
        ),
        ("/ws/google.ai.generativelanguage.v3.GenerativeService.BidiGenerateContent", None),
        ("/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContentX", None),
        ("/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent/locations/", None),
    ],
)
def test_match_live_path(path: str, expected: LivePath | None) -> None:
    assert match_live_path(path) == expected


def test_collapse_slashes() -> None:
    assert collapse_slashes("//ws///a//b") == "/ws/a/b"


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10.0, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.1  # one message's worth of refill
    assert bucket.take() and not bucket.take()
    now[0] += 100.0  # refills only up to the burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_parse_time_accepts_rfc3339_variants() -> None:
    assert parse_time("2030-01-02T03:04:05Z", "t") == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_time("2030-01-02T03:04:05.123456789Z", "t").microsecond == 123456
    assert parse_time("2030-01-02T05:04:05+02:00", "t") == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(TokenRequestError):
        parse_time(12, "t")


async def test_token_issuer_spends_uses_and_forgets_old_tokens() -> None:
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    store = MemoryTokenStore(clock=lambda: now[0].timestamp())
    issuer = TokenIssuer(store, clock=lambda: now[0])
    token = await issuer.create({"uses": 2})
    opened = await issuer.check_open(token.name)
    assert (opened.name, opened.uses, opened.expire_time) == (token.name, 2, token.expire_time)
    await issuer.spend(opened, resuming=False)
    await issuer.spend(await issuer.check_open(token.name), resuming=False)
    with pytest.raises(ProtocolError) as info:
        await issuer.spend(opened, resuming=False)
    assert info.value.code == 1008
    await issuer.spend(opened, resuming=True)  # resumption is free
    now[0] += timedelta(minutes=35)  # expired 5 minutes ago: still known, as expired
    with pytest.raises(ProtocolError, match="expired"):
        await issuer.check_open(token.name)
    now[0] += timedelta(minutes=10)
    await issuer.create({})  # minting sweeps the long-expired ones
    assert len(store) == 1
    with pytest.raises(ProtocolError, match="not valid"):
        await issuer.check_open(token.name)
