"""``openlive index``: the local knowledge index that search grounding (``googleSearch``) retrieves from.

``openlive index build`` creates it with its starter corpus (every country's capital, currency and
languages, from the ``countryinfo`` package; ``make setup`` runs it), ``add PATH…`` indexes Markdown,
text and HTML files (a folder: every such file in it), ``list`` shows what is indexed and ``remove URI``
takes a document out. A running server sees changes at its next search.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

SUFFIXES = (".md", ".markdown", ".txt", ".text", ".html", ".htm")


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "index",
        help="manage the local knowledge index used for search grounding",
        description="Manage the local knowledge index (googleSearch grounding).",
    )
    p.add_argument("--index", type=Path, help="the index file (default: <cache dir>/search-index.db)")
    p.add_argument("--cache-dir", type=Path, help="the cache directory (default: ~/.cache/openlive)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("build", help="create the index with its starter corpus (idempotent)")
    add = actions.add_parser("add", help="index Markdown, text or HTML files (or the files in folders)")
    add.add_argument("paths", nargs="+", type=Path)
    actions.add_parser("list", help="list the indexed documents")
    remove = actions.add_parser("remove", help="remove documents by URI (as `list` shows them)")
    remove.add_argument("uris", nargs="+")


def _files(paths: list[Path]) -> list[Path]:
    from openlive.cli import UserError

    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"no such file or folder: {path}")
    return found


def run(args: argparse.Namespace) -> int:
    from openlive.backends.assets import cache_dir
    from openlive.backends.embedded import search_index_path
    from openlive.backends.search_local import LocalIndex
    from openlive.cli import UserError
    from openlive.settings import Settings

    settings = Settings.load(overrides={"cache_dir": args.cache_dir, "search_index": args.index})
    index = LocalIndex(search_index_path(settings, cache_dir(settings)))
    if args.action == "build":
        total = len(index.documents())
        print(f"{index.path}: {total} documents")
    elif args.action == "add":
        for path in _files(args.paths):
            doc = index.add_file(path)
            print(f"indexed {doc.uri} ({doc.title!r}, {doc.passages} passages)")
    elif args.action == "list":
        for doc in index.documents():
            print(f"{doc.source:12} {doc.passages:4} {doc.uri}  {doc.title}")
    elif args.action == "remove":
        missing = [uri for uri in args.uris if not index.remove(uri)]
        if missing:
            raise UserError(f"not in the index: {', '.join(missing)}")
    return 0
