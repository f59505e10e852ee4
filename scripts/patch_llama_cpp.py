"""Apply openlive's fixes to the llama.cpp that llama-cpp-python's source release vendors.

Usage: ``python scripts/patch_llama_cpp.py <unpacked llama-cpp-python source>`` (run by
``scripts/build-llama-cpp.sh``). Each fix is found by the exact text it replaces, so a source release
that no longer holds it fails here, loudly, instead of building an unpatched library. The fixes applied
are listed in ``llama_cpp/_openlive_patches.py``, which the embedded backend reads
(``backends/llama_adapter.py``) to know what the installed build can do.
"""

from __future__ import annotations

import sys
from pathlib import Path

# ggml's AMX matmul (ggml-cpu/amx/mmq.cpp) fills its tile configuration on the stack and loads it with
# the ``_tile_loadconfig`` intrinsic. GCC does not see the intrinsic read the struct, drops the stores
# to its rows and column widths, and ``ldtilecfg`` faults on the garbage left there (SIGSEGV on the
# first prompt batch of more than four tokens on Sapphire Rapids). A compiler barrier that takes the
# struct's address keeps the stores.
AMX_FILE = "vendor/llama.cpp/ggml/src/ggml-cpu/amx/mmq.cpp"
AMX_BEFORE = "    _tile_loadconfig(&tc);\n    done = true;\n"
AMX_AFTER = (
    "    // openlive: the stores above must reach memory before ldtilecfg reads them (GCC dropped them).\n"
    '    asm volatile("" : : "r"(&tc) : "memory");\n'
    "    _tile_loadconfig(&tc);\n    done = true;\n"
)

MARKER_FILE = "llama_cpp/_openlive_patches.py"
MARKER = '''"""Fixes openlive applied to this build of llama.cpp (scripts/patch_llama_cpp.py)."""

PATCHES = ("amx-tile-config",)
'''


def patch(source: Path) -> None:
    amx = source / AMX_FILE
    text = amx.read_text()
    if AMX_AFTER in text:
        return  # patched already
    if text.count(AMX_BEFORE) != 1:
        raise SystemExit(f"{amx}: the AMX tile configuration code has changed; review the patch")
    amx.write_text(text.replace(AMX_BEFORE, AMX_AFTER))
    (source / MARKER_FILE).write_text(MARKER)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    patch(Path(sys.argv[1]))
