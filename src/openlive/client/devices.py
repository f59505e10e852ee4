"""The optional ``sounddevice`` import, with an error that says what to install."""

from __future__ import annotations

from typing import Any

from openlive.client.errors import AudioDeviceError

DEVICE_HINT = "(list the devices with `python -m sounddevice`; without any, use `openlive say` with files)"


def import_sounddevice() -> Any:
    try:
        import sounddevice  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        raise AudioDeviceError(
            "microphone/speaker support needs the sounddevice package: pip install sounddevice"
        ) from None
    except OSError as exc:
        # sounddevice imports fine but raises OSError when the PortAudio library itself is missing.
        raise AudioDeviceError(f"PortAudio is not available ({exc}); install libportaudio2") from None
    return sounddevice
