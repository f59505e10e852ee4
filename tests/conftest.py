"""Root conftest: makes the helpers that several test directories share importable by name.

The test directories are not packages (pytest's default "prepend" import mode puts each one on sys.path
while collecting it), so a helper in one of them cannot be imported from another. tests/support holds
those shared helpers; putting it on sys.path here lets every directory ``import serve_process`` etc.
"""

from __future__ import annotations

import sys
from pathlib import Path

SUPPORT = str(Path(__file__).resolve().parent / "support")
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)
