"""openlive: a self-hosted, Gemini Live API compatible real-time voice AI server."""

__version__ = "0.1.0"
