"""Root conftest: makes the helpers that several test directories share importable by name.

The test directories are not packages (pytest's default "prepend" import mode puts each one on sys.path
while collecting it), so a helper in one of them cannot be imported from another. tests/support holds
those shared helpers; putting it on sys.path here lets every directory ``import serve_process`` etc.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import onnxruntime
import pytest

SUPPORT = str(Path(__file__).resolve().parent / "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)

# Piper (VITS) samples phoneme durations and noise from onnxruntime's random generator, which each process
# seeds differently: the same sentence comes out up to ~15 % longer or shorter, and its waveform differs.
# A fixed seed makes the in-process tests repeat run after run; their assertions still hold across the
# spread measured over many seeds (servers started by the tests run in their own processes, unseeded).
onnxruntime.set_seed(20_261_125)


# `make test` (and so CI) sets OPENLIVE_NO_SKIPS=1: everything a skipped test would need (Node, Chromium,
# the ALSA samples, the models) is installed by the Makefile there, so a skip means a broken setup and
# fails the run instead of passing silently. Expected failures (xfail) are not skips.
_SKIPPED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get("OPENLIVE_NO_SKIPS"):
        _SKIPPED.append(f"{report.nodeid}: {report.longrepr}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SKIPPED:
        print("\nOPENLIVE_NO_SKIPS is set, but these tests were skipped:", *_SKIPPED, sep="\n  ")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
