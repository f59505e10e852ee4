"""Model names: which ``setup.model`` strings select which profile.

Gemini Live model ids are aliases of the default profile, so unchanged client code works; openlive's
own profile names select their profile. Any of the prefixes the SDKs add (reference §1.1) is stripped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openlive.protocol.errors import CloseCode, ProtocolError

# The Live model ids that clients name in ``setup.model``, each an alias of the default profile. This is
# the one list: the catalog resolves and lists from it, and docs/models.md points here.
#
# Where it came from (looked up on 2026-12-02): the ai.google.dev model pages (Gemini 3.8 Live, its
# migration notes from gemini-3.1-flash-live-preview, the models overview), the Vertex AI Live API guide
# and the Gemini 3.8 Live developer's guide with its migration section, the Vertex model page of Gemini
# 2.5 Flash with the Live API, and the Firebase AI Logic live-api page (its per-provider model lists).
# Ids Google has retired stay here: an app still naming one keeps working against openlive, which is
# what an alias is for, and accepting a name costs nothing.


@dataclass(frozen=True, slots=True)
class LiveModelId:
    id: str
    api: str  # "gemini" (Developer API), "vertex", or "both"
    status: str  # as Google's pages list it: "GA", "preview", "retired"


LIVE_MODELS: tuple[LiveModelId, ...] = (
    # Current (December 2026).
    LiveModelId("gemini-3.8-live", "both", "GA"),
    LiveModelId("gemini-3.8-live-extended-thinking", "gemini", "GA"),
    LiveModelId("gemini-3.1-flash-live-preview", "gemini", "preview"),
    # Live Translate's model (ai.google.dev live-api/live-translate, looked up 2026-12-02): it takes a
    # translationConfig; openlive's interpreter persona serves it like any Live id (compatibility.md).
    LiveModelId("gemini-3.5-live-translate-preview", "gemini", "preview"),
    LiveModelId("gemini-2.5-flash-native-audio-preview-12-2025", "gemini", "preview"),
    LiveModelId("gemini-2.5-flash-native-audio-preview-09-2025", "gemini", "preview"),
    LiveModelId("gemini-2.5-flash-native-audio-latest", "gemini", "preview"),
    LiveModelId("gemini-live-2.5-flash-native-audio", "vertex", "GA"),
    LiveModelId("gemini-live-2.5-flash-preview-native-audio-09-2025", "vertex", "preview"),
    LiveModelId("gemini-live-2.5-flash", "vertex", "GA"),
    # Retired or superseded, still in samples and apps.
    LiveModelId("gemini-live-2.5-flash-preview-native-audio", "vertex", "retired"),
    LiveModelId("gemini-live-2.5-flash-preview", "gemini", "retired"),
    LiveModelId("gemini-2.5-flash-preview-native-audio-dialog", "gemini", "retired"),
    LiveModelId("gemini-2.5-flash-exp-native-audio-thinking-dialog", "gemini", "retired"),
    LiveModelId("gemini-2.0-flash-live-001", "both", "retired"),
    LiveModelId("gemini-2.0-flash-live-preview-04-09", "vertex", "retired"),
    LiveModelId("gemini-2.0-flash-exp", "gemini", "retired"),
)

GEMINI_LIVE_MODEL_IDS: tuple[str, ...] = tuple(m.id for m in LIVE_MODELS)

_PREFIXES = (
    # projects/{p}/locations/{l}/publishers/google/models/{id}  (Vertex, Firebase Vertex)
    re.compile(r"^projects/[^/]+/locations/[^/]+/publishers/[^/]+/models/"),
    # projects/{firebaseProject}/models/{id}  (Firebase GoogleAI)
    re.compile(r"^projects/[^/]+/models/"),
    # publishers/google/models/{id}  (Vertex)
    re.compile(r"^publishers/[^/]+/models/"),
    # models/{id}  (Developer API)
    re.compile(r"^models/"),
)


def strip_model_prefix(name: str) -> str:
    for prefix in _PREFIXES:
        stripped, n = prefix.subn("", name, count=1)
        if n:
            return stripped
    return name


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str  # without "models/"
    profile: str
    display_name: str
    description: str


class ModelCatalog:
    """Maps model ids to profile names. The first profile given is the default one."""

    def __init__(self, profiles: dict[str, str], default_profile: str) -> None:
        # profiles: profile name -> description
        if default_profile not in profiles:
            raise ValueError(f"unknown default profile {default_profile!r}")
        self._profiles = dict(profiles)
        self.default_profile = default_profile

    def resolve(self, model: str, *, api_version: str = "v1beta") -> str:
        """The profile for ``setup.model``, or a 1008 ``ProtocolError`` in Gemini's words."""
        model_id = strip_model_prefix(model.strip())
        if model_id in self._profiles:
            return model_id
        if model_id in GEMINI_LIVE_MODEL_IDS:
            return self.default_profile
        raise ProtocolError(
            CloseCode.POLICY,
            f"models/{model_id} is not found for API version {api_version}, or is not supported for "
            "bidiGenerateContent. Call ListModels to see the list of available models.",
        )

    def list(self) -> list[ModelInfo]:
        infos = [
            ModelInfo(id=name, profile=name, display_name=name, description=desc)
            for name, desc in self._profiles.items()
        ]
        default_desc = self._profiles[self.default_profile]
        infos += [
            ModelInfo(
                id=gid,
                profile=self.default_profile,
                display_name=gid,
                description=f"Alias of the {self.default_profile} profile: {default_desc}",
            )
            for gid in GEMINI_LIVE_MODEL_IDS
        ]
        return infos
