"""Model names: which ``setup.model`` strings select which profile.

Gemini Live model ids are aliases of the default profile, so unchanged client code works; openlive's
own profile names select their profile. Any of the prefixes the SDKs add (reference §1.1) is stripped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openlive.protocol.errors import CloseCode, ProtocolError

# Model ids the Gemini Live API serves (and that the docs and SDK samples use), as of late 2026.
GEMINI_LIVE_MODEL_IDS: tuple[str, ...] = (
    "gemini-2.5-flash-native-audio-preview-12-2025",
    "gemini-2.5-flash-native-audio-preview-09-2025",
    "gemini-2.5-flash-native-audio-latest",
    "gemini-live-2.5-flash-native-audio",
    "gemini-live-2.5-flash-preview",
    "gemini-live-2.5-flash",
    "gemini-2.0-flash-live-001",
    "gemini-2.0-flash-live-preview-04-09",
    "gemini-2.0-flash-exp",
    "gemini-3.1-flash-live-preview",
)

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
