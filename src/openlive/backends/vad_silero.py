"""Voice activity with Silero VAD v6, run straight from its ONNX file (no torch, no silero wrapper).

The ``silero-vad`` package is installed only for ``silero_vad/data/silero_vad.onnx``; its Python code
imports torch, so it is never imported here: the file is located with ``importlib.util.find_spec``.
One frame costs ~0.1 ms on one core, so streams run it inline and all sessions share one
InferenceSession (``run`` is thread-safe; the recurrent state lives in each stream).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnxruntime as ort

from openlive.stages.speech import INPUT_SAMPLE_RATE, Audio

FRAME_SAMPLES = 512  # 32 ms at 16 kHz: the only frame size the v5/v6 16 kHz model accepts
CONTEXT_SAMPLES = 64  # the model expects the last 64 samples of the previous frame in front of each frame
_STATE_SHAPE = (2, 1, 128)


def silero_model_path() -> Path:
    """The ONNX file inside the installed silero-vad package (the package itself is not imported)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("silero-vad is not installed (pip install --no-deps silero-vad==6.2.3)")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "silero_vad.onnx"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("silero_vad/data/silero_vad.onnx is missing from the silero-vad package")


class SileroVadStream:
    """Per-session state: the recurrent state and the 64-sample context carried between frames."""

    frame_samples = FRAME_SAMPLES

    def __init__(self, session: ort.InferenceSession) -> None:
        self._session = session
        self._sr = np.array(INPUT_SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)

    def process(self, frame: Audio) -> float:
        samples = np.asarray(frame, dtype=np.float32).reshape(-1)
        if samples.shape[0] != FRAME_SAMPLES:
            raise ValueError(f"Silero VAD takes frames of {FRAME_SAMPLES} samples, got {samples.shape[0]}")
        window = np.concatenate((self._context, samples))[np.newaxis, :]
        prob, state = self._session.run(None, {"input": window, "state": self._state, "sr": self._sr})
        self._state = np.asarray(state, dtype=np.float32)
        self._context = samples[-CONTEXT_SAMPLES:].copy()
        return float(np.asarray(prob).reshape(-1)[0])


class SileroVad:
    """VoiceActivityDetector: one shared model, a fresh stream per session."""

    def __init__(self, model_path: Path | None = None) -> None:
        options = ort.SessionOptions()
        # One thread: a frame is tiny, and extra threads would only contend with ASR and the LLM.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(
            str(model_path or silero_model_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def new_stream(self) -> SileroVadStream:
        return SileroVadStream(self._session)

    async def aclose(self) -> None:
        """Nothing to stop: the ONNX session runs inline in the listener and has no threads of its own."""
