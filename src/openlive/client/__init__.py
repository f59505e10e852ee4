"""The openlive Python SDK: Firebase AI Logic's ``LiveModel`` / ``LiveSession`` for any Live API server.

    async with LiveModel("gemini-2.5-flash-native-audio-preview-12-2025").connect() as session:
        controller = await session.start_audio_conversation()
        ...
        await controller.stop()

See docs/client.md.
"""

from openlive.client.audio import INPUT_RATE, OUTPUT_RATE, read_wav, write_wav
from openlive.client.config import LiveGenerationConfig
from openlive.client.conversation import AudioConversationController, start_audio_conversation
from openlive.client.endpoint import resolve_endpoint
from openlive.client.errors import AudioDeviceError, LiveConnectionError, LiveError
from openlive.client.model import DEFAULT_MODEL, LiveConnect, LiveModel
from openlive.client.session import LiveSession
from openlive.client.sinks import AudioSink, BufferSink, SpeakerSink, WavFileSink
from openlive.client.sources import ArraySource, AudioSource, MicrophoneSource, WavFileSource
from openlive.client.types import (
    LiveServerContent,
    LiveServerGoingAwayNotice,
    LiveServerMessage,
    LiveServerSessionResumptionUpdate,
    LiveServerToolCall,
    LiveServerToolCallCancellation,
    LiveUsage,
    LiveVoiceActivity,
    audio_of,
    text_of,
)
from openlive.protocol.messages import (
    AudioTranscriptionConfig,
    Blob,
    Content,
    FunctionBehavior,
    FunctionCall,
    FunctionDeclaration,
    FunctionResponse,
    FunctionResponseScheduling,
    Modality,
    Part,
    RealtimeInputConfig,
    SessionResumptionConfig,
    SpeechConfig,
    Tool,
)

__all__ = [
    "DEFAULT_MODEL",
    "INPUT_RATE",
    "OUTPUT_RATE",
    "ArraySource",
    "AudioConversationController",
    "AudioDeviceError",
    "AudioSink",
    "AudioSource",
    "AudioTranscriptionConfig",
    "Blob",
    "BufferSink",
    "Content",
    "FunctionBehavior",
    "FunctionCall",
    "FunctionDeclaration",
    "FunctionResponse",
    "FunctionResponseScheduling",
    "LiveConnect",
    "LiveConnectionError",
    "LiveError",
    "LiveGenerationConfig",
    "LiveModel",
    "LiveServerContent",
    "LiveServerGoingAwayNotice",
    "LiveServerMessage",
    "LiveServerSessionResumptionUpdate",
    "LiveServerToolCall",
    "LiveServerToolCallCancellation",
    "LiveSession",
    "LiveUsage",
    "LiveVoiceActivity",
    "MicrophoneSource",
    "Modality",
    "Part",
    "RealtimeInputConfig",
    "SessionResumptionConfig",
    "SpeakerSink",
    "SpeechConfig",
    "Tool",
    "WavFileSink",
    "WavFileSource",
    "audio_of",
    "read_wav",
    "resolve_endpoint",
    "start_audio_conversation",
    "text_of",
    "write_wav",
]
