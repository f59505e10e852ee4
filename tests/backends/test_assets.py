"""Assembling model files from part files: order, atomicity, verification, skipping, locking."""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import threading
import time
from pathlib import Path

import pytest

from openlive.backends import assets
from openlive.backends.assets import AssetError, assemble_parts, cache_dir, package_part_paths
from openlive.settings import Settings


def make_parts(tmp_path: Path, contents: list[bytes]) -> list[Path]:
    parts = []
    for i, data in enumerate(contents):
        part = tmp_path / "pkg" / f"part{i:02d}.bin"
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(data)
        parts.append(part)
    return parts


CONTENTS = [b"GGUF" + bytes(range(256)) * 40, b"second part " * 1000, b"tail"]
WHOLE = b"".join(CONTENTS)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".partial-" in p.name)


def test_parts_are_joined_in_order(tmp_path: Path) -> None:
    parts = make_parts(tmp_path, CONTENTS)
    dest = tmp_path / "cache" / "model.gguf"
    out = assemble_parts(
        parts, dest, expected_size=len(WHOLE), sha256=hashlib.sha256(WHOLE).hexdigest(), label="test"
    )
    assert out == dest
    assert dest.read_bytes() == WHOLE
    assert leftovers(dest.parent) == []


def test_wrong_total_size_is_refused_before_writing(tmp_path: Path) -> None:
    parts = make_parts(tmp_path, CONTENTS)
    dest = tmp_path / "cache" / "model.gguf"
    with pytest.raises(AssetError, match="expected"):
        assemble_parts(parts, dest, expected_size=len(WHOLE) + 1)
    assert not dest.exists()


def test_hash_mismatch_leaves_no_file_behind(tmp_path: Path) -> None:
    parts = make_parts(tmp_path, CONTENTS)
    dest = tmp_path / "cache" / "model.gguf"
    with pytest.raises(AssetError, match="sha256"):
        assemble_parts(parts, dest, sha256="0" * 64)
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_missing_part_file_is_named(tmp_path: Path) -> None:
    parts = make_parts(tmp_path, CONTENTS)
    parts[1].unlink()
    with pytest.raises(AssetError, match=r"part01\.bin"):
        assemble_parts(parts, tmp_path / "model.gguf")


def test_complete_file_is_not_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = make_parts(tmp_path, CONTENTS)
    dest = tmp_path / "model.gguf"
    digest = hashlib.sha256(WHOLE).hexdigest()
    assemble_parts(parts, dest, sha256=digest)

    def must_not_run(*args: object) -> str:
        raise AssertionError("a complete file was assembled again")

    monkeypatch.setattr(assets, "_concatenate", must_not_run)
    assert assemble_parts(parts, dest, sha256=digest) == dest
    assert assemble_parts(parts, dest) == dest


def test_truncated_file_is_replaced(tmp_path: Path) -> None:
    parts = make_parts(tmp_path, CONTENTS)
    dest = tmp_path / "model.gguf"
    dest.write_bytes(WHOLE[:100])  # e.g. copied by hand and cut short
    assemble_parts(parts, dest)
    assert dest.read_bytes() == WHOLE


def test_leftover_partial_from_a_crash_is_removed(tmp_path: Path) -> None:
    parts = make_parts(tmp_path, CONTENTS)
    dest = tmp_path / "model.gguf"
    (tmp_path / "model.gguf.partial-99999").write_bytes(b"half")
    assemble_parts(parts, dest)
    assert dest.read_bytes() == WHOLE
    assert leftovers(tmp_path) == []


def test_failure_midway_leaves_no_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = make_parts(tmp_path, CONTENTS)
    dest = tmp_path / "model.gguf"
    real_replace = assets.os.replace

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(assets.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        assemble_parts(parts, dest)
    monkeypatch.setattr(assets.os, "replace", real_replace)
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_second_assembler_waits_for_the_lock_and_then_trusts_the_result(tmp_path: Path) -> None:
    parts = make_parts(tmp_path, CONTENTS)
    dest = tmp_path / "model.gguf"
    digest = hashlib.sha256(WHOLE).hexdigest()
    lock = (tmp_path / "model.gguf.lock").open("a")
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # "another process" is assembling
    result: list[Path] = []
    worker = threading.Thread(target=lambda: result.append(assemble_parts(parts, dest, sha256=digest)))
    worker.start()
    time.sleep(0.3)
    assert worker.is_alive(), "assemble_parts did not wait for the lock"
    assert not dest.exists()
    # The other process finishes: it writes the file and its hash marker, then releases the lock.
    dest.write_bytes(WHOLE)
    (tmp_path / "model.gguf.sha256").write_text(digest + "\n")
    mtime = dest.stat().st_mtime_ns
    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    lock.close()
    worker.join(timeout=10)
    assert result == [dest]
    assert dest.stat().st_mtime_ns == mtime, "the waiting process rewrote a complete file"


def test_package_part_paths_names_missing_packages() -> None:
    with pytest.raises(AssetError, match="openlive_no_such_part_package"):
        package_part_paths(["openlive_no_such_part_package"], label="X")


def test_registry_assembles_every_registered_asset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = make_parts(tmp_path, CONTENTS)
    monkeypatch.setattr(assets, "_REGISTRY", {})
    monkeypatch.setattr(assets, "_import_asset_providers", lambda: None)
    assets.register_asset("joined", lambda cache: assemble_parts(parts, cache / "joined.bin"))
    assets.register_asset("other", lambda cache: cache)
    out = assets.assemble_all(tmp_path / "cache")
    assert out == {"joined": tmp_path / "cache" / "joined.bin", "other": tmp_path / "cache"}
    assert out["joined"].read_bytes() == WHOLE


def test_cache_dir_honours_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENLIVE_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    assert cache_dir(Settings(cache_dir=tmp_path / "given")) == tmp_path / "given"


@pytest.mark.models
def test_embedded_llm_gguf_is_assembled_from_its_packages() -> None:
    path = assets.llm_gguf_path(cache_dir())
    assert path.stat().st_size == assets.LLM_GGUF_SIZE
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF"


def test_assemble_command_prints_every_asset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from openlive.cli import assemble

    parts = make_parts(tmp_path, CONTENTS)
    monkeypatch.setattr(assets, "_REGISTRY", {})
    monkeypatch.setattr(assets, "_import_asset_providers", lambda: None)
    assets.register_asset("joined", lambda cache: assemble_parts(parts, cache / "joined.bin"))
    parser = argparse.ArgumentParser()
    assemble.add_parser(parser.add_subparsers())
    args = parser.parse_args(["assemble", "--cache-dir", str(tmp_path / "c")])
    assert assemble.run(args) == 0
    out = capsys.readouterr().out
    assert f"joined  {tmp_path / 'c' / 'joined.bin'}" in out
    assert (tmp_path / "c" / "joined.bin").read_bytes() == WHOLE


def test_assemble_command_reports_a_missing_package_as_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openlive.cli import UserError, assemble

    def missing(cache: Path) -> Path:
        return package_part_paths(["no_such_pkg"], label="x")[0]

    monkeypatch.setattr(assets, "_REGISTRY", {"broken": missing})
    monkeypatch.setattr(assets, "_import_asset_providers", lambda: None)
    with pytest.raises(UserError, match="no_such_pkg"):
        assemble.run(argparse.Namespace(cache_dir=tmp_path))
