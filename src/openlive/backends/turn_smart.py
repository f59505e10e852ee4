"""End of turn from the audio itself: Smart Turn v3.2 (Pipecat's open Whisper-encoder classifier).

The weights ship inside the ``pipecat-ai`` wheel, installed ``--no-deps`` only for that file: pipecat is
never imported (it would pull loguru, numba, …); the file is found through the import system instead.
The model reads Whisper log-mel features of exactly the last 8 s (80 bins × 800 frames); shorter turns
are padded with silence at the *start*, as in the reference, so the end of speech always sits at the
right edge where the model was trained to look. Features come from faster-whisper's extractor after
the reference's zero-mean/unit-variance waveform normalisation (checked equal to the reference's
numpy features within 2e-7).
"""

from __future__ import annotations

import asyncio
import importlib.util
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
from faster_whisper.feature_extractor import FeatureExtractor

from openlive.stages.speech import INPUT_SAMPLE_RATE, Audio

WINDOW_SECONDS = 8
WINDOW_SAMPLES = WINDOW_SECONDS * INPUT_SAMPLE_RATE
_MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
_NORM_EPS = 1e-7  # the reference's variance floor for the waveform normalisation


def smart_turn_model_path() -> Path:
    """The ONNX file inside the installed pipecat-ai package, located without importing pipecat."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pipecat-ai is not installed (pip install --no-deps pipecat-ai==1.14.0)")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "audio" / "turn" / "smart_turn" / "data" / _MODEL_FILE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{_MODEL_FILE} is missing from the pipecat-ai package")


def last_window(audio: Audio) -> Audio:
    """The last 8 s of ``audio``, left-padded with zeros when shorter."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if x.shape[0] >= WINDOW_SAMPLES:
        return x[-WINDOW_SAMPLES:]
    return np.concatenate((np.zeros(WINDOW_SAMPLES - x.shape[0], dtype=np.float32), x))


class SmartTurnDetector:
    """TurnDetector. Inference (~30 ms) runs in a single-thread executor owned by this detector, so
    concurrent sessions queue instead of stealing cores from ASR and the LLM."""

    def __init__(self, model_path: Path | None = None) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_path or smart_turn_model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self._input_name = self._session.get_inputs()[0].name
        self._features = FeatureExtractor(feature_size=80, sampling_rate=INPUT_SAMPLE_RATE, chunk_length=8)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smart-turn")

    def features(self, audio: Audio) -> np.ndarray:
        """Model input for ``audio``: shape (1, 80, 800), float32."""
        x = last_window(audio)
        x = (x - x.mean()) / np.sqrt(x.var() + _NORM_EPS)
        # padding=0: the window is already exactly 8 s; the extractor drops the trailing frame → 800.
        mel = self._features(x, padding=0)
        return np.asarray(mel, dtype=np.float32)[np.newaxis, :, :]

    def predict(self, audio: Audio) -> float:
        """P(end of turn), synchronously. The ONNX graph ends in a sigmoid (its output is a probability,
        despite the name "logits")."""
        (out,) = self._session.run(None, {self._input_name: self.features(audio)})
        return float(np.asarray(out).reshape(-1)[0])

    async def end_of_turn_probability(self, audio: Audio) -> float:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.predict, audio)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        # close() waits for the worker thread's job in progress: not on the event loop.
        await asyncio.to_thread(self.close)
