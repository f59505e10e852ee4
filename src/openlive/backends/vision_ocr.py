"""The embedded FrameDescriber: the text in a frame (OCR) and a cheap summary of the scene.

No captioning or object-detection model ships its weights in a package (``docs/models.md``), so the
embedded profile says only what it can measure: the text it reads, with rapidocr's PP-OCRv6 small
detection and recognition ONNX models (inside the ``rapidocr`` wheel), and, without any model, the named
dominant colours, the brightness, and whether the view changed since this stream's last description.

Everything runs off the event loop on one worker thread owned by the describer, at a lower scheduling
priority (nice 10) than ASR, the LLM and TTS, with ONNX Runtime on that thread alone (one intra-op
thread), so reading a frame takes time from the voice loop only when the cores are otherwise idle. A frame
that did not change is answered with the previous description, without OCR.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from openlive.stages.vision import FRAME_MIME_TYPES, FrameDescriberBusy, FrameDescription

log = logging.getLogger(__name__)

# Frames are downscaled to this longest side before anything else. rapidocr recognises each line from a
# crop of the image it is given, so more pixels than this only cost decoding time; 1280 keeps the lines of
# a 720p frame at full resolution and halves a 1080p screen share.
MAX_SIDE = 1280
# Text detection runs on the frame scaled to this longest side (rapidocr's default instead scales the
# *shorter* side up to 736, which made a 640×480 frame cost ~1.5 s). Measured on a 1280×720 frame: lines
# 18 px high are read exactly at 640, 14 px high only partly, 10 px not at all; 960 was 2–3× slower and no
# more reliable (docs/benchmarks.md, "Reading frames").
DETECTION_MAX_SIDE = 640
# Larger images are refused before decoding (a small PNG can claim billions of pixels).
MAX_FRAME_PIXELS = 40_000_000
# Recognised lines scoring below this are dropped (rapidocr's own default threshold).
MIN_TEXT_SCORE = 0.5
# A screen share of a document can hold pages of text; the model's prompt cannot.
MAX_TEXT_CHARS = 400
# The worker thread's nice value: above 0, so the speech and language stages always run first.
WORKER_NICENESS = 10

# The scene summary and the change test work on small grayscale/colour thumbnails.
_SUMMARY_SIZE = (64, 48)
_CHANGE_SIZE = (128, 96)
# A thumbnail pixel counts as changed past this difference in luma (0..1), and the view as changed when
# more than this share of pixels did. One digit changed on a 720p test sign (60 px text) changes 16
# pixels of 12,288 (0.13 %); re-encoding the same view at JPEG quality 40 changes none (at most 0.016).
_PIXEL_CHANGE = 0.08
_CHANGED_SHARE = 0.0005
# A colour is named when it covers at least this share of the frame (the largest one always is).
_COLOUR_SHARE = 0.10
_MAX_COLOURS = 3

Rgb = npt.NDArray[np.uint8]
Gray = npt.NDArray[np.float32]
# Reads the lines of text in an RGB image (H×W×3, uint8), top to bottom.
TextReader = Callable[[Rgb], list[str]]

_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def decode_frame(image: bytes, mime_type: str) -> Image.Image:
    """The frame as an RGB image no larger than ``MAX_SIDE``. ``ValueError`` for anything that is not a
    decodable JPEG, PNG or WebP. The bytes decide the format: clients label frames loosely (image/jpg)."""
    declared = mime_type.split(";", 1)[0].strip().lower().replace("image/jpg", "image/jpeg")
    if declared not in FRAME_MIME_TYPES:
        raise ValueError(f"frames must be JPEG, PNG or WebP, not {mime_type!r}")
    if not image:
        raise ValueError("the frame is empty")
    try:
        with Image.open(io.BytesIO(image)) as opened:
            if opened.format not in _FORMATS:
                raise ValueError(
                    f"the frame is {opened.format or 'an unknown format'}, not JPEG, PNG or WebP"
                )
            width, height = opened.size
            if width * height > MAX_FRAME_PIXELS:
                raise ValueError(f"the frame is too large ({width}×{height})")
            # JPEG can decode at 1/2, 1/4 or 1/8 scale directly, much faster than decoding and shrinking.
            opened.draft("RGB", (MAX_SIDE, MAX_SIDE))
            frame = ImageOps.exif_transpose(opened)
            frame.load()
    except ValueError:
        raise
    except (OSError, SyntaxError, Image.DecompressionBombError) as e:
        # Pillow reports a corrupt or truncated file as OSError, some broken PNG chunks as SyntaxError.
        raise ValueError(f"the frame is not a decodable {declared} image: {e}") from e
    frame = _flatten(frame)
    if max(frame.size) > MAX_SIDE:
        frame.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    return frame


def _flatten(frame: Image.Image) -> Image.Image:
    """RGB, with any transparency laid over white (as a viewer shows it), not over black."""
    if frame.mode in ("RGBA", "LA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return frame.convert("RGB")


@dataclass(frozen=True, slots=True)
class SceneSummary:
    colours: tuple[str, ...]  # the dominant colour names, largest share first
    brightness: str  # "dark", "dim" or "bright"

    def text(self) -> str:
        if len(self.colours) > 1:
            colours = ", ".join(self.colours[:-1]) + " and " + self.colours[-1]
        else:
            colours = self.colours[0] if self.colours else "no colour"
        return f"mostly {colours}; {self.brightness}"


# Hue ranges (degrees, upper bound exclusive) of the chromatic colour names.
_HUES: tuple[tuple[float, str], ...] = (
    (15, "red"),
    (45, "orange"),
    (70, "yellow"),
    (165, "green"),
    (195, "cyan"),
    (260, "blue"),
    (290, "purple"),
    (345, "pink"),
    (361, "red"),
)


def colour_names(rgb: Rgb) -> list[str]:
    """A colour name for each pixel of an RGB array (N×3 or H×W×3, uint8), from its hue, saturation and
    value: black, gray and white for unsaturated pixels, a hue name otherwise ("dark blue" when dim,
    "brown" for a dim orange)."""
    hsv = np.asarray(Image.fromarray(rgb.reshape(-1, 1, 3)).convert("HSV"), dtype=np.float32).reshape(-1, 3)
    hue, sat, val = hsv[:, 0] * (360.0 / 256.0), hsv[:, 1] / 255.0, hsv[:, 2] / 255.0
    names: list[str] = []
    for h, s, v in zip(hue.tolist(), sat.tolist(), val.tolist(), strict=True):
        if v < 0.2:
            names.append("black")
        elif s < 0.2:
            names.append("white" if v > 0.8 else "gray")
        else:
            name = next(n for bound, n in _HUES if h < bound)
            if name == "orange" and v < 0.6:
                names.append("brown")
            elif v < 0.45:
                names.append(f"dark {name}")
            else:
                names.append(name)
    return names


def summarize_scene(frame: Image.Image) -> SceneSummary:
    """Dominant colours and brightness of a frame, from a 64×48 thumbnail (well under a millisecond)."""
    small = np.asarray(frame.convert("RGB").resize(_SUMMARY_SIZE, Image.Resampling.BOX), dtype=np.uint8)
    names, counts = np.unique(np.array(colour_names(small)), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    total = float(counts.sum())
    colours = [str(names[i]) for i in order if counts[i] / total >= _COLOUR_SHARE][:_MAX_COLOURS]
    if not colours:
        colours = [str(names[order[0]])]
    # Rec. 601 luma, the brightness a person would call dark or bright.
    luma = float((small.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).mean()) / 255
    brightness = "dark" if luma < 0.25 else "dim" if luma < 0.5 else "bright"
    return SceneSummary(colours=tuple(colours), brightness=brightness)


def change_thumbnail(frame: Image.Image) -> Gray:
    """The grayscale thumbnail two frames are compared by (128×96, values 0..1)."""
    gray = frame.convert("L").resize(_CHANGE_SIZE, Image.Resampling.BOX)
    return np.asarray(gray, dtype=np.float32) / 255.0


def view_changed(before: Gray | None, after: Gray) -> bool:
    """Whether ``after`` differs meaningfully from ``before`` (always, when there is no ``before``)."""
    if before is None:
        return True
    changed = np.abs(after - before) > _PIXEL_CHANGE
    return float(changed.mean()) > _CHANGED_SHARE


def description_text(lines: list[str], scene: SceneSummary) -> str:
    """What the language model reads, e.g. 'text reading "EXIT 42 / Harbour"; mostly blue and white; dim'."""
    read = f'text reading "{join_lines(lines)}"' if lines else "no readable text"
    return f"{read}; {scene.text()}"


def join_lines(lines: list[str]) -> str:
    joined = " / ".join(line.strip() for line in lines if line.strip())
    if len(joined) > MAX_TEXT_CHARS:
        joined = joined[: MAX_TEXT_CHARS - 1].rstrip() + "…"
    return joined


def packaged_model_dir() -> Path:
    """The ``models`` folder inside the installed rapidocr wheel, found without importing rapidocr."""
    import importlib.util

    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("rapidocr is not installed (pip install 'openlive[server]')")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class RapidOcrReader:
    """TextReader over rapidocr with the models inside its wheel. Every model path is given explicitly:
    rapidocr downloads a model it is not given a path to, and no machine here reaches its model host."""

    DETECTION = "PP-OCRv6_det_small.onnx"
    RECOGNITION = "PP-OCRv6_rec_small.onnx"  # its character list is in the ONNX metadata
    ORIENTATION = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"

    def __init__(self, *, detection_max_side: int = DETECTION_MAX_SIDE) -> None:
        import cv2
        from rapidocr import RapidOCR

        models = packaged_model_dir()
        paths = {name: models / name for name in (self.DETECTION, self.RECOGNITION, self.ORIENTATION)}
        missing = [str(p) for p in paths.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"rapidocr's packaged models are missing: {', '.join(missing)}")
        # OpenCV (rapidocr's resizing and box geometry) would otherwise start a pool of its own threads,
        # outside the low-priority worker. Process-wide, but rapidocr is OpenCV's only user here.
        cv2.setNumThreads(1)
        self._engine: Any = RapidOCR(
            params={
                "Global.log_level": "warning",
                # The orientation classifier only turns upside-down lines; camera and screen text is upright.
                "Global.use_cls": False,
                "Det.model_path": str(paths[self.DETECTION]),
                "Det.limit_type": "max",
                "Det.limit_side_len": detection_max_side,
                "Rec.model_path": str(paths[self.RECOGNITION]),
                "Cls.model_path": str(paths[self.ORIENTATION]),
                "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
        # rapidocr loads its models on first use: read one small rendered line now, so that loading (and
        # ONNX Runtime's first, slower run) happens at start-up rather than on a user's first frame.
        probe = np.full((48, 160, 3), 255, dtype=np.uint8)
        cv2.putText(probe, "OK 12", (8, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
        self(probe)

    def __call__(self, rgb: Rgb) -> list[str]:
        # rapidocr takes arrays in OpenCV's channel order (BGR).
        result = self._engine(np.ascontiguousarray(rgb[:, :, ::-1]), use_cls=False)
        texts = getattr(result, "txts", None) or ()
        scores = getattr(result, "scores", None) or ()
        return [
            str(t)
            for t, s in zip(texts, scores, strict=True)
            if float(s) >= MIN_TEXT_SCORE and str(t).strip()
        ]


def _lower_priority(niceness: int) -> None:
    """Worker initializer. On Linux a nice value belongs to a thread (its id is a pid to setpriority), so
    this lowers only the OCR worker, not the process."""
    if not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except OSError:
        log.warning("could not lower the OCR worker's priority", exc_info=True)


class OcrFrameDescriber:
    """FrameDescriber: OCR plus the scene summary, on one low-priority worker thread shared by all
    sessions. At most ``max_waiting`` frames are queued for it or being read; a frame beyond that raises
    FrameDescriberBusy (with one frame in flight per session, that is four sessions' frames)."""

    def __init__(
        self,
        reader: TextReader | None = None,
        *,
        max_waiting: int = 4,
        niceness: int = WORKER_NICENESS,
    ) -> None:
        self._reader: TextReader = reader if reader is not None else RapidOcrReader()
        self._max_waiting = max_waiting
        self._pending = 0
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="frames", initializer=_lower_priority, initargs=(niceness,)
        )

    def new_stream(self) -> OcrFrameStream:
        return OcrFrameStream(self)

    async def run(self, job: Callable[[], FrameDescription]) -> FrameDescription:
        if self._pending >= self._max_waiting:
            raise FrameDescriberBusy(f"{self._pending} frames are already waiting to be described")
        self._pending += 1
        try:
            # A caller cancelled while its frame still waits also cancels the job (it never runs).
            return await asyncio.get_running_loop().run_in_executor(self._executor, job)
        finally:
            self._pending -= 1

    def read_text(self, rgb: Rgb) -> list[str]:
        return self._reader(rgb)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def aclose(self) -> None:
        # Waits for a frame being read (under a second): not on the event loop.
        await asyncio.to_thread(self.close)


class OcrFrameStream:
    """FrameDescriberStream. Its state is touched only by jobs on the describer's single worker, so the
    frames of one stream are described one after another, in the order given."""

    def __init__(self, describer: OcrFrameDescriber) -> None:
        self._describer = describer
        # The thumbnail of the last frame described (read), and that description. Frames are compared with
        # it, not with the frame just before: a slow pan that changes a little at each frame is re-read once
        # it adds up.
        self._seen: Gray | None = None
        self._last: FrameDescription | None = None

    async def describe(self, image: bytes, mime_type: str) -> FrameDescription:
        return await self._describer.run(lambda: self._describe(image, mime_type))

    def _describe(self, image: bytes, mime_type: str) -> FrameDescription:
        frame = decode_frame(image, mime_type)
        thumbnail = change_thumbnail(frame)
        if self._last is not None and not view_changed(self._seen, thumbnail):
            return FrameDescription(text=self._last.text, ocr_text=self._last.ocr_text, changed=False)
        lines = self._describer.read_text(np.asarray(frame, dtype=np.uint8))
        description = FrameDescription(
            text=description_text(lines, summarize_scene(frame)), ocr_text=join_lines(lines), changed=True
        )
        self._seen, self._last = thumbnail, description
        return description
