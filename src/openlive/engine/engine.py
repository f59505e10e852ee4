"""The engine: profiles loaded once and shared, and a factory of per-connection sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from openlive.engine.acknowledgement import Acknowledgements
from openlive.engine.models import ModelCatalog
from openlive.engine.outbox import Outbox
from openlive.engine.profile import Profile
from openlive.engine.resumption import ResumptionStore
from openlive.engine.session import LiveSession, SessionLimits
from openlive.protocol.errors import CloseCode, ProtocolError, invalid_argument
from openlive.protocol.messages import Content, Setup

log = logging.getLogger(__name__)

ProfileLoader = Callable[[], Profile]


class Engine:
    """Holds the loaded profiles. Loading is blocking and slow, so it runs in a thread at start-up."""

    def __init__(
        self,
        loaders: dict[str, tuple[str, ProfileLoader]],
        *,
        default_profile: str,
        limits: SessionLimits | None = None,
        resumption: ResumptionStore | None = None,
    ) -> None:
        # loaders: profile name -> (description, loader)
        self.catalog = ModelCatalog({n: d for n, (d, _) in loaders.items()}, default_profile)
        self._loaders = {n: fn for n, (_, fn) in loaders.items()}
        self._profiles: dict[str, Profile] = {}
        # Call acknowledgements' audio, per profile: synthesised once and shared by its sessions.
        self._acknowledgements: dict[str, Acknowledgements] = {}
        self._ready = asyncio.Event()
        self._load_error: BaseException | None = None
        self.limits = limits or SessionLimits()
        # None: sessionResumption is accepted but no handles are issued, and resuming one is refused.
        self.resumption = resumption

    async def load(self) -> None:
        """Load every profile (in a worker thread, so the server answers /healthz with 503 meanwhile)."""
        try:
            for name, loader in self._loaders.items():
                if name not in self._profiles:
                    log.info("loading profile %s", name)
                    self._profiles[name] = profile = await asyncio.to_thread(loader)
                    if profile.tts is not None:
                        self._acknowledgements[name] = Acknowledgements(profile.tts)
        except BaseException as exc:
            self._load_error = exc
            raise
        finally:
            self._ready.set()

    def is_ready(self) -> bool:
        return self._ready.is_set() and self._load_error is None

    async def wait_ready(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)
        if self._load_error is not None:
            raise ProtocolError(CloseCode.INTERNAL, "The service is currently unavailable.")

    async def aclose(self) -> None:
        """Server shutdown (after the sessions have closed): close every loaded profile's stages."""
        profiles, self._profiles = list(self._profiles.values()), {}
        for profile in profiles:
            await profile.aclose()

    def profile(self, name: str) -> Profile:
        return self._profiles[name]

    def open_session(
        self, setup: Setup, outbox: Outbox, *, session_id: str, api_version: str = "v1beta"
    ) -> LiveSession:
        """A new session for a validated ``setup``; raises ``ProtocolError`` (1007/1008) otherwise."""
        profile_name = self.catalog.resolve(setup.model, api_version=api_version)
        if not self.is_ready():
            raise ProtocolError(CloseCode.INTERNAL, "The service is currently unavailable.")
        wanted = setup.session_resumption
        history: Sequence[Content] = ()
        if wanted is not None and wanted.handle:
            snapshot = self.resumption.load(wanted.handle) if self.resumption is not None else None
            if snapshot is None:
                raise invalid_argument("the session resumption handle is unknown or has expired")
            history = snapshot.history
        return LiveSession(
            setup,
            self._profiles[profile_name],
            outbox,
            session_id=session_id,
            limits=self.limits,
            resumption=self.resumption if wanted is not None else None,
            history=history,
            acknowledgements=self._acknowledgements.get(profile_name),
        )
