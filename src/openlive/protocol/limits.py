"""Every size a client controls, and its limit: the one place they are defined (docs/security.md lists them).

The decoder enforces each of them before it builds anything from a message, so nothing above the protocol
layer (the engine, the prompt template, a tool's schema converter) ever meets an input larger or deeper
than these. A violation is ``ProtocolError`` 1007 whose reason names the field and the limit.

The frame itself is limited by the server (``settings.max_message_bytes``, 16 MiB by default, 1009), and
the message rate by its token bucket (1008); both live in the server, which owns the socket.
"""

from __future__ import annotations

# Nesting of JSON arrays and objects anywhere in a message, user data (function args, responses,
# schemas) included. Protocol Buffers' own parsers stop at 100; a real Live message is under 15 deep
# outside user data. 64 keeps every recursive walk over a message (ours, ``json.dumps``, a template's
# ``tojson``) far from Python's recursion limit.
MAX_JSON_DEPTH = 64

# Nesting of a function declaration's ``parameters`` / ``parametersJsonSchema``, counted in JSON levels
# from the schema object down (``properties`` → a property → its ``items`` is three). A schema 16
# objects deep is already far past what a model can fill in.
MAX_SCHEMA_DEPTH = 32

# Characters in one JSON number literal, and in an integer sent as a string (proto3 JSON's int64 form).
# Python refuses to convert integers of more than 4,300 digits; an int64 has at most 19.
MAX_NUMBER_DIGITS = 100

# Characters in one object key (field names and user-data keys alike).
MAX_KEY_CHARS = 256

# Characters in a short string: model, role, MIME type, function and call ids and names, voice and
# language codes, enum names, resumption handles, labels.
MAX_NAME_CHARS = 256

# Characters in a text: a text part, realtime ``text``, a system instruction given as a string, a
# function description. About 64k tokens: more than the embedded model's whole context; a longer text is
# refused here rather than read into the model.
MAX_TEXT_CHARS = 262_144

# Base64 ``data`` (audio, video frames, inline data) has no limit of its own: the frame limit bounds it.

# Items in a list, unless a field has its own limit below.
MAX_LIST_ITEMS = 1024

MAX_PARTS = 256  # parts in one Content (a turn, a system instruction)
MAX_TURNS = 1024  # turns in one clientContent
MAX_TOOLS = 128  # tools in setup or contextUpdate
MAX_FUNCTION_DECLARATIONS = 512  # function declarations, all tools together
MAX_FUNCTION_RESPONSES = 512  # function responses in one toolResponse
MAX_MEDIA_CHUNKS = 64  # mediaChunks in one realtimeInput
MAX_LANGUAGE_CODES = 64  # languageCodes of a transcription config
MAX_VOCABULARY = 256  # customVocabulary (and adaptationPhrases) of a transcription config, each
MAX_LABELS = 64  # entries in setup.labels
MAX_MODALITIES = 8  # entries in responseModalities (only two values exist)

# Integer fields are checked against their proto type: int32 fields (topK, seed, maxOutputTokens,
# thinkingBudget, prefixPaddingMs, silenceDurationMs, candidateCount) and int64 ones (token counts).
INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)
