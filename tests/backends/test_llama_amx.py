"""llama.cpp's AMX matmul: openlive's build fixes it (scripts/patch_llama_cpp.py), and the embedded
backend uses llama.cpp's extra weight buffers only where they do not crash."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from openlive.backends.assets import cache_dir, llm_gguf_path
from openlive.backends.llama_adapter import AMX_FIX, amx_faults, build_patches

ROOT = Path(__file__).resolve().parents[2]


def test_amx_is_kept_off_only_on_an_amx_cpu_with_a_stock_build() -> None:
    assert amx_faults(has_amx=True, patches=frozenset())
    assert not amx_faults(has_amx=True, patches=frozenset({AMX_FIX}))
    assert not amx_faults(has_amx=False, patches=frozenset())


def test_the_installed_build_is_openlives() -> None:
    # make setup installs llama-cpp-python through scripts/build-llama-cpp.sh; a stock build here
    # would keep AMX off and every prompt batch ~25 % slower on the machines that have it.
    assert AMX_FIX in build_patches()


def test_the_patch_refuses_a_source_it_does_not_know(tmp_path: Path) -> None:
    amx = tmp_path / "vendor/llama.cpp/ggml/src/ggml-cpu/amx/mmq.cpp"
    amx.parent.mkdir(parents=True)
    amx.write_text("inline void ggml_tile_config_init(void) { /* rewritten upstream */ }\n")
    (tmp_path / "llama_cpp").mkdir()
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts/patch_llama_cpp.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0
    assert "has changed" in run.stderr
    assert not (tmp_path / "llama_cpp/_openlive_patches.py").exists()


def test_the_patch_applies_once_and_marks_the_build(tmp_path: Path) -> None:
    amx = tmp_path / "vendor/llama.cpp/ggml/src/ggml-cpu/amx/mmq.cpp"
    amx.parent.mkdir(parents=True)
    amx.write_text("    tc.rows[7] = 16;\n\n    _tile_loadconfig(&tc);\n    done = true;\n}\n")
    (tmp_path / "llama_cpp").mkdir()
    for _ in range(2):
        subprocess.run([sys.executable, str(ROOT / "scripts/patch_llama_cpp.py"), str(tmp_path)], check=True)
    text = amx.read_text()
    assert text.count('asm volatile("" : : "r"(&tc) : "memory");') == 1
    assert text.index("asm volatile") < text.index("_tile_loadconfig")
    assert AMX_FIX in (tmp_path / "llama_cpp/_openlive_patches.py").read_text()


# Loads the model with llama.cpp's extra buffers (AMX on an AMX CPU) and reads a 16-token batch, the
# kind that crashed; then compares the next token with a load without them. In a child process: a
# stock build's crash must fail this test, not end the test run.
_PROBE = textwrap.dedent(
    """
    import sys
    import llama_cpp
    import numpy as np
    from openlive.backends.llama_adapter import without_extra_buffer_types

    path = sys.argv[1]
    prompt = "The three primary colours of light are red, green and"
    best = []
    for off in (False, True):
        with without_extra_buffer_types(off):
            llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_threads=2, verbose=False)
        tokens = llm.tokenize(prompt.encode())
        assert len(tokens) > 4, tokens  # a batch the AMX tiles compute (four rows or fewer do not)
        llm.eval(tokens)
        best.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
        del llm
    print(" ".join(map(str, best)))
    """
)


@pytest.mark.models
def test_the_extra_weight_buffers_read_a_prompt_and_agree_with_the_plain_ones() -> None:
    # On an AMX CPU this is the AMX matmul; elsewhere llama.cpp's repacked layouts, if any.
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, str(llm_gguf_path(cache_dir()))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    with_amx, without = run.stdout.split()
    assert with_amx == without
