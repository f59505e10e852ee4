"""What the code serving a request may need to know about it, without it being passed down every call.

``SESSION_ID``: the Live session a task works for. The server sets it at the start of each connection's
task, so every task the session creates inherits it (asyncio copies the context into each new task); a
remote language model sends it to the inference engine for session-affine routing and prefix caching.
It is stdlib only and imported by both the server and the backends, which may not import each other.
"""

from __future__ import annotations

from contextvars import ContextVar

SESSION_ID: ContextVar[str | None] = ContextVar("openlive_session_id", default=None)
