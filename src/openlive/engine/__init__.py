"""The conversation engine: sessions, turn-taking, history, tool calls, limits."""

from openlive.engine.engine import Engine
from openlive.engine.models import GEMINI_LIVE_MODEL_IDS, ModelCatalog, ModelInfo, strip_model_prefix
from openlive.engine.outbox import Outbox
from openlive.engine.profile import Profile
from openlive.engine.session import LiveSession, SessionLimits

__all__ = [
    "GEMINI_LIVE_MODEL_IDS",
    "Engine",
    "LiveSession",
    "ModelCatalog",
    "ModelInfo",
    "Outbox",
    "Profile",
    "SessionLimits",
    "strip_model_prefix",
]
