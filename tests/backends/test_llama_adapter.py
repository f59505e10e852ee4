"""The adapter around llama-cpp-python's private API refuses a version it was not written for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openlive.backends.llama_adapter import PINNED_VERSION, check_version


def test_the_pinned_version_is_the_one_pyproject_installs() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    pins = set(re.findall(r'"llama-cpp-python(?:\[\w+\])?==([\d.]+)"', pyproject))
    assert pins == {PINNED_VERSION}
    check_version()  # the installed one


def test_another_version_is_refused_with_what_to_do() -> None:
    with pytest.raises(RuntimeError, match=r"llama-cpp-python 0\.4\.0 is installed.*==0\.3\.36"):
        check_version("0.4.0")
