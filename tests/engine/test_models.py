"""The model catalog: every current Live model id, with every client's prefix, is the default profile;
anything else is refused with 1008 in Gemini's words."""

from __future__ import annotations

import pytest

from openlive.engine.models import GEMINI_LIVE_MODEL_IDS, LIVE_MODELS, ModelCatalog, strip_model_prefix
from openlive.protocol.errors import CloseCode, ProtocolError

CATALOG = ModelCatalog({"openlive-embedded": "local", "openlive-remote": "remote"}, "openlive-embedded")

# The ids issue 13 found refused: today's Live models on both APIs.
CURRENT = (
    "gemini-3.8-live",
    "gemini-3.8-live-extended-thinking",
    "gemini-3.1-flash-live-preview",
    "gemini-3.5-live-translate-preview",
    "gemini-live-2.5-flash-preview-native-audio-09-2025",
    "gemini-live-2.5-flash-native-audio",
    "gemini-2.5-flash-native-audio-preview-12-2025",
)

PREFIXES = (
    "",
    "models/",
    "publishers/google/models/",
    "projects/my-proj/locations/us-central1/publishers/google/models/",
    "projects/my-firebase-proj/models/",
)


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("model_id", CURRENT)
def test_current_live_ids_are_aliases_of_the_default_profile(model_id: str, prefix: str) -> None:
    assert CATALOG.resolve(prefix + model_id) == "openlive-embedded"


def test_every_listed_id_resolves_and_is_listed_once() -> None:
    assert len(set(GEMINI_LIVE_MODEL_IDS)) == len(GEMINI_LIVE_MODEL_IDS)
    listed = {info.id: info.profile for info in CATALOG.list()}
    for model_id in GEMINI_LIVE_MODEL_IDS:
        assert CATALOG.resolve(model_id) == "openlive-embedded"
        assert listed[model_id] == "openlive-embedded"
    assert listed["openlive-remote"] == "openlive-remote"


def test_catalog_records_are_well_formed() -> None:
    for model in LIVE_MODELS:
        assert model.api in {"gemini", "vertex", "both"}
        assert model.status in {"GA", "preview", "retired"}
        assert model.id == model.id.strip().lower() and "/" not in model.id
    assert {m.id for m in LIVE_MODELS if m.status == "GA"} >= {
        "gemini-3.8-live",
        "gemini-live-2.5-flash-native-audio",
    }


def test_own_profile_names_select_their_profile() -> None:
    assert CATALOG.resolve("models/openlive-remote") == "openlive-remote"


@pytest.mark.parametrize(
    "name",
    [
        "gemini-2.5-flash",  # a Gemini model, but not a Live one
        "gemini-3.8-flash",
        "gemini-3.8-flash-tts",
        "models/gemini-3.8-live-typo",
        "gpt-4o-realtime",
        "",
    ],
)
def test_names_that_are_not_live_models_are_refused_with_1008(name: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        CATALOG.resolve(name, api_version="v1alpha")
    assert caught.value.code == CloseCode.POLICY
    assert "is not found for API version v1alpha" in str(caught.value)


def test_prefixes_are_stripped_once() -> None:
    assert strip_model_prefix("models/gemini-3.8-live") == "gemini-3.8-live"
    assert strip_model_prefix("projects/p/locations/l/publishers/google/models/x") == "x"
    assert strip_model_prefix("gemini-3.8-live") == "gemini-3.8-live"
