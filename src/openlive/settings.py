"""One settings object for the whole server: defaults < TOML file < ``OPENLIVE_*`` environment < CLI flags.

Every knob is documented here and in docs/configuration.md; nothing else reads the environment.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "openlive"


@dataclass(slots=True, kw_only=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8765  # plain ws:// and http://; 0 disables
    tls_port: int = 8766  # wss:// and https://, when a certificate is given
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Accepted API keys. Empty: every key is accepted (and the server warns loudly at start).
    api_keys: list[str] = field(default_factory=list)
    # The profile's name as tests and embedders see it; `openlive serve` picks embedded or remote itself.
    profile: str = "openlive-embedded"
    cache_dir: Path = field(default_factory=default_cache_dir)
    max_message_bytes: int = 16 * 1024 * 1024
    setup_timeout_s: float = 10.0
    # Flood control per connection: a token bucket of messages.
    max_messages_per_second: float = 400.0
    message_burst: int = 800
    # Admission: connections one replica holds at once; beyond it the handshake is refused with HTTP 503.
    max_sessions: int = 64
    # Sessions one API key may hold at once on one replica (a token counts for the key that minted it);
    # 0: no quota. Over it the connection closes with 1008.
    max_sessions_per_key: int = 0
    # SIGTERM: how long open sessions may take to finish their replies before they are closed (goAway
    # tells them this time); the process exits a few seconds after it.
    drain_timeout_s: float = 30.0
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    # Session and connection lifetimes (Gemini: 15 min audio session, ~10 min connection).
    session_time_limit_s: float = 15 * 60.0
    session_time_limit_with_video_s: float = 2 * 60.0
    connection_time_limit_s: float = 10 * 60.0
    go_away_before_s: float = 60.0
    # Search grounding (googleSearch): the local knowledge index (SQLite FTS5; default
    # <cache_dir>/search-index.db, filled by `openlive index`), or a SearXNG instance's URL instead.
    search_index: Path | None = None
    searxng_url: str = ""
    # The OpenAI-compatible endpoint (llm_url) serves a vision-language model that accepts image_url
    # parts: camera frames and images go to it directly instead of through the OCR frame describer.
    llm_accepts_images: bool = False
    # An instruction too long for the model's context: "auto" puts only its rules and persona and, with
    # each turn, the sections relevant to it in the prompt when the whole cannot fit; "always" does so
    # for every instruction; "never" refuses it at setup with 1007 (docs/compatibility.md).
    instruction_retrieval: str = "auto"
    # AUDIO replies that open with a function call say a short acknowledgement ("Okay.") at once, while
    # the call is written and the app runs it, instead of seconds of silence (docs/compatibility.md).
    call_acknowledgement: bool = True
    # Transcripts spell the instruction's names and the customVocabulary where the recogniser heard
    # them as other words of the same sound ("wife I" -> "Wi-Fi"; docs/compatibility.md).
    asr_term_spelling: bool = True
    # LLM stage: an OpenAI-compatible endpoint replaces the embedded llama.cpp model when set.
    llm_threads: int = 2
    # The embedded model's context (prompt and reply). Qwen2.5 is trained for 32k tokens; its KV cache
    # takes ~28 KB a token (f16), so 32k costs ~0.9 GB, allocated at load (docs/benchmarks.md).
    llm_context_tokens: int = 32768
    # The embedded model's KV cache type: "f16", or "q8_0" (half the memory, with flash attention,
    # which on CPU reads prompts slower: docs/benchmarks.md).
    llm_kv_cache_type: str = "f16"
    # KV states of long fixed prompt prefixes (a session's system instruction and tools, 256 tokens or
    # more) are kept in memory up to this many bytes, and on disk in <cache_dir>/llm-prefix up to
    # llm_prefix_cache_bytes (least recently used first out; 0 keeps none on disk), so a session with an
    # instruction read before, even by an earlier process, does not read it again.
    llm_prefix_memory_bytes: int = 1024 * 1024 * 1024
    llm_prefix_cache_bytes: int = 4 * 1024 * 1024 * 1024
    # Where those files go; default: <cache_dir>/llm-prefix
    llm_prefix_cache_dir: Path | None = None
    # e.g. http://gpu-box:8000/v1 (vLLM, SGLang, llama.cpp server, Ollama); empty: the embedded model.
    llm_url: str = ""
    llm_model: str = ""  # the model name that endpoint serves
    llm_api_key: str = ""  # sent as a Bearer token when set
    # That endpoint's timeouts: to connect, and between two streamed pieces of a reply (a slow engine).
    llm_connect_timeout_s: float = 5.0
    llm_read_timeout_s: float = 60.0
    # Attempts to open a reply's stream when the engine cannot be reached (connect errors, 502/503/504),
    # with a short growing pause between; a reply that fails after it started streaming is not retried.
    llm_retries: int = 2
    # Appended to each function result sent to that endpoint; empty: nothing. Small models (Qwen2.5 1.5B)
    # answer a bare result by calling the function again, or take it for the person's words; "Tell the
    # person what this result says was done, with its details, speaking to them as you; it is not their
    # message." makes them say it, as the embedded model's prompt does.
    llm_tool_result_hint: str = ""
    # Resumable sessions (sessionResumption) and ephemeral tokens are kept in this SQLite file; default:
    # <cache_dir>/resumption.db
    resumption_db: Path | None = None
    # ... or, when set, in this Redis (redis://[:password@]host:6379/0, rediss:// for TLS), shared by
    # replicas: a client resumes, and a token works, on any of them
    resumption_url: str = ""

    @classmethod
    def load(cls, *, toml_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
        values: dict[str, Any] = {}
        if toml_file is not None:
            with toml_file.open("rb") as fh:
                values.update(tomllib.load(fh))
        for f in fields(cls):
            env = os.environ.get("OPENLIVE_" + f.name.upper())
            if env is not None:
                values[f.name] = env
        for key, value in (overrides or {}).items():
            if value is not None:
                values[key] = value
        return cls(**{k: _coerce(k, v) for k, v in values.items() if k in _FIELD_TYPES})


_FIELD_TYPES: dict[str, str] = {f.name: str(f.type) for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELD_TYPES[name]
    if kind.startswith("list"):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return list(value)
    if "Path" in kind:
        return None if value in (None, "") else Path(value).expanduser()
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return _boolean(name, value)
    return value


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _boolean(name: str, value: Any) -> bool:
    # From the environment or a CLI flag a switch is a string: "false" must not read as true.
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")
