"""Pure helpers: server URLs and headers (what google-genai builds), and PCM conversion."""

from __future__ import annotations

import ssl
from pathlib import Path

import numpy as np
import pytest

from openlive.client.audio import rate_from_mime, resample_pcm16, to_pcm16
from openlive.client.endpoint import resolve_endpoint

PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


@pytest.mark.parametrize(
    ("base", "ws_url", "rest"),
    [
        ("http://127.0.0.1:8765", f"ws://127.0.0.1:8765{PATH}", "http://127.0.0.1:8765"),
        ("ws://host:1/", f"ws://host:1{PATH}", "http://host:1"),
        ("https://host:8766", f"wss://host:8766{PATH}", "https://host:8766"),
        ("wss://host", f"wss://host{PATH}", "https://host"),
        ("https://proxy.example/live/", f"wss://proxy.example/live{PATH}", "https://proxy.example/live"),
        ("127.0.0.1:9000", f"ws://127.0.0.1:9000{PATH}", "http://127.0.0.1:9000"),
    ],
)
def test_base_urls_map_to_the_genai_websocket_path(base: str, ws_url: str, rest: str) -> None:
    endpoint = resolve_endpoint(base)
    assert (endpoint.ws_url, endpoint.rest_base, endpoint.headers) == (ws_url, rest, {})


def test_keys_go_in_the_header_and_ephemeral_tokens_use_the_constrained_method() -> None:
    assert resolve_endpoint("http://h", api_key="k", api_version="v1").headers == {"x-goog-api-key": "k"}
    assert resolve_endpoint("http://h", api_version="v1").ws_url.endswith(
        ".v1.GenerativeService.BidiGenerateContent"
    )
    token = resolve_endpoint("http://h", api_key="auth_tokens/abc", api_version="v1alpha")
    assert (
        token.ws_url
        == "ws://h/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
    )
    assert token.headers == {"x-goog-api-key": "auth_tokens/abc", "Authorization": "Token auth_tokens/abc"}


def test_tls_options() -> None:
    context = ssl.create_default_context()
    assert resolve_endpoint("https://h", ssl=context).ssl is context
    assert resolve_endpoint("http://h", ssl=context).ssl is None  # plain ws:// takes no TLS context
    with pytest.raises(FileNotFoundError, match="CA file not found"):
        resolve_endpoint("https://h", ssl=Path("/nonexistent/cert.pem"))
    with pytest.raises(ValueError, match="must start with"):
        resolve_endpoint("ftp://h")


def test_pcm_conversion_of_bytes_and_arrays() -> None:
    assert to_pcm16(b"\x01\x02") == b"\x01\x02"
    with pytest.raises(ValueError, match="even number"):
        to_pcm16(b"\x01")
    floats = np.array([0.5, -0.5, 1.5, -1.5])
    assert np.frombuffer(to_pcm16(floats), "<i2").tolist() == [16384, -16384, 32767, -32767]
    assert np.frombuffer(to_pcm16(np.array([128, 255, 0], np.uint8)), "<i2").tolist() == [0, 32511, -32767]
    assert np.frombuffer(to_pcm16(np.array([2**30, -(2**31)], np.int32)), "<i2").tolist() == [16384, -32767]
    stereo = np.array([[0.5, 0.0], [-1.0, -1.0]], np.float32)
    assert np.frombuffer(to_pcm16(stereo), "<i2").tolist() == [8192, -32767]
    with pytest.raises(ValueError, match="1-D"):
        to_pcm16(np.zeros((2, 2, 2)))


def test_rates() -> None:
    assert rate_from_mime("audio/pcm;rate=24000") == 24000
    assert rate_from_mime("audio/pcm; rate = 16000") == 16000
    assert rate_from_mime("audio/pcm", default=16000) == 16000
    one_second_16k = to_pcm16(np.sin(np.arange(16000) / 10) * 0.5)
    assert len(resample_pcm16(one_second_16k, 16000, 24000)) == 2 * 24000
    assert resample_pcm16(one_second_16k, 16000, 16000) is one_second_16k
