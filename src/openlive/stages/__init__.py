"""Stage interfaces: one small typed protocol per job in the pipeline.

The engine talks to models only through these. Backends (``openlive.backends``) implement them with
embedded models or remote inference servers; tests implement them with scripted fakes.
"""

from openlive.stages.language_model import (
    CallStarted,
    ChatDone,
    ChatEvent,
    ChatMessage,
    ChatRequest,
    LanguageModel,
    PromptPrefiller,
    SamplingParams,
    TextDelta,
    ToolCallRequest,
)
from openlive.stages.search import Passage, SearchProvider
from openlive.stages.speech import (
    RecognitionResult,
    RecognitionStream,
    SpeechRecognizer,
    SpeechSynthesizer,
    TurnDetector,
    VadStream,
    VoiceActivityDetector,
)
from openlive.stages.vision import (
    FrameDescriber,
    FrameDescriberBusy,
    FrameDescriberStream,
    FrameDescription,
)

__all__ = [
    "CallStarted",
    "ChatDone",
    "ChatEvent",
    "ChatMessage",
    "ChatRequest",
    "FrameDescriber",
    "FrameDescriberBusy",
    "FrameDescriberStream",
    "FrameDescription",
    "LanguageModel",
    "Passage",
    "PromptPrefiller",
    "RecognitionResult",
    "RecognitionStream",
    "SamplingParams",
    "SearchProvider",
    "SpeechRecognizer",
    "SpeechSynthesizer",
    "TextDelta",
    "ToolCallRequest",
    "TurnDetector",
    "VadStream",
    "VoiceActivityDetector",
]
